// Proposed public declarations of `cycletls-native/echo` (to be copied to types/echo.d.ts; package.json
// "exports"["./echo"].types points at it). Hand-written and self-contained; test/echo/types.test.js checks
// that it compiles under strict mode, has no `any`, and is mutually assignable with the implementation in
// lib/echo.ts.

/// <reference types="node" />

/** A header field as [name, value], in the order and (HTTP/1.1) case it was received. */
export type HeaderField = [name: string, value: string];

export interface EchoServerOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Address to listen on. Default '127.0.0.1'. */
  host?: string;
  /** PEM private key; default: the built-in self-signed key (ECHO_KEY_PEM). */
  key?: string | Buffer;
  /**
   * PEM certificate (chain); default: the built-in self-signed certificate for localhost, 127.0.0.1, ::1,
   * fp.test.
   */
  cert?: string | Buffer;
  /** ALPN protocols the server accepts, in preference order. Default ['h2', 'http/1.1']. */
  alpn?: string[];
  /** Called with every record: each answered request, and each connection that closed without a request. */
  onRecord?: (record: EchoRecord) => void;
  /** Time a client gets to send its ClientHello and finish the handshake. Default 10000 ms. */
  handshakeTimeoutMs?: number;
  /** An established connection with no traffic for this long is closed. Default 120000 ms; 0 disables. */
  idleTimeoutMs?: number;
  /**
   * Also listen on UDP, same port number: an HTTP/3 endpoint (see `quicAnswer`) that answers every request
   * with
   * that very connection's QUIC and HTTP/3 fingerprint (EchoHttp3Response), and records each QUIC client's
   * first
   * flight (QUIC JA4, transport parameters, datagram layout) even when its handshake never completes, served
   * at
   * /quic and /quic/<dcid>. Default false.
   */
  quic?: boolean;
  /**
   * With `quic`: answer over UDP (HTTP/3; default true, needs the addon). false: the UDP side only reads
   * first
   * flights and never answers (a silent peer).
   */
  quicAnswer?: boolean;
  /**
   * The QPACK dynamic table the HTTP/3 side allows clients (SETTINGS_QPACK_MAX_TABLE_CAPACITY). Default
   * 4096, so
   * a client's QPACK encoder shows; 0 behaves like caddy (literals only).
   */
  quicQpackMaxTableCapacity?: number;
  /** QUIC connections the HTTP/3 side keeps at once (more Initials are dropped). Default 64. */
  quicMaxConnections?: number;
  /** Called with each HTTP/3 answer. */
  onHttp3?: (response: EchoHttp3Response) => void;
  /** QUIC views kept (the oldest is dropped first). Default 128. */
  quicMaxViews?: number;
  /** A QUIC view is dropped this long after its first datagram. Default 300000 ms. */
  quicViewTtlMs?: number;
  /** Called with each QUIC view once its ClientHello is complete. */
  onQuicView?: (view: EchoQuicView) => void;
}

/**
 * What the echo answers over HTTP/3: the request, and that very connection's QUIC and HTTP/3 as the server
 * saw them.
 */
export interface EchoHttp3Response {
  time: string;
  ip: string;
  /** The server's number for the QUIC connection ("quic-3"). */
  connection: string;
  request_on_connection: number;
  http_version: 'HTTP/3';
  method: string;
  path: string;
  /** Regular header fields in wire order. */
  headers: [string, string][];
  /** The pseudo-header names in wire order. */
  pseudo_header_order: string[];
  user_agent: string | null;
  body_length: number;
  /** QUIC JA4 of this connection's first flight. */
  ja4: string | null;
  /** The connection's first flight (null when not decodable). */
  quic: EchoQuicView | null;
  /**
   * The connection's client HTTP/3 up to this request: SETTINGS, GREASE, PRIORITY_UPDATE, QPACK, requests.
   */
  http3: Http3View;
  /** This request as decoded from the connection's packets (null when it could not be found there). */
  http3_request: Http3Request | null;
  /** What the decoder could not read (empty for a clean connection). */
  quic_errors: QuicConnectionError[];
  /** The server's record of the connection hit its bound: later datagrams are missing from the view. */
  recording_truncated: boolean;
}

export interface EchoServer {
  readonly port: number;
  readonly host: string;
  /**
   * https URL of this server, e.g. url('/x') → 'https://127.0.0.1:PORT/x'; `hostname` replaces the host part.
   */
  url(path?: string, hostname?: string): string;
  /** The QUIC views kept, newest first (empty without `quic: true`). */
  quicViews(): EchoQuicView[];
  /** Stops listening, destroys every open connection, resolves when the listener is closed. */
  close(): Promise<void>;
}

export interface JaFingerprints {
  /** `version,ciphers,extensions,groups,point_formats` in decimal, GREASE removed, wire order. */
  ja3: string;
  ja3_hash: string;
  /** JA3 with the extensions sorted (stable for Chrome, which permutes its extension order). */
  ja3n: string;
  ja3n_hash: string;
  ja4: string;
  ja4_r: string;
  ja4_o: string;
  ja4_ro: string;
}

export interface AlpsInfo {
  /** 17513 (old code point) or 17613 (new). */
  codepoint: number;
  protocols: string[];
}

/** The outer encrypted_client_hello extension (RFC 9849 §5). An observer cannot tell GREASE from real ECH. */
export interface EchSummary {
  /** The whole extension_data: equals `ech_length`. */
  length: number;
  /** HPKE KDF (1 = HKDF-SHA256) and AEAD (1 = AES-128-GCM, 3 = ChaCha20-Poly1305). */
  kdf_id: number;
  aead_id: number;
  config_id: number;
  /** Length of the encapsulated key (32 for X25519). */
  enc_length: number;
  payload_length: number;
}

export interface PreSharedKeySummary {
  /** Per identity: the ticket's length and the obfuscated ticket age sent with it. */
  identities: { identity_length: number; obfuscated_ticket_age: number }[];
  binder_lengths: number[];
}

/** The parsed ClientHello, in the shape of the golden captures (names such as "x25519 (29)", "TLS 1.3"). */
export interface ClientHelloSummary {
  record_version: string | null;
  client_hello_version: string;
  supported_versions: string[];
  client_hello_length: number;
  client_hello_records: number;
  session_id_length: number;
  /** Wire order, GREASE included as "GREASE (0x....)". */
  ciphers: string[];
  extensions: string[];
  extension_ids: number[];
  extension_lengths: number[];
  small_unparsed_extension_data: Record<string, string>;
  curves: string[];
  /** "x25519 (29) len=32" per entry. */
  key_share: string[];
  ec_point_formats: number[];
  signature_algorithms: string[];
  /** ALPN protocols offered by the client. */
  alpn: string[];
  sni: string | null;
  psk_key_exchange_modes: number[];
  cert_compression: string[];
  alps: AlpsInfo | null;
  record_size_limit: number | null;
  delegated_credentials: string[];
  /** Length of the encrypted_client_hello (65037) extension data (real or GREASE ECH); null when absent. */
  ech_length: number | null;
  /** Its outer fields (HPKE suite, config id, enc and payload lengths); null when absent. */
  ech: EchSummary | null;
  /** The hello offers pre_shared_key (41): it tries to resume a session (or uses an external PSK). */
  resumption: boolean;
  /** The pre_shared_key offer; null when absent. */
  pre_shared_key: PreSharedKeySummary | null;
  /** early_data (42) is offered (0-RTT). */
  early_data: boolean;
  padding_length: number | null;
  trust_anchors_length: number | null;
  compression_methods: number[];
  parse_errors: string[];
}

export interface EchoTlsInfo extends JaFingerprints, ClientHelloSummary {
  /**
   * What the handshake settled on; `resumed`: this server accepted the offered session (see `resumption`).
   */
  negotiated: { protocol: string | null; cipher: string | null; alpn: string | null; resumed: boolean };
}

export interface H2Setting {
  id: number;
  name: string;
  value: number;
}

export interface H2Priority {
  exclusive: 0 | 1;
  depends_on: number;
  /** Wire value + 1 (1..256). */
  weight: number;
}

export interface H2PriorityFrame extends H2Priority {
  stream_id: number;
}

export interface H2Frame {
  frame_type: string;
  stream_id: number;
  length: number;
  flags: string[];
  settings?: H2Setting[];
  increment?: number;
  priority?: H2Priority;
  /** HEADERS: the decoded block as "name: value" lines. */
  headers?: string[];
}

export interface H2HeadersFrameInfo {
  stream_id: number;
  flags: string[];
  priority: H2Priority | null;
}

export interface H2WindowUpdate {
  stream_id: number;
  increment: number;
}

export interface EchoHttp2Info {
  /**
   * `SETTINGS|WINDOW_UPDATE|PRIORITY|PSEUDO_HEADER_ORDER`, e.g.
   * "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p".
   */
  akamai_fingerprint: string;
  akamai_fingerprint_hash: string;
  settings: H2Setting[];
  window_update: number | null;
  priority_frames: H2PriorityFrame[];
  /** The connection's first HEADERS frame. */
  headers_frame: H2HeadersFrameInfo | null;
  /** The HEADERS frame of this request. */
  request_headers_frame: H2HeadersFrameInfo | null;
  pseudo_header_order: string[];
  stream_window_updates: H2WindowUpdate[];
  /** This request's stream. */
  stream_id: number | null;
  sent_frames: H2Frame[];
  observer_error: string | null;
  node_raw_headers_agree: boolean | null;
}

/** The JSON body of every answer. */
export interface EchoResponse {
  time: string;
  ip: string;
  connection: number;
  request_on_connection: number;
  http_version: 'HTTP/2' | 'HTTP/1.1';
  method: string;
  path: string;
  ja3: string;
  ja3_hash: string;
  ja4: string;
  tls_version: string | null;
  ciphers: string[];
  extensions: string[];
  curves: string[];
  alpn: string[];
  sni: string | null;
  tls: EchoTlsInfo;
  headers: HeaderField[];
  user_agent: string | null;
  body_length: number;
  http2?: EchoHttp2Info;
  http1?: { headers: string[] };
  client_hello_hex: string;
}

export interface EchoConnectionRecord {
  time: string;
  type: 'connection_without_request';
  connection: number;
  ip: string;
  ja3_hash: string;
  ja4: string;
  tls: EchoTlsInfo;
  client_hello_hex: string;
}

export type EchoRecord = EchoResponse | EchoConnectionRecord;

/** Stable codes of what the QUIC view could not decode (each is an entry in `errors`, never a throw). */
export type QuicDecodeErrorCode =
  /** The datagram or packet ends before its header or its Length says. */
  | 'ERR_QUIC_TRUNCATED'
  /** A header field is impossible (fixed bit 0, connection ID longer than 20, reserved bits set). */
  | 'ERR_QUIC_MALFORMED'
  /** A version other than QUIC v1: its Initial keys are not derived. */
  | 'ERR_QUIC_UNSUPPORTED_VERSION'
  /** An Initial does not authenticate with the keys of the connection's first DCID. */
  | 'ERR_QUIC_DECRYPT'
  /** A frame that cannot be read or is not allowed in an Initial packet. */
  | 'ERR_QUIC_FRAME'
  /** More frames (2048), CRYPTO fragments (512) or first-flight datagrams (16) than the view keeps. */
  | 'ERR_QUIC_TOO_MANY'
  /** A CRYPTO frame beyond the largest ClientHello read (64 KiB). */
  | 'ERR_QUIC_CRYPTO_RANGE'
  /** Two CRYPTO frames disagree on the bytes at the same offset. */
  | 'ERR_QUIC_CRYPTO_CONFLICT'
  /** The reassembled CRYPTO stream is not a well-formed ClientHello. */
  | 'ERR_QUIC_CLIENT_HELLO'
  /** quic_transport_parameters is missing or does not decode. */
  | 'ERR_QUIC_TRANSPORT_PARAMETERS';

export interface QuicDecodeError {
  code: QuicDecodeErrorCode;
  message: string;
}

export interface QuicVersionEntry {
  /** `0x…`, 8 hex digits. */
  version: string;
  /** A reserved 0x?a?a?a?a version. */
  grease: boolean;
}

/** One quic_transport_parameters entry, in wire order. */
export interface QuicTransportParameter {
  /** The id as `0x…` hex, e.g. "0x1" or "0x1aad101465b756e3". */
  id: string;
  /** Bytes the id's varint took (1, 2, 4 or 8). */
  id_varint_length: number;
  /** Registered name; 'GREASE' for a reserved 31·N+27 id; 'unknown' otherwise. */
  name: string;
  /** A reserved 31·N+27 id without a registered meaning (0xff02de1a, min_ack_delay, is both). */
  grease: boolean;
  /** Length of the value field. */
  length: number;
  value_hex: string;
  /** Integer parameters: the value (a decimal string when above 2^53); else null. */
  value: number | string | null;
  /** Integer parameters: bytes its varint took; else null. */
  value_varint_length: number | null;
  /** version_information: the chosen version and the others, in wire order; else null. */
  versions: { chosen: QuicVersionEntry; others: QuicVersionEntry[] } | null;
  /** google_connection_options: the 4-character tags (e.g. "ORIG"); else null. */
  tags: string[] | null;
  /** Why the value does not decode as its kind says; null when it does. */
  error: string | null;
}

export type QuicPacketType = 'Initial' | '0-RTT' | 'Handshake' | 'Retry' | 'short' | 'unknown';

export interface QuicPacketInfo {
  type: QuicPacketType;
  /** Bytes this packet takes in the datagram. */
  length: number;
  version: string | null;
  dcid_length: number | null;
  scid_length: number | null;
  /** Initial only: the token's length. */
  token_length: number | null;
  /** Initial, decrypted: the full packet number and how many bytes encoded it. */
  packet_number: number | null;
  packet_number_length: number | null;
  payload_length: number | null;
  decrypted: boolean;
  /** The frames in order: "CRYPTO(off=46,len=1)", "PING", "PADDING(58)", "ACK(largest=0,…)". */
  frames: string[];
  /** Bytes of PADDING frames inside this packet. */
  padding_bytes: number;
}

export interface QuicDatagramInfo {
  /** UDP payload length. */
  size: number;
  packets: QuicPacketInfo[];
  /** Bytes after the last packet (Firefox fills its datagrams with zeros after the Initial). */
  trailing_bytes: number;
  trailing_all_zero: boolean;
}

export interface QuicCryptoFragment {
  packet_number: number;
  offset: number;
  length: number;
}

/** JA3/JA3N/JA4 (`q…`) and the parsed ClientHello, as in the TCP record's `tls` field. */
export type QuicTlsInfo = JaFingerprints & ClientHelloSummary;

/** What a client's QUIC first flight looked like: one per connection, keyed by its first DCID. */
export interface EchoQuicView {
  /** When the first datagram arrived. */
  time: string;
  /** Client address and port, e.g. "127.0.0.1:54458". */
  client: string;
  /** "0x00000001" for QUIC v1. */
  version: string;
  /** The client's first Destination Connection ID (hex): it keys the view and the Initial keys. */
  dcid: string;
  dcid_length: number;
  scid: string;
  scid_length: number;
  token_length: number;
  /** Packet number of the first Initial. */
  first_packet_number: number | null;
  /** The datagrams up to the one that completed the ClientHello (at most 16). */
  datagrams: QuicDatagramInfo[];
  datagram_sizes: number[];
  /** PADDING frames inside the packets, zero bytes after them, both, or none. */
  padding: 'frames' | 'trailing_zeros' | 'frames_and_trailing_zeros' | 'none';
  padding_frame_bytes: number;
  trailing_zero_bytes: number;
  ping_count: number;
  /** The CRYPTO frames in arrival order. */
  crypto_fragments: QuicCryptoFragment[];
  /** The ClientHello was fully reassembled. */
  complete: boolean;
  client_hello_length: number | null;
  /** The reassembled ClientHello handshake message (hex); null until complete. */
  client_hello_hex: string | null;
  /** QUIC JA4, e.g. "q13d0312h3_55b375c5d22e_178839b6cec1"; null until complete. */
  ja4: string | null;
  ja3n_hash: string | null;
  tls: QuicTlsInfo | null;
  /** quic_transport_parameters in wire order. */
  transport_parameters: QuicTransportParameter[];
  /** Their ids in wire order, e.g. ["0x1", "0x4", …]. */
  transport_parameter_order: string[];
  /** Datagrams for this DCID after the ClientHello was complete, counted only. */
  later_datagrams: number;
  errors: QuicDecodeError[];
}

// ---- a whole QUIC connection, decrypted offline with its key log (the HTTP/3 view) ----

export type QuicConnectionErrorCode =
  | QuicDecodeErrorCode
  /** The key log has no secret for this connection (its ClientHello random) and packet space. */
  | 'ERR_QUIC_KEYS'
  /** STREAM data beyond the bounds, or sent twice with different bytes. */
  | 'ERR_QUIC_STREAM'
  /** An HTTP/3 frame or stream type that cannot be read. */
  | 'ERR_H3_FRAME'
  /** A QPACK instruction or field section that cannot be decoded (bad index, Huffman, insert count). */
  | 'ERR_QPACK'
  /** A capture file that is not a readable pcapng. */
  | 'ERR_PCAPNG';

export interface QuicConnectionError {
  code: QuicConnectionErrorCode;
  message: string;
}

export type QuicEndpoint = 'client' | 'server';

/** One UDP payload of the connection, as captured, and who sent it. */
export interface QuicCapturedDatagram {
  from: QuicEndpoint;
  data: Uint8Array;
}

export type QuicConnectionPacketType =
  'Initial' | '0-RTT' | 'Handshake' | '1-RTT' | 'Retry' | 'VersionNegotiation' | 'unknown';

/** One frame of a decrypted packet. */
export interface QuicFrameInfo {
  /**
   * `STREAM`, `CRYPTO`, `ACK`, `ACK_ECN`, `PADDING`, `PING`, `NEW_CONNECTION_ID`, … (an unknown type ends the
   * packet's frame list with an ERR_QUIC_FRAME error).
   */
  type: string;
  /** As the ground truth's tooling writes it: `STREAM(id=0,off=0,len=431,FIN)`, `ACK(largest=0,…)`. */
  text: string;
  /** STREAM, RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA, STREAM_DATA_BLOCKED: the stream; else null. */
  stream_id: number | null;
  /** STREAM and CRYPTO: where the data goes; else null. */
  offset: number | null;
  /** STREAM, CRYPTO, NEW_TOKEN, DATAGRAM, PADDING: bytes; else null. */
  length: number | null;
  fin: boolean;
}

/** Where something was first sent: the packet's index in `packets`, its datagram, space and number. */
export interface QuicPacketRef {
  index: number;
  datagram: number;
  type: QuicConnectionPacketType;
  packet_number: number | null;
}

export interface QuicConnectionPacket {
  index: number;
  /** Index of the datagram in the connection (both directions, capture order). */
  datagram: number;
  from: QuicEndpoint;
  type: QuicConnectionPacketType;
  /** Bytes this packet takes in the datagram. */
  length: number;
  dcid: string;
  /** Long headers: the SCID; short headers: null. */
  scid: string | null;
  /** Initial: the token's length; else null. */
  token_length: number | null;
  packet_number: number | null;
  packet_number_length: number | null;
  /** 1-RTT: the key phase bit. */
  key_phase: number | null;
  decrypted: boolean;
  frames: QuicFrameInfo[];
}

export interface QuicStreamSegment {
  offset: number;
  length: number;
  /** Index in `packets` of the packet that carried it. */
  packet: number;
}

/** One direction of a stream: the bytes one side sent on it. */
export interface QuicStreamInfo {
  stream_id: number;
  /** Who sent these bytes (a bidirectional stream has one entry per side). */
  sender: QuicEndpoint;
  /** Who opened it (stream id bit 0). */
  initiator: QuicEndpoint;
  direction: 'bidi' | 'uni';
  /** Bytes from offset 0 to the first gap. */
  bytes: number;
  /** The final size once a FIN arrived. */
  fin_offset: number | null;
  /** Every byte up to the FIN arrived. */
  complete: boolean;
  first_packet: QuicPacketRef;
  /** The STREAM frames in arrival order (at most 4096). */
  segments: QuicStreamSegment[];
}

export interface Http3Setting {
  /** `0x…`, e.g. "0x1" or a GREASE "0x16aa80ed40". */
  id: string;
  id_varint_length: number;
  /** `SETTINGS_QPACK_MAX_TABLE_CAPACITY`, …; 'GREASE' for 0x1f·N+0x21; 'unknown' otherwise. */
  name: string;
  /** A decimal string above 2^53. */
  value: number | string;
  value_varint_length: number;
  grease: boolean;
}

export interface Http3Frame {
  /** `0x…`. */
  type: string;
  type_varint_length: number;
  /** `SETTINGS`, `HEADERS`, `DATA`, `GOAWAY`, `PRIORITY_UPDATE_REQUEST`, `GREASE`, … or 'unknown'. */
  name: string;
  grease: boolean;
  length: number;
  /** Where the frame starts in its stream. */
  offset: number;
  /** The packet that first carried the frame's first byte. */
  packet: QuicPacketRef | null;
  /** GREASE and unknown frames: the payload (hex, at most 64 bytes shown); else null. */
  payload_hex: string | null;
  /** SETTINGS: every setting in wire order; else null. */
  settings: Http3Setting[] | null;
  /** PRIORITY_UPDATE: the prioritized element (stream or push id) and the Priority Field Value. */
  priority_update: { element_id: number; field_value: string } | null;
}

export type Http3UniStreamKind =
  'control' | 'push' | 'qpack_encoder' | 'qpack_decoder' | 'grease' | 'unknown';

export interface Http3UniStream {
  stream_id: number;
  /** The stream type as `0x…` (null when not a single byte of the stream arrived). */
  type: string | null;
  type_varint_length: number | null;
  kind: Http3UniStreamKind;
  first_packet: QuicPacketRef;
  bytes: number;
  fin: boolean;
}

export type QpackEncoderInstruction =
  | { op: 'set_dynamic_table_capacity'; capacity: number }
  | {
      op: 'insert_with_name_reference';
      /** The name comes from the static table (else from the dynamic table, relative index). */
      static: boolean;
      index: number;
      name: string;
      value: string;
      value_huffman: boolean;
    }
  | {
      op: 'insert_with_literal_name';
      name: string;
      value: string;
      name_huffman: boolean;
      value_huffman: boolean;
    }
  | { op: 'duplicate'; index: number; name: string; value: string };

export type QpackDecoderInstruction =
  | { op: 'section_acknowledgment'; stream_id: number }
  | { op: 'stream_cancellation'; stream_id: number }
  | { op: 'insert_count_increment'; increment: number };

/** RFC 9204 §4.5.2–4.5.6: how a field line was encoded. */
export type QpackRepresentation =
  | 'indexed_static'
  | 'indexed_dynamic'
  | 'indexed_post_base'
  | 'literal_static_name_ref'
  | 'literal_dynamic_name_ref'
  | 'literal_post_base_name_ref'
  | 'literal_literal_name';

export interface QpackFieldLine {
  name: string;
  value: string;
  rep: QpackRepresentation;
  /** The index on the wire (static, relative or post-base); null for a literal name. */
  index: number | null;
  /** Dynamic and post-base references: the entry's absolute index; else null. */
  absolute_index: number | null;
  /** Literals: the N (never-indexed) bit; false for indexed lines. */
  never_index: boolean;
  /** Literal names: Huffman-coded or not; else null. */
  name_huffman: boolean | null;
  /** Literal values: Huffman-coded or not; else null. */
  value_huffman: boolean | null;
}

export interface Http3Request {
  stream_id: number;
  first_packet: QuicPacketRef;
  /** The request stream ended (FIN) and every byte arrived. */
  complete: boolean;
  frames: Http3Frame[];
  /** The first HEADERS frame's field section; null when it did not decode. */
  required_insert_count: number | null;
  base: number | null;
  field_lines: QpackFieldLine[];
  headers: HeaderField[];
  /** The pseudo-header names in order, e.g. [":method", ":authority", ":scheme", ":path"]. */
  pseudo_header_order: string[];
}

export interface Http3View {
  /** The client's stream ids in the order their first bytes were sent (e.g. [2, 6, 10, 0]). */
  stream_order: number[];
  /** The client's unidirectional streams in that order. */
  uni_streams: Http3UniStream[];
  control_stream: number | null;
  /** The client's control-stream frames in order. */
  control_frames: Http3Frame[];
  /** Its SETTINGS (the first frame); null when there was none. */
  settings: Http3Setting[] | null;
  qpack_encoder_stream: number | null;
  qpack_encoder_instructions: QpackEncoderInstruction[];
  qpack_decoder_stream: number | null;
  qpack_decoder_instructions: QpackDecoderInstruction[];
  /** The client's request streams in order of appearance. */
  requests: Http3Request[];
  /** The server's SETTINGS; null when its control stream was not read. */
  server_settings: Http3Setting[] | null;
}

/** A whole QUIC connection as both sides sent it, decrypted with the key log. */
export interface QuicConnectionView {
  /** `0x00000001` for QUIC v1. */
  version: string;
  /** The client's first Destination Connection ID (hex): it keys the Initial secrets. */
  initial_dcid: string;
  client_scid: string;
  /** The server's connection ID from its first long header; null when the server said nothing. */
  server_scid: string | null;
  retry: boolean;
  /** The ClientHello random (hex) that keys the key log; null when the hello is not complete. */
  client_random: string | null;
  /** The suite of the ServerHello; null when the server's Initial was not read. */
  cipher_suite: string | null;
  /** Which secrets the key log held for this connection. */
  keys: { early: boolean; handshake: boolean; application: boolean };
  datagram_counts: { client: number; server: number };
  /** The client's first flight under the Initial view (the same decoder as the echo server's GET /quic). */
  first_flight: EchoQuicView | null;
  /** Every packet of both directions in capture order (at most 20000). */
  packets: QuicConnectionPacket[];
  /** Every stream with data, both directions, by first appearance. */
  streams: QuicStreamInfo[];
  /** The client's HTTP/3: stream types, control frames, QPACK, request headers; the server's SETTINGS. */
  http3: Http3View;
  errors: QuicConnectionError[];
}

export interface CapturedUdpDatagram {
  /** Capture time in seconds since the epoch (the interface's timestamp resolution applied). */
  time: number;
  /** `address:port` (IPv6 addresses in brackets). */
  source: string;
  destination: string;
  data: Buffer;
}

export interface PcapngUdpResult {
  datagrams: CapturedUdpDatagram[];
  errors: QuicConnectionError[];
}

/** A QUIC connection found in a capture: the client, the server and both directions' datagrams in order. */
export interface QuicCapturedConnection {
  client: string;
  server: string;
  /** The client's first Destination Connection ID (hex). */
  initial_dcid: string;
  datagrams: QuicCapturedDatagram[];
}

/**
 * Decodes one whole QUIC connection offline: the datagrams of both directions in capture order and the NSS
 * key log (SSLKEYLOGFILE text) of its TLS secrets. Every packet is decrypted (Initial, 0-RTT, Handshake,
 * 1-RTT; AES-128/256-GCM and ChaCha20-Poly1305), its frames listed, the streams reassembled, the client's
 * HTTP/3 decoded (control stream, QPACK, request headers). Never throws on the bytes: problems are in
 * `errors`.
 */
export declare function decodeQuicConnection(
  datagrams: readonly QuicCapturedDatagram[],
  keyLog: string,
): QuicConnectionView;

/** Reads every UDP datagram of a pcapng capture (IPv4/IPv6; Ethernet, cooked, loopback or raw links). */
export declare function readPcapngUdp(bytes: Uint8Array): PcapngUdpResult;

/** Splits a capture's UDP datagrams into QUIC connections (by 4-tuple and the client's Initial DCIDs). */
export declare function splitQuicConnections(
  datagrams: readonly CapturedUdpDatagram[],
): QuicCapturedConnection[];

/** Starts a local HTTPS fingerprint echo server (h2 + http/1.1; with `quic: true` also the QUIC view). */
export declare function startEchoServer(options?: EchoServerOptions): Promise<EchoServer>;

/** The built-in self-signed certificate (PEM); pass it as `ca` to verify the server. */
export declare const ECHO_CERT_PEM: string;
/** Its private key (public knowledge: for local tests only). */
export declare const ECHO_KEY_PEM: string;

/** What the ECH echo server does with the ECHConfigList it gives (`echConfigList`). */
export type EchServerMode = 'accept' | 'retry' | 'disable' | 'rotate';

/** The ECH echo server's JSON answer: what it saw of the client's Encrypted ClientHello. */
export interface EchEchoAnswer {
  method: string;
  path: string;
  /** offered: the outer hello carried encrypted_client_hello (real or GREASE); accepted: decrypted. */
  ech: { offered: boolean; accepted: boolean };
  /** SNI of the hello on the wire: the config's public_name under real ECH. */
  outerSni: string;
  /** SNI of the decrypted inner hello (null unless ECH was accepted). */
  innerSni: string | null;
  /** The handshake messages, hex. */
  outerHello: string;
  innerHello: string | null;
}

export interface EchEchoServer {
  port: number;
  /** `https://localhost:<port><path>`. */
  url(path?: string): string;
  /** The ECHConfigList a client should offer, base64 (the `echConfigList` request option). */
  echConfigList: string;
  /** HTTP/3 answers on the same port number over UDP (started with `quic: true`). */
  quic: boolean;
  close(): Promise<void>;
}

/**
 * Starts the ECH echo (TLS over TCP holding ECH keys, BoringSSL's server side) on 127.0.0.1. `cert`/`key`:
 * PEM files valid for the names asked for and for `publicName` (default ech-public.test). 'accept' holds
 * the key of `echConfigList`; 'retry' holds another and rejects with it as retry configs; 'disable' holds
 * none and rejects without retry configs; 'rotate' holds a new key for each connection, so a client's retry
 * is rejected again.
 */
export declare function startEchEchoServer(options: {
  mode: EchServerMode;
  cert: string;
  key: string;
  publicName?: string;
  port?: number;
  /** HTTP/3 too: the same port number over UDP, the same keys, the same JSON answers. Default false. */
  quic?: boolean;
}): EchEchoServer;

/** The inner ClientHello of an accepted ECH answer, parsed: its JA4 and extension ids (null if none). */
export declare function echInnerHello(answer: EchEchoAnswer): { ja4: string; extensions: number[] } | null;
