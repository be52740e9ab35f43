// Part of the fingerprint echo server (lib/echo.ts): it parses what a client sent; the client never imports
// it. TLS ClientHello parser (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2), from raw bytes as they came off the wire:
// one or more TLS records of content type 22 (handshake), or a bare handshake message. It knows nothing of
// sockets.
import {
  certCompressionName,
  cipherName,
  extensionName,
  groupName,
  isGrease,
  signatureAlgorithmName,
  versionName,
} from './names';

export { isGrease } from './names';

const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
/**
 * A TLSPlaintext fragment is at most 2^14 bytes; allow the TLSCompressed/Ciphertext slack that some stacks
 * accept.
 */
const MAX_RECORD_PAYLOAD = 16384 + 2048;
/** The largest ClientHello we read (real ones are a few KiB, even with post-quantum key shares). */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

export type ClientHelloErrorCode = 'ERR_NOT_TLS' | 'ERR_INCOMPLETE' | 'ERR_MALFORMED' | 'ERR_TOO_LARGE';

export class ClientHelloError extends Error {
  readonly code: ClientHelloErrorCode;
  constructor(code: ClientHelloErrorCode, message: string) {
    super(message);
    this.name = 'ClientHelloError';
    this.code = code;
  }
}

export interface CipherSuite {
  id: number;
  name: string;
  grease: boolean;
}

export interface TlsExtension {
  id: number;
  name: string;
  grease: boolean;
  /** Length of the extension_data field. */
  length: number;
  /** The extension_data field as sent. */
  data: Buffer;
}

export interface KeyShareEntry {
  group: number;
  name: string;
  grease: boolean;
  /** Length of key_exchange. */
  length: number;
}

export interface AlpsInfo {
  /** 17513 (old code point) or 17613 (new). */
  codepoint: number;
  protocols: string[];
}

/** The outer encrypted_client_hello (RFC 9849 §5): real or GREASE, which an observer cannot tell apart. */
export interface EchOuterInfo {
  /** ECHClientHelloType: 0 outer, 1 inner. */
  type: number;
  kdfId: number;
  aeadId: number;
  configId: number;
  /** Length of `enc` (32 for X25519). */
  encLength: number;
  /** Length of the (encrypted or GREASE) payload. */
  payloadLength: number;
}

/** The pre_shared_key offer (RFC 8446 §4.2.11): a resumption when the identity is a session ticket. */
export interface PreSharedKeyInfo {
  identities: { length: number; obfuscatedTicketAge: number }[];
  binderLengths: number[];
}

export interface ClientHello {
  /** The bytes the hello was parsed from, trimmed to the records (or message) that carry it. */
  raw: Buffer;
  /** Record-layer version of the first record; null when parsed from a bare handshake message. */
  recordVersion: number | null;
  /** Number of TLS records the ClientHello spans (0 for a bare handshake message). */
  recordCount: number;
  /**
   * Handshake message length including its 4-byte header (what a packet capture calls the ClientHello
   * length).
   */
  length: number;
  legacyVersion: number;
  random: Buffer;
  sessionId: Buffer;
  ciphers: CipherSuite[];
  compressionMethods: number[];
  /** In wire order, GREASE included (flagged). */
  extensions: TlsExtension[];
  sni: string | null;
  alpn: string[];
  supportedVersions: number[];
  groups: number[];
  keyShares: KeyShareEntry[];
  pointFormats: number[];
  signatureAlgorithms: number[];
  signatureAlgorithmsCert: number[];
  certCompression: number[];
  alps: AlpsInfo | null;
  recordSizeLimit: number | null;
  delegatedCredentials: number[];
  /** Length of the encrypted_client_hello (65037) extension data, null when absent. */
  echLength: number | null;
  /** Its fields when it is the outer form; null when absent (or the inner form). */
  ech: EchOuterInfo | null;
  /** pre_shared_key (41), null when absent: its presence makes the hello a resumption attempt. */
  preSharedKey: PreSharedKeyInfo | null;
  /** early_data (42) is offered. */
  earlyData: boolean;
  /** Length of the padding (21) extension data, null when absent. */
  paddingLength: number | null;
  pskModes: number[];
  /** Length of the 0xca34 (trust anchors) extension data, null when absent. */
  trustAnchorsLength: number | null;
  /** Length of the session_ticket (35) extension data, null when absent. */
  sessionTicketLength: number | null;
  /** Problems found inside extension bodies; the rest of the hello is still valid. */
  parseErrors: string[];
}

/** Result of looking at the first bytes of a connection: is the whole ClientHello there yet? */
export type ClientHelloScan =
  | { status: 'incomplete' }
  | {
      status: 'complete';
      /** bytes of the records that carry the ClientHello */ length: number;
      records: number;
    }
  | { status: 'invalid'; code: ClientHelloErrorCode; reason: string };

/**
 * Looks at the bytes read so far from a connection and says whether they hold a complete ClientHello
 * (possibly spread over several records), how many bytes those records take, or that this is not a TLS
 * ClientHello.
 */
export function scanClientHello(buf: Uint8Array, maxBytes = MAX_CLIENT_HELLO_BYTES): ClientHelloScan {
  let offset = 0;
  let collected = 0;
  let needed = -1;
  let records = 0;
  const head: number[] = [];
  while (offset + RECORD_HEADER <= buf.length) {
    const type = buf[offset];
    const major = buf[offset + 1];
    const recLen = (buf[offset + 3] << 8) | buf[offset + 4];
    if (type !== CONTENT_HANDSHAKE) {
      return records === 0
        ? {
            status: 'invalid',
            code: 'ERR_NOT_TLS',
            reason: `first byte 0x${hex2(type)} is not a TLS handshake record`,
          }
        : {
            status: 'invalid',
            code: 'ERR_MALFORMED',
            reason: `record ${records + 1} has content type ${type} inside the ClientHello`,
          };
    }
    if (major !== 3) {
      return {
        status: 'invalid',
        code: 'ERR_NOT_TLS',
        reason: `record version 0x${hex2(major)}${hex2(buf[offset + 2])} is not TLS`,
      };
    }
    if (recLen === 0 || recLen > MAX_RECORD_PAYLOAD) {
      return { status: 'invalid', code: 'ERR_MALFORMED', reason: `record length ${recLen}` };
    }
    if (offset + RECORD_HEADER + recLen > buf.length) break;
    const payloadStart = offset + RECORD_HEADER;
    for (let i = 0; i < recLen && head.length < HANDSHAKE_HEADER; i++) head.push(buf[payloadStart + i]);
    collected += recLen;
    offset += RECORD_HEADER + recLen;
    records++;
    if (needed < 0 && head.length === HANDSHAKE_HEADER) {
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) {
        return {
          status: 'invalid',
          code: 'ERR_NOT_TLS',
          reason: `handshake type ${head[0]} is not ClientHello`,
        };
      }
      needed = HANDSHAKE_HEADER + ((head[1] << 16) | (head[2] << 8) | head[3]);
      if (needed > maxBytes) {
        return { status: 'invalid', code: 'ERR_TOO_LARGE', reason: `ClientHello of ${needed} bytes` };
      }
    }
    if (needed >= 0 && collected >= needed) return { status: 'complete', length: offset, records };
  }
  if (offset > maxBytes || buf.length > maxBytes + RECORD_HEADER * 8) {
    return {
      status: 'invalid',
      code: 'ERR_TOO_LARGE',
      reason: `more than ${maxBytes} bytes without a complete ClientHello`,
    };
  }
  // A partial header can still be judged: reject non-TLS early so a plain-HTTP client gets an answer quickly.
  if (offset < buf.length && buf[offset] !== CONTENT_HANDSHAKE) {
    return {
      status: 'invalid',
      code: records === 0 ? 'ERR_NOT_TLS' : 'ERR_MALFORMED',
      reason: `byte 0x${hex2(buf[offset])} does not start a handshake record`,
    };
  }
  return { status: 'incomplete' };
}

/**
 * Parses a ClientHello from record bytes (one or more TLS records, as read from the socket) or from a bare
 * handshake message (starting with the handshake type 0x01). Throws ClientHelloError when the bytes are not a
 * complete, well-formed ClientHello; malformed extension bodies are reported in `parseErrors` instead.
 */
export function parseClientHello(input: Uint8Array): ClientHello {
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length === 0) throw new ClientHelloError('ERR_INCOMPLETE', 'no bytes');
  let message: Buffer;
  let raw: Buffer;
  let recordVersion: number | null = null;
  let recordCount = 0;
  if (bytes[0] === HANDSHAKE_CLIENT_HELLO) {
    if (bytes.length < HANDSHAKE_HEADER)
      throw new ClientHelloError('ERR_INCOMPLETE', 'truncated handshake header');
    const len = HANDSHAKE_HEADER + bytes.readUIntBE(1, 3);
    if (bytes.length < len)
      throw new ClientHelloError(
        'ERR_INCOMPLETE',
        `handshake message needs ${len} bytes, have ${bytes.length}`,
      );
    message = bytes.subarray(0, len);
    raw = message;
  } else {
    const scan = scanClientHello(bytes);
    if (scan.status === 'invalid') throw new ClientHelloError(scan.code, scan.reason);
    if (scan.status === 'incomplete')
      throw new ClientHelloError('ERR_INCOMPLETE', 'the ClientHello is not complete');
    raw = bytes.subarray(0, scan.length);
    recordVersion = bytes.readUInt16BE(1);
    recordCount = scan.records;
    const parts: Buffer[] = [];
    for (let off = 0; off < scan.length;) {
      const recLen = bytes.readUInt16BE(off + 3);
      parts.push(bytes.subarray(off + RECORD_HEADER, off + RECORD_HEADER + recLen));
      off += RECORD_HEADER + recLen;
    }
    const joined = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    message = joined.subarray(0, HANDSHAKE_HEADER + joined.readUIntBE(1, 3));
  }
  return parseMessage(message, raw, recordVersion, recordCount);
}

/** Bounds-checked big-endian reader over one vector; every overrun is a ClientHelloError. */
class Reader {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new ClientHelloError(
        'ERR_MALFORMED',
        `${this.what}: needs ${n} more bytes at offset ${this.pos}, has ${this.remaining}`,
      );
    }
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = this.buf.readUIntBE(this.pos, 3);
    this.pos += 3;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** A vector with a 1-, 2- or 3-byte length prefix, as a sub-reader. */
  vector(lenBytes: 1 | 2 | 3, what: string): Reader {
    const n = lenBytes === 1 ? this.u8() : lenBytes === 2 ? this.u16() : this.u24();
    return new Reader(this.bytes(n), what);
  }
  /** Everything not read yet. */
  rest(): Buffer {
    return this.bytes(this.remaining);
  }
  u16List(): number[] {
    if (this.remaining % 2 !== 0)
      throw new ClientHelloError('ERR_MALFORMED', `${this.what}: odd length ${this.remaining}`);
    const out: number[] = [];
    while (this.remaining > 0) out.push(this.u16());
    return out;
  }
  u8List(): number[] {
    const out: number[] = [];
    while (this.remaining > 0) out.push(this.u8());
    return out;
  }
  end(): void {
    if (this.remaining !== 0)
      throw new ClientHelloError('ERR_MALFORMED', `${this.what}: ${this.remaining} trailing bytes`);
  }
}

function parseMessage(
  message: Buffer,
  raw: Buffer,
  recordVersion: number | null,
  recordCount: number,
): ClientHello {
  const top = new Reader(message, 'handshake');
  const type = top.u8();
  if (type !== HANDSHAKE_CLIENT_HELLO)
    throw new ClientHelloError('ERR_NOT_TLS', `handshake type ${type} is not ClientHello`);
  const body = new Reader(top.bytes(top.u24()), 'ClientHello');
  const legacyVersion = body.u16();
  const random = body.bytes(32);
  const sessionId = body.vector(1, 'session_id').rest();
  const cipherIds = body.vector(2, 'cipher_suites').u16List();
  const compressionMethods = body.vector(1, 'compression_methods').u8List();
  const extensions: TlsExtension[] = [];
  if (body.remaining > 0) {
    const extReader = body.vector(2, 'extensions');
    while (extReader.remaining > 0) {
      const id = extReader.u16();
      const data = extReader.vector(2, `extension ${id}`).rest();
      extensions.push({
        id,
        name: extensionName(id),
        grease: isGrease(id),
        length: data.length,
        data: Buffer.from(data),
      });
    }
  }
  body.end();
  const hello: ClientHello = {
    raw: Buffer.from(raw),
    recordVersion,
    recordCount,
    length: message.length,
    legacyVersion,
    random: Buffer.from(random),
    sessionId: Buffer.from(sessionId),
    ciphers: cipherIds.map((id) => ({ id, name: cipherName(id), grease: isGrease(id) })),
    compressionMethods,
    extensions,
    sni: null,
    alpn: [],
    supportedVersions: [],
    groups: [],
    keyShares: [],
    pointFormats: [],
    signatureAlgorithms: [],
    signatureAlgorithmsCert: [],
    certCompression: [],
    alps: null,
    recordSizeLimit: null,
    delegatedCredentials: [],
    echLength: null,
    ech: null,
    preSharedKey: null,
    earlyData: false,
    paddingLength: null,
    pskModes: [],
    trustAnchorsLength: null,
    sessionTicketLength: null,
    parseErrors: [],
  };
  for (const ext of extensions) {
    try {
      readExtension(hello, ext);
    } catch (err) {
      if (!(err instanceof ClientHelloError)) throw err;
      hello.parseErrors.push(`${ext.name}: ${err.message}`);
    }
  }
  return hello;
}

function readExtension(hello: ClientHello, ext: TlsExtension): void {
  const r = new Reader(ext.data, ext.name);
  switch (ext.id) {
    case 0: {
      // server_name: ServerNameList
      const list = r.vector(2, 'server_name_list');
      r.end();
      while (list.remaining > 0) {
        const nameType = list.u8();
        const name = list.vector(2, 'host_name').rest();
        if (nameType === 0 && hello.sni === null) hello.sni = name.toString('latin1');
      }
      if (hello.sni === null) hello.sni = '';
      break;
    }
    case 16: // ALPN: ProtocolNameList
      hello.alpn = readProtocolList(r);
      break;
    case 17513:
    case 17613: // ALPS: ProtocolNameList of the protocols with application settings
      if (hello.alps === null) hello.alps = { codepoint: ext.id, protocols: readProtocolList(r) };
      break;
    case 43: {
      // supported_versions (ClientHello form)
      hello.supportedVersions = r.vector(1, 'versions').u16List();
      r.end();
      break;
    }
    case 10:
      hello.groups = r.vector(2, 'named_group_list').u16List();
      r.end();
      break;
    case 11:
      hello.pointFormats = r.vector(1, 'ec_point_format_list').u8List();
      r.end();
      break;
    case 13:
      hello.signatureAlgorithms = r.vector(2, 'supported_signature_algorithms').u16List();
      r.end();
      break;
    case 50:
      hello.signatureAlgorithmsCert = r.vector(2, 'supported_signature_algorithms').u16List();
      r.end();
      break;
    case 51: {
      // key_share: KeyShareClientHello
      const list = r.vector(2, 'client_shares');
      r.end();
      while (list.remaining > 0) {
        const group = list.u16();
        const length = list.vector(2, 'key_exchange').remaining;
        hello.keyShares.push({ group, name: groupName(group), grease: isGrease(group), length });
      }
      break;
    }
    case 27: // compress_certificate: CertificateCompressionAlgorithm list (RFC 8879)
      hello.certCompression = r.vector(1, 'algorithms').u16List();
      r.end();
      break;
    case 28:
      hello.recordSizeLimit = r.u16();
      r.end();
      break;
    case 34: // delegated_credential: SignatureSchemeList (RFC 9345)
      hello.delegatedCredentials = r.vector(2, 'signature_algorithms').u16List();
      r.end();
      break;
    case 45:
      hello.pskModes = r.vector(1, 'ke_modes').u8List();
      r.end();
      break;
    case 21:
      hello.paddingLength = ext.length;
      break;
    case 35:
      hello.sessionTicketLength = ext.length;
      break;
    case 65037: {
      hello.echLength = ext.length;
      const type = r.u8();
      if (type !== 0) break; // the inner form carries nothing else
      const kdfId = r.u16();
      const aeadId = r.u16();
      const configId = r.u8();
      const encLength = r.vector(2, 'enc').remaining;
      const payloadLength = r.vector(2, 'payload').remaining;
      r.end();
      hello.ech = { type, kdfId, aeadId, configId, encLength, payloadLength };
      break;
    }
    case 41: {
      // pre_shared_key: OfferedPsks
      const identities = r.vector(2, 'identities');
      const binders = r.vector(2, 'binders');
      r.end();
      const psk: PreSharedKeyInfo = { identities: [], binderLengths: [] };
      while (identities.remaining > 0) {
        const length = identities.vector(2, 'identity').remaining;
        psk.identities.push({ length, obfuscatedTicketAge: identities.u32() });
      }
      while (binders.remaining > 0) psk.binderLengths.push(binders.vector(1, 'binder').remaining);
      hello.preSharedKey = psk;
      break;
    }
    case 42:
      hello.earlyData = true;
      break;
    case 51764:
      hello.trustAnchorsLength = ext.length;
      break;
    default:
      break;
  }
}

function readProtocolList(r: Reader): string[] {
  const list = r.vector(2, 'protocol_name_list');
  r.end();
  const out: string[] = [];
  while (list.remaining > 0) out.push(list.vector(1, 'protocol_name').rest().toString('latin1'));
  return out;
}

function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}

/** Extensions whose bodies are shown in parsed form, so `small_unparsed_extension_data` leaves them out. */
const SHOWN_PARSED = new Set([0, 10, 11, 13, 16, 43, 45, 51]);
const SMALL_EXTENSION = 64;

/** The ClientHello described the way the golden captures (and tls.peet.ws-like echo services) print it. */
export interface ClientHelloSummary {
  record_version: string | null;
  client_hello_version: string;
  supported_versions: string[];
  client_hello_length: number;
  client_hello_records: number;
  session_id_length: number;
  ciphers: string[];
  extensions: string[];
  extension_ids: number[];
  extension_lengths: number[];
  /** Hex of the bodies of short extensions not shown elsewhere in parsed form, keyed by decimal id. */
  small_unparsed_extension_data: Record<string, string>;
  curves: string[];
  key_share: string[];
  ec_point_formats: number[];
  signature_algorithms: string[];
  alpn: string[];
  sni: string | null;
  psk_key_exchange_modes: number[];
  cert_compression: string[];
  alps: AlpsInfo | null;
  record_size_limit: number | null;
  delegated_credentials: string[];
  ech_length: number | null;
  ech: EchSummary | null;
  resumption: boolean;
  pre_shared_key: {
    identities: { identity_length: number; obfuscated_ticket_age: number }[];
    binder_lengths: number[];
  } | null;
  early_data: boolean;
  padding_length: number | null;
  trust_anchors_length: number | null;
  compression_methods: number[];
  parse_errors: string[];
}

/** The outer encrypted_client_hello as the echo server reports it. */
export interface EchSummary {
  /** The whole extension_data (what `ech_length` says). */
  length: number;
  kdf_id: number;
  aead_id: number;
  config_id: number;
  enc_length: number;
  payload_length: number;
}

export function summarizeClientHello(hello: ClientHello): ClientHelloSummary {
  const small: Record<string, string> = {};
  for (const ext of hello.extensions) {
    if (!SHOWN_PARSED.has(ext.id) && ext.length <= SMALL_EXTENSION && !(String(ext.id) in small)) {
      small[String(ext.id)] = ext.data.toString('hex');
    }
  }
  return {
    record_version: hello.recordVersion === null ? null : versionName(hello.recordVersion),
    client_hello_version: versionName(hello.legacyVersion),
    supported_versions: hello.supportedVersions.map(versionName),
    client_hello_length: hello.length,
    client_hello_records: hello.recordCount,
    session_id_length: hello.sessionId.length,
    ciphers: hello.ciphers.map((c) => c.name),
    extensions: hello.extensions.map((e) => e.name),
    extension_ids: hello.extensions.map((e) => e.id),
    extension_lengths: hello.extensions.map((e) => e.length),
    small_unparsed_extension_data: small,
    curves: hello.groups.map(groupName),
    key_share: hello.keyShares.map((k) => `${k.name} len=${k.length}`),
    ec_point_formats: hello.pointFormats,
    signature_algorithms: hello.signatureAlgorithms.map(signatureAlgorithmName),
    alpn: hello.alpn,
    sni: hello.sni,
    psk_key_exchange_modes: hello.pskModes,
    cert_compression: hello.certCompression.map(certCompressionName),
    alps: hello.alps,
    record_size_limit: hello.recordSizeLimit,
    delegated_credentials: hello.delegatedCredentials.map(signatureAlgorithmName),
    ech_length: hello.echLength,
    ech:
      hello.ech === null || hello.echLength === null
        ? null
        : {
            length: hello.echLength,
            kdf_id: hello.ech.kdfId,
            aead_id: hello.ech.aeadId,
            config_id: hello.ech.configId,
            enc_length: hello.ech.encLength,
            payload_length: hello.ech.payloadLength,
          },
    resumption: hello.preSharedKey !== null,
    pre_shared_key:
      hello.preSharedKey === null
        ? null
        : {
            identities: hello.preSharedKey.identities.map((i) => ({
              identity_length: i.length,
              obfuscated_ticket_age: i.obfuscatedTicketAge,
            })),
            binder_lengths: hello.preSharedKey.binderLengths,
          },
    early_data: hello.earlyData,
    padding_length: hello.paddingLength,
    trust_anchors_length: hello.trustAnchorsLength,
    compression_methods: hello.compressionMethods,
    parse_errors: hello.parseErrors,
  };
}
