// Part of the fingerprint echo server (lib/echo.ts): it reads what a client sent; the client never imports
// it. A whole client QUIC connection, offline: the datagrams of both directions as captured plus the NSS key
// log of the connection's TLS secrets. Every packet is opened: Initial with the keys of the client's first
// DCID (RFC 9001 §5.2; again after a Retry), 0-RTT, Handshake and 1-RTT with the logged secrets (any TLS 1.3
// suite, 1-RTT key updates followed), header protection removed (§5.4), packet numbers recovered per space
// (RFC 9000 §A.3). Short headers take the DCID length the peer chose in its long headers. Every frame is
// listed per packet, CRYPTO and STREAM data reassembled in order per stream; the client's streams then go to
// the HTTP/3 view (lib/echo/h3.ts) and the client's first flight to the Initial view (lib/echo/quic.ts).
//
// Nothing here throws on input bytes: a problem becomes an entry in `errors` with a stable code (bounded in
// number), the packet stays listed undecrypted, and the rest of the connection is still read. Every buffer a
// hostile capture can grow is bounded (packets, frames, stream bytes, segments).
import { buildHttp3View } from './h3';
import type { Http3StreamData, Http3View } from './h3';
import {
  CryptoStream,
  FrameError,
  FrameReader,
  QUIC_V1,
  decodePacketNumber,
  decodeQuicFirstFlight,
  readLongHeader,
} from './quic';
import type { QuicDecodeErrorCode, QuicView } from './quic';
import {
  HP_SAMPLE,
  QUIC_CIPHER_SUITES,
  derivePacketKeys,
  deriveInitialSecrets,
  headerProtectionMaskFor,
  nextKeyPhase,
  openPayload,
  parseKeyLog,
  suitesFor,
} from './quic-keys';
import type { QuicKeyLogEntry, QuicPacketKeys } from './quic-keys';
import { readFrame } from './quic-frames';
import type { QuicFrameInfo } from './quic-frames';
export type { QuicFrameInfo } from './quic-frames';
import { hexId } from './quic-params';

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
  first_flight: QuicView | null;
  /** Every packet of both directions in capture order (at most 20000). */
  packets: QuicConnectionPacket[];
  /** Every stream with data, both directions, by first appearance. */
  streams: QuicStreamInfo[];
  /** The client's HTTP/3: stream types, control frames, QPACK, request headers; the server's SETTINGS. */
  http3: Http3View;
  errors: QuicConnectionError[];
}

export const MAX_CONNECTION_PACKETS = 20_000;
export const MAX_CONNECTION_FRAMES = 200_000;
/** Bytes kept per stream (request heads, control and QPACK streams are far smaller; bodies are cut). */
export const MAX_STREAM_BYTES = 1 << 20;
const MAX_STREAMS = 1024;
const MAX_SEGMENTS = 4096;
const MAX_ERRORS = 64;
const SERVER_HELLO_BYTES = 4096;

type Space = 'Initial' | '0-RTT' | 'Handshake' | '1-RTT';
type PnSpace = 'Initial' | 'Handshake' | 'Application';

interface StreamState {
  info: QuicStreamInfo;
  /** Null for the server's request streams: their bytes are not kept. */
  data: CryptoStream | null;
  overflow: boolean;
}

interface Opened {
  plain: Buffer;
  pn: number;
  pnLength: number;
  keyPhase: number | null;
}

class ConnectionDecoder {
  private readonly v: QuicConnectionView;
  private readonly keyLog: Map<string, QuicKeyLogEntry>;
  private entry: QuicKeyLogEntry | null = null;
  private initialSecrets: { client: Buffer; server: Buffer } | null = null;
  /** Keys that opened a packet, per direction and space (1-RTT: every generation so far). */
  private readonly keys = new Map<string, QuicPacketKeys[]>();
  private readonly phase = new Map<QuicEndpoint, number>();
  private readonly largest = new Map<string, number>();
  private readonly reportedKeys = new Set<string>();
  private serverCidLength: number | null = null;
  private readonly clientHello = new CryptoStream(1 << 16);
  private readonly serverHello = new CryptoStream(SERVER_HELLO_BYTES);
  private suiteId: number | null = null;
  /** By `sender:stream id`, in order of first appearance. */
  private readonly streams = new Map<string, StreamState>();
  private frameCount = 0;

  constructor(keyLog: string) {
    this.keyLog = parseKeyLog(keyLog);
    this.v = {
      version: '',
      initial_dcid: '',
      client_scid: '',
      server_scid: null,
      retry: false,
      client_random: null,
      cipher_suite: null,
      keys: { early: false, handshake: false, application: false },
      datagram_counts: { client: 0, server: 0 },
      first_flight: null,
      packets: [],
      streams: [],
      http3: buildHttp3View([], null, () => undefined),
      errors: [],
    };
  }

  run(datagrams: readonly QuicCapturedDatagram[]): QuicConnectionView {
    datagrams.forEach((d, i) => this.datagram(d, i));
    const client = datagrams.filter((d) => d.from === 'client').map((d) => d.data);
    if (client.length > 0) this.v.first_flight = decodeQuicFirstFlight(client);
    this.v.streams = [...this.streams.values()].map((s) => s.info);
    const data: Http3StreamData[] = [...this.streams.values()]
      .filter((s) => s.data !== null)
      .map((s) => ({ info: s.info, data: (s.data as CryptoStream).prefix() }));
    this.v.http3 = buildHttp3View(
      data,
      (i) => this.ref(i),
      (e) => this.error(e),
    );
    return this.v;
  }

  private datagram(dg: QuicCapturedDatagram, index: number): void {
    const d = Buffer.from(dg.data.buffer, dg.data.byteOffset, dg.data.byteLength);
    this.v.datagram_counts[dg.from]++;
    let pos = 0;
    while (pos < d.length) {
      if (this.v.packets.length >= MAX_CONNECTION_PACKETS) {
        this.error({ code: 'ERR_QUIC_TOO_MANY', message: `more than ${MAX_CONNECTION_PACKETS} packets` });
        return;
      }
      // Firefox fills its Initial datagrams with zero bytes after the packet.
      if (pos > 0 && d.subarray(pos).every((b) => b === 0)) return;
      pos =
        d[pos] & 0x80 ? this.longPacket(d, pos, dg.from, index) : this.shortPacket(d, pos, dg.from, index);
    }
  }

  private newPacket(
    from: QuicEndpoint,
    datagram: number,
    type: QuicConnectionPacketType,
    length: number,
    dcid: Buffer,
    scid: Buffer | null,
  ): QuicConnectionPacket {
    const p: QuicConnectionPacket = {
      index: this.v.packets.length,
      datagram,
      from,
      type,
      length,
      dcid: dcid.toString('hex'),
      scid: scid ? scid.toString('hex') : null,
      token_length: null,
      packet_number: null,
      packet_number_length: null,
      key_phase: null,
      decrypted: false,
      frames: [],
    };
    this.v.packets.push(p);
    return p;
  }

  private longPacket(d: Buffer, start: number, from: QuicEndpoint, datagram: number): number {
    if (d.length - start >= 5 && d.readUInt32BE(start + 1) === 0) {
      this.newPacket(from, datagram, 'VersionNegotiation', d.length - start, Buffer.alloc(0), null);
      return d.length;
    }
    const r = readLongHeader(d, start, true);
    if (!r.ok) {
      this.error(r.error);
      return d.length;
    }
    const h = r.header;
    if (h.version !== QUIC_V1) {
      this.newPacket(from, datagram, 'unknown', d.length - start, h.dcid, h.scid);
      this.error({ code: 'ERR_QUIC_UNSUPPORTED_VERSION', message: `version ${hexId(h.version)}` });
      return d.length;
    }
    const p = this.newPacket(
      from,
      datagram,
      h.type as QuicConnectionPacketType,
      h.end - start,
      h.dcid,
      h.scid,
    );
    if (from === 'client' && !this.v.initial_dcid && h.type === 'Initial') {
      this.v.version = `0x${h.version.toString(16).padStart(8, '0')}`;
      this.v.initial_dcid = h.dcid.toString('hex');
      this.v.client_scid = h.scid.toString('hex');
      this.initialSecrets = deriveInitialSecrets(h.dcid);
    }
    if (from === 'server' && this.v.server_scid === null) {
      this.v.server_scid = h.scid.toString('hex');
      this.serverCidLength = h.scid.length;
    }
    if (h.type === 'Retry') {
      // The client starts over with Initial keys from the Retry's SCID (RFC 9001 §5.2).
      this.v.retry = true;
      this.initialSecrets = deriveInitialSecrets(h.scid);
      this.keys.delete('client:Initial');
      this.keys.delete('server:Initial');
      this.v.server_scid = null;
      return d.length;
    }
    if (h.type === 'Initial') p.token_length = h.tokenLength;
    const opened = this.open(d, start, h.pnOffset, h.end, from, h.type as Space, false);
    if (opened) this.frames(opened, p, from, h.type as Space);
    return h.end;
  }

  private shortPacket(d: Buffer, start: number, from: QuicEndpoint, datagram: number): number {
    const cidLength = from === 'client' ? this.serverCidLength : this.v.client_scid.length / 2;
    // The fixed bit may be 0: Firefox greases it (RFC 9287) when the server allows that.
    if (cidLength === null || d.length - start < 1 + cidLength) {
      this.newPacket(from, datagram, 'unknown', d.length - start, Buffer.alloc(0), null);
      this.error({
        code: 'ERR_QUIC_MALFORMED',
        message:
          cidLength === null
            ? 'a short header before the server chose its connection ID'
            : 'not a QUIC packet',
      });
      return d.length;
    }
    const p = this.newPacket(
      from,
      datagram,
      '1-RTT',
      d.length - start,
      d.subarray(start + 1, start + 1 + cidLength),
      null,
    );
    const opened = this.open(d, start, start + 1 + cidLength, d.length, from, '1-RTT', true);
    if (opened) {
      p.key_phase = opened.keyPhase;
      this.frames(opened, p, from, '1-RTT');
    }
    return d.length;
  }

  private secretFor(from: QuicEndpoint, space: Space): Buffer | null {
    if (space === 'Initial') return this.initialSecrets ? this.initialSecrets[from] : null;
    const e = this.entry;
    if (!e) return null;
    if (space === '0-RTT') return from === 'client' ? e.client_early : null;
    if (space === 'Handshake') return from === 'client' ? e.client_handshake : e.server_handshake;
    return from === 'client' ? e.client_application : e.server_application;
  }

  /** Key candidates: what opened this space before, else one per suite the secret fits. */
  private candidates(from: QuicEndpoint, space: Space): QuicPacketKeys[] {
    const known = this.keys.get(`${from}:${space}`);
    if (known) return known.slice(0, 1);
    const secret = this.secretFor(from, space);
    if (!secret) {
      const what = `${from}:${space}`;
      if (!this.reportedKeys.has(what)) {
        this.reportedKeys.add(what);
        this.error({
          code: 'ERR_QUIC_KEYS',
          message:
            this.entry || space === 'Initial'
              ? `no ${from} ${space} secret in the key log`
              : `no key-log entry for the ClientHello random ${this.v.client_random ?? '(not seen)'}`,
        });
      }
      return [];
    }
    if (space === 'Initial') return [derivePacketKeys(secret, QUIC_CIPHER_SUITES[0])];
    return suitesFor(secret, this.suiteId).map((s) => derivePacketKeys(secret, s));
  }

  private open(
    d: Buffer,
    start: number,
    pnOffset: number,
    end: number,
    from: QuicEndpoint,
    space: Space,
    short: boolean,
  ): Opened | null {
    if (end - pnOffset < 4 + HP_SAMPLE) {
      this.error({
        code: 'ERR_QUIC_TRUNCATED',
        message: `${space} packet too short for a header-protection sample`,
      });
      return null;
    }
    const pnSpace: PnSpace = space === 'Initial' || space === 'Handshake' ? space : 'Application';
    const largest = this.largest.get(`${from}:${pnSpace}`) ?? -1;
    const sample = d.subarray(pnOffset + 4, pnOffset + 4 + HP_SAMPLE);
    const candidates = this.candidates(from, space);
    for (const base of candidates) {
      const mask = headerProtectionMaskFor(base.suite, base.hp, sample);
      const header = Buffer.from(d.subarray(start, pnOffset + 4));
      header[0] ^= mask[0] & (short ? 0x1f : 0x0f);
      const pnLength = (header[0] & 0x03) + 1;
      const pnAt = pnOffset - start;
      let truncated = 0;
      for (let i = 0; i < pnLength; i++) {
        header[pnAt + i] ^= mask[1 + i];
        truncated = truncated * 256 + header[pnAt + i];
      }
      const pn = decodePacketNumber(largest, truncated, pnLength * 8);
      const aad = header.subarray(0, pnAt + pnLength);
      const sealed = d.subarray(pnOffset + pnLength, end);
      const keyPhase = short ? (header[0] >> 2) & 1 : null;
      const keys = keyPhase === null ? base : this.generation(from, base, keyPhase);
      const plain = openPayload(keys, pn, aad, sealed);
      if (!plain) continue;
      this.remember(from, space, base, keys, keyPhase);
      this.largest.set(`${from}:${pnSpace}`, Math.max(largest, pn));
      return { plain, pn, pnLength, keyPhase };
    }
    if (candidates.length > 0) {
      this.error({ code: 'ERR_QUIC_DECRYPT', message: `a ${from} ${space} packet does not authenticate` });
    }
    return null;
  }

  /** 1-RTT keys for a key phase bit: the current generation, or the next one after a key update (§6). */
  private generation(from: QuicEndpoint, base: QuicPacketKeys, bit: number): QuicPacketKeys {
    const gens = this.keys.get(`${from}:1-RTT`) ?? [base];
    const current = this.phase.get(from) ?? 0;
    if (current % 2 === bit) return gens[current];
    return gens[current + 1] ?? nextKeyPhase(gens[current]);
  }

  private remember(
    from: QuicEndpoint,
    space: Space,
    base: QuicPacketKeys,
    used: QuicPacketKeys,
    bit: number | null,
  ): void {
    const key = `${from}:${space}`;
    const gens = this.keys.get(key) ?? [base];
    if (!this.keys.has(key)) this.keys.set(key, gens);
    if (bit === null) return;
    // A packet that opened with the next generation's keys: the sender updated its keys.
    const current = this.phase.get(from) ?? 0;
    if (used === gens[current]) return;
    if (!gens.includes(used)) gens.push(used);
    this.phase.set(from, gens.indexOf(used));
  }

  private frames(opened: Opened, p: QuicConnectionPacket, from: QuicEndpoint, space: Space): void {
    p.decrypted = true;
    p.packet_number = opened.pn;
    p.packet_number_length = opened.pnLength;
    if (space === 'Handshake') this.v.keys.handshake = true;
    if (space === '0-RTT') this.v.keys.early = true;
    if (space === '1-RTT') this.v.keys.application = true;
    const r = new FrameReader(opened.plain);
    try {
      while (!r.done) {
        if (++this.frameCount > MAX_CONNECTION_FRAMES) {
          this.error({ code: 'ERR_QUIC_TOO_MANY', message: `more than ${MAX_CONNECTION_FRAMES} frames` });
          return;
        }
        const f = readFrame(r, opened.plain);
        p.frames.push(f.info);
        if (f.info.type === 'CRYPTO' && space === 'Initial')
          this.crypto(from, f.info.offset as number, f.data);
        if (f.info.type === 'STREAM') this.stream(from, f.info, f.data, p);
      }
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.error({ code: 'ERR_QUIC_FRAME', message: `${from} ${space} packet ${opened.pn}: ${err.message}` });
    }
  }

  /** Initial CRYPTO: the ClientHello random picks the key-log entry; the ServerHello the suite. */
  private crypto(from: QuicEndpoint, offset: number, data: Buffer): void {
    const stream = from === 'client' ? this.clientHello : this.serverHello;
    const limit = from === 'client' ? 1 << 16 : SERVER_HELLO_BYTES;
    if (offset + data.length > limit) return;
    stream.add(offset, data);
    const bytes = stream.prefix();
    if (from === 'client' && this.v.client_random === null && bytes.length >= 38 && bytes[0] === 1) {
      this.v.client_random = bytes.subarray(6, 38).toString('hex');
      this.entry = this.keyLog.get(this.v.client_random) ?? null;
    }
    if (from === 'server' && this.suiteId === null && bytes.length >= 41 && bytes[0] === 2) {
      const at = 38 + 1 + bytes[38];
      if (bytes.length >= at + 2) {
        this.suiteId = bytes.readUInt16BE(at);
        this.v.cipher_suite =
          QUIC_CIPHER_SUITES.find((s) => s.id === this.suiteId)?.name ?? hexId(this.suiteId);
      }
    }
  }

  private stream(from: QuicEndpoint, f: QuicFrameInfo, data: Buffer, p: QuicConnectionPacket): void {
    const id = f.stream_id as number;
    let s = this.streams.get(`${from}:${id}`);
    if (!s) {
      if (this.streams.size >= MAX_STREAMS) {
        this.error({ code: 'ERR_QUIC_TOO_MANY', message: `more than ${MAX_STREAMS} streams` });
        return;
      }
      const initiator: QuicEndpoint = id % 2 === 0 ? 'client' : 'server';
      const direction = id % 4 >= 2 ? 'uni' : 'bidi';
      s = {
        info: {
          stream_id: id,
          sender: from,
          initiator,
          direction,
          bytes: 0,
          fin_offset: null,
          complete: false,
          first_packet: this.ref(p.index),
          segments: [],
        },
        // The server's responses are not decoded: only its control and QPACK streams are kept.
        data: from === 'server' && direction === 'bidi' ? null : new CryptoStream(MAX_STREAM_BYTES),
        overflow: false,
      };
      this.streams.set(`${from}:${id}`, s);
    }
    const offset = f.offset as number;
    if (s.info.segments.length < MAX_SEGMENTS)
      s.info.segments.push({ offset, length: data.length, packet: p.index });
    if (f.fin) s.info.fin_offset = offset + data.length;
    if (!s.data) return;
    if (offset + data.length > MAX_STREAM_BYTES) {
      if (!s.overflow) {
        s.overflow = true;
        this.error({
          code: 'ERR_QUIC_STREAM',
          message: `${from} stream ${id}: data beyond ${MAX_STREAM_BYTES} bytes is not kept`,
        });
      }
      return;
    }
    const conflict = s.data.add(offset, data);
    if (conflict)
      this.error({
        code: 'ERR_QUIC_STREAM',
        message: `${from} stream ${id}: ${conflict.message.replace('CRYPTO ', '')}`,
      });
    s.info.bytes = s.data.prefix().length;
    s.info.complete = s.info.fin_offset !== null && s.info.bytes >= s.info.fin_offset;
  }

  private ref(index: number): QuicPacketRef {
    const p = this.v.packets[index];
    return { index, datagram: p.datagram, type: p.type, packet_number: p.packet_number };
  }

  private error(e: QuicConnectionError): void {
    if (this.v.errors.length < MAX_ERRORS) this.v.errors.push(e);
  }
}

/**
 * Decodes one whole QUIC connection (both directions, capture order) with its key log (SSLKEYLOGFILE text or
 * a parsed map). Never throws on the bytes: problems are entries in the view's `errors`.
 */
export function decodeQuicConnection(
  datagrams: readonly QuicCapturedDatagram[],
  keyLog: string,
): QuicConnectionView {
  return new ConnectionDecoder(keyLog).run(datagrams);
}
