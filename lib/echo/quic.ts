// Part of the fingerprint echo server (lib/echo.ts): it parses what a client sent; the client never imports
// it. The QUIC view of a client's first flight: the Initial packets of QUIC v1 (RFC 9000 §17.2.2) are opened
// with keys derived from the client's first Destination Connection ID (RFC 9001 §5.2, v1 salt; anyone can do
// this, which is why anti-bot systems read them), their header protection removed (§5.4), the payload
// decrypted with AES-128-GCM (§5.3) and its frames read. The ClientHello is reassembled from CRYPTO frames at
// any offsets and in any order, across datagrams, then fingerprinted like a TCP one (JA3/JA3N, JA4 with `q`)
// and its quic_transport_parameters decoded.
//
// Everything a hostile datagram can inflate is bounded (frames, CRYPTO offsets, datagrams, errors); a problem
// becomes an entry in `errors` with a stable code and the rest of the datagram or view stays usable. Nothing
// here throws on input bytes.
import { createCipheriv, createDecipheriv } from 'node:crypto';

import { MAX_CLIENT_HELLO_BYTES, parseClientHello, summarizeClientHello } from './clienthello';
import type { ClientHelloSummary } from './clienthello';
import { computeJa } from './ja';
import { AEAD_TAG, HP_SAMPLE, deriveInitialSecrets, hkdfExpandLabel } from './quic-keys';
import type { JaFingerprints } from './ja';
import { hexId, parseTransportParameters, readVarint } from './quic-params';
import type { QuicTransportParameter } from './quic-params';

export { parseTransportParameters, readVarint } from './quic-params';
export type { QuicTransportParameter, QuicVersionEntry } from './quic-params';

export const QUIC_V1 = 0x00000001;
const MAX_CID_LENGTH = 20;

/** Datagrams of one connection that we record before the ClientHello is complete. */
export const MAX_FIRST_FLIGHT_DATAGRAMS = 16;
/** Frames we list per view (a real first flight has a few dozen; PADDING runs count once). */
export const MAX_FRAMES_PER_VIEW = 2048;
/** CRYPTO frames we accept per view (Chromium cuts its hello into at most ~20). */
export const MAX_CRYPTO_FRAGMENTS = 512;
const MAX_ERRORS = 32;

export type QuicDecodeErrorCode =
  /** The datagram or packet ends before its header or its Length says. */
  | 'ERR_QUIC_TRUNCATED'
  /** A header field is impossible (fixed bit 0, connection ID longer than 20, bad packet length). */
  | 'ERR_QUIC_MALFORMED'
  /** A long-header version other than v1: its Initial keys are not derived here. */
  | 'ERR_QUIC_UNSUPPORTED_VERSION'
  /** The Initial does not authenticate with the keys of the connection's first DCID. */
  | 'ERR_QUIC_DECRYPT'
  /** A frame that cannot be read or is not allowed in an Initial packet. */
  | 'ERR_QUIC_FRAME'
  /** More frames, CRYPTO fragments or first-flight datagrams than the bounds above. */
  | 'ERR_QUIC_TOO_MANY'
  /** A CRYPTO frame beyond the largest ClientHello we read (64 KiB). */
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

export type QuicPacketType = 'Initial' | '0-RTT' | 'Handshake' | 'Retry' | 'short' | 'unknown';

export interface QuicPacketInfo {
  type: QuicPacketType;
  /** Bytes this packet takes in the datagram. */
  length: number;
  version: string | null;
  dcid_length: number | null;
  scid_length: number | null;
  /** Initial only: the token's length (a resumed Firefox connection sends its NEW_TOKEN here). */
  token_length: number | null;
  /** Initial, decrypted: the full packet number and how many bytes encoded it. */
  packet_number: number | null;
  packet_number_length: number | null;
  /** Initial, decrypted: the plaintext frames' length. */
  payload_length: number | null;
  decrypted: boolean;
  /** The frames in order: `CRYPTO(off=46,len=1)`, `PING`, `PADDING(58)`, `ACK(largest=0,…)`. */
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

/** JA3/JA3N/JA4 (`q…`) and the parsed ClientHello, in the shape of the TCP echo's `tls` field. */
export type QuicTlsInfo = JaFingerprints & ClientHelloSummary;

export interface QuicView {
  /** When the first datagram of this connection arrived. */
  time: string;
  /** Client address and port ("127.0.0.1:54458"); empty when decoded offline. */
  client: string;
  /** `0x00000001` for QUIC v1. */
  version: string;
  /** The client's first Destination Connection ID (hex): it keys the view and the Initial keys. */
  dcid: string;
  dcid_length: number;
  scid: string;
  scid_length: number;
  token_length: number;
  /** Packet number of the first Initial (Chromium 1, Firefox random). */
  first_packet_number: number | null;
  /** The datagrams up to the one that completed the ClientHello (at most 16). */
  datagrams: QuicDatagramInfo[];
  datagram_sizes: number[];
  /** How the Initials fill their datagrams: PADDING frames in the packet, zero bytes after it, both, none. */
  padding: 'frames' | 'trailing_zeros' | 'frames_and_trailing_zeros' | 'none';
  padding_frame_bytes: number;
  trailing_zero_bytes: number;
  ping_count: number;
  /** The CRYPTO frames in arrival order (Chromium scrambles them; Firefox sends 3 pieces). */
  crypto_fragments: QuicCryptoFragment[];
  /** The ClientHello was fully reassembled. */
  complete: boolean;
  client_hello_length: number | null;
  /** The reassembled ClientHello handshake message (hex); null until complete. */
  client_hello_hex: string | null;
  /** QUIC JA4, e.g. `q13d0312h3_55b375c5d22e_178839b6cec1`; null until complete. */
  ja4: string | null;
  ja3n_hash: string | null;
  tls: QuicTlsInfo | null;
  /** quic_transport_parameters in wire order. */
  transport_parameters: QuicTransportParameter[];
  /** Their ids in wire order, e.g. ["0x1", "0x4", …]. */
  transport_parameter_order: string[];
  /** Datagrams for this DCID after the ClientHello was complete (retransmissions, 0-RTT), counted only. */
  later_datagrams: number;
  errors: QuicDecodeError[];
}

// ---- keys (RFC 9001 §5) ----

export interface QuicInitialKeys {
  secret: Buffer;
  key: Buffer;
  iv: Buffer;
  hp: Buffer;
}

/** The client's Initial secret, key, IV and header-protection key for a first DCID (QUIC v1). */
export function deriveClientInitialKeys(dcid: Uint8Array): QuicInitialKeys {
  const secret = deriveInitialSecrets(dcid).client;
  return {
    secret,
    key: hkdfExpandLabel(secret, 'quic key', 16),
    iv: hkdfExpandLabel(secret, 'quic iv', 12),
    hp: hkdfExpandLabel(secret, 'quic hp', 16),
  };
}

/** AES-ECB of the 16-byte sample: the first 5 bytes are the header-protection mask (RFC 9001 §5.4.3). */
export function headerProtectionMask(hp: Buffer, sample: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-128-ecb', hp, null);
  cipher.setAutoPadding(false);
  return cipher.update(sample).subarray(0, 5);
}

/** RFC 9000 §A.3: the full packet number closest to the next one expected. */
export function decodePacketNumber(largest: number, truncated: number, bits: number): number {
  const expected = largest + 1;
  const win = 2 ** bits;
  const half = win / 2;
  const candidate = Math.floor(expected / win) * win + truncated;
  if (candidate <= expected - half && candidate < 2 ** 62 - win) return candidate + win;
  if (candidate > expected + half && candidate >= win) return candidate - win;
  return candidate;
}

// ---- long headers ----

export interface LongHeader {
  type: QuicPacketType;
  version: number;
  dcid: Buffer;
  scid: Buffer;
  tokenLength: number;
  /** Offset of the packet number (Initial, 0-RTT, Handshake). */
  pnOffset: number;
  /** End of the packet in the datagram. */
  end: number;
}

export type HeaderResult = { ok: true; header: LongHeader } | { ok: false; error: QuicDecodeError };

const LONG_TYPES: readonly QuicPacketType[] = ['Initial', '0-RTT', 'Handshake', 'Retry'];

function fail(code: QuicDecodeErrorCode, message: string): { ok: false; error: QuicDecodeError } {
  return { ok: false, error: { code, message } };
}

/**
 * Reads the long header at `start` (RFC 9000 §17.2); v1 packet types. `greasedFixedBit`: accept a fixed bit
 * of 0 (RFC 9287: once the peer allowed it, Firefox greases it after the first flight).
 */
export function readLongHeader(d: Buffer, start: number, greasedFixedBit = false): HeaderResult {
  if (d.length - start < 7)
    return fail('ERR_QUIC_TRUNCATED', `long header needs 7 bytes, has ${d.length - start}`);
  const first = d[start];
  if ((first & 0x40) === 0 && !greasedFixedBit) return fail('ERR_QUIC_MALFORMED', 'fixed bit is 0');
  const version = d.readUInt32BE(start + 1);
  let pos = start + 5;
  const dcidLen = d[pos++];
  if (dcidLen > MAX_CID_LENGTH) return fail('ERR_QUIC_MALFORMED', `DCID length ${dcidLen} > 20`);
  if (pos + dcidLen + 1 > d.length) return fail('ERR_QUIC_TRUNCATED', 'datagram ends inside the DCID');
  const dcid = d.subarray(pos, pos + dcidLen);
  pos += dcidLen;
  const scidLen = d[pos++];
  if (scidLen > MAX_CID_LENGTH) return fail('ERR_QUIC_MALFORMED', `SCID length ${scidLen} > 20`);
  if (pos + scidLen > d.length) return fail('ERR_QUIC_TRUNCATED', 'datagram ends inside the SCID');
  const scid = d.subarray(pos, pos + scidLen);
  pos += scidLen;
  const type = LONG_TYPES[(first >> 4) & 0x03];
  const header: LongHeader = { type, version, dcid, scid, tokenLength: 0, pnOffset: 0, end: d.length };
  if (version !== QUIC_V1) return { ok: true, header };
  if (type === 'Retry') return { ok: true, header };
  if (type === 'Initial') {
    const token = readVarint(d, pos);
    if (!token) return fail('ERR_QUIC_TRUNCATED', 'datagram ends inside the token length');
    if (token.value > BigInt(d.length - pos - token.width))
      return fail('ERR_QUIC_TRUNCATED', `token length ${token.value} runs past the datagram`);
    header.tokenLength = Number(token.value);
    pos += token.width + header.tokenLength;
  }
  const length = readVarint(d, pos);
  if (!length) return fail('ERR_QUIC_TRUNCATED', 'datagram ends inside the Length field');
  pos += length.width;
  if (length.value > BigInt(d.length - pos))
    return fail(
      'ERR_QUIC_TRUNCATED',
      `Length ${length.value} runs past the datagram (${d.length - pos} left)`,
    );
  header.pnOffset = pos;
  header.end = pos + Number(length.value);
  return { ok: true, header };
}

interface LongHeaderIdentity {
  type: QuicPacketType;
  version: number;
  dcid: Buffer;
  /** Null when the datagram ends before the SCID. */
  scid: Buffer | null;
}

/** The fields of a long header up to the DCID (and the SCID when present), without the rest. */
function readIdentity(d: Buffer): LongHeaderIdentity | null {
  if (d.length < 6 || (d[0] & 0xc0) !== 0xc0) return null;
  const dcidLength = d[5];
  if (dcidLength > MAX_CID_LENGTH || d.length < 6 + dcidLength) return null;
  const at = 6 + dcidLength;
  const scidLength = at < d.length ? d[at] : -1;
  const hasScid = scidLength >= 0 && scidLength <= MAX_CID_LENGTH && d.length >= at + 1 + scidLength;
  return {
    type: LONG_TYPES[(d[0] >> 4) & 0x03],
    version: d.readUInt32BE(1),
    dcid: d.subarray(6, at),
    scid: hasScid ? d.subarray(at + 1, at + 1 + scidLength) : null,
  };
}

/**
 * The type, DCID and version of a datagram's first packet when it starts with a long header; else null. Only
 * the fields up to the DCID must be there, so a truncated Initial still gets a view that says what is wrong.
 */
export function peekLongHeader(
  datagram: Uint8Array,
): { type: QuicPacketType; dcid: string; version: number } | null {
  const id = readIdentity(Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength));
  return id ? { type: id.type, dcid: id.dcid.toString('hex'), version: id.version } : null;
}

// ---- CRYPTO reassembly ----

/**
 * Bytes of a CRYPTO or STREAM stream that arrive at any offsets, in any order, more than once; bounded by
 * `limit` (the Initial space's CRYPTO stream holds one ClientHello). Callers keep offsets below the limit.
 */
export class CryptoStream {
  constructor(private readonly limit = MAX_CLIENT_HELLO_BYTES) {}

  private buf = Buffer.alloc(0);
  private filled = new Uint8Array(0);
  /** Bytes [0, contiguous) are all present. */
  private contiguous = 0;

  /** Stores bytes at `offset`; an error when they disagree with bytes already there. */
  add(offset: number, data: Buffer): QuicDecodeError | null {
    const end = offset + data.length;
    if (end > this.buf.length) {
      const size = Math.min(this.limit, Math.max(end, this.buf.length * 2, 2048));
      const grown = Buffer.alloc(size);
      this.buf.copy(grown);
      const filled = new Uint8Array(size);
      filled.set(this.filled);
      this.buf = grown;
      this.filled = filled;
    }
    for (let i = 0; i < data.length; i++) {
      const at = offset + i;
      if (this.filled[at] && this.buf[at] !== data[i]) {
        return {
          code: 'ERR_QUIC_CRYPTO_CONFLICT',
          message: `CRYPTO byte at offset ${at} sent twice with different values`,
        };
      }
    }
    data.copy(this.buf, offset);
    this.filled.fill(1, offset, end);
    while (this.contiguous < this.filled.length && this.filled[this.contiguous]) this.contiguous++;
    return null;
  }

  /** The bytes from offset 0 up to the first gap. */
  prefix(): Buffer {
    return this.buf.subarray(0, this.contiguous);
  }

  /** The complete handshake message, or null while bytes are missing. */
  message(): Buffer | null {
    if (this.contiguous < 4) return null;
    const total = 4 + this.buf.readUIntBE(1, 3);
    return this.contiguous >= total ? Buffer.from(this.buf.subarray(0, total)) : null;
  }

  /** The first byte (the handshake type) once it arrived. */
  firstByte(): number | null {
    return this.contiguous > 0 ? this.buf[0] : null;
  }

  /** The announced message length (header included) once the header arrived. */
  announcedLength(): number | null {
    return this.contiguous >= 4 ? 4 + this.buf.readUIntBE(1, 3) : null;
  }

  release(): void {
    this.buf = Buffer.alloc(0);
    this.filled = new Uint8Array(0);
  }
}

// ---- frames (RFC 9000 §19; §12.4: an Initial carries PADDING, PING, ACK, CRYPTO, CONNECTION_CLOSE) ----

/** Bounds-checked varint reads over one plaintext payload. */
export class FrameReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(what: string): bigint {
    const v = readVarint(this.buf, this.pos);
    if (!v) throw new FrameError(`${what}: payload ends inside a varint`);
    this.pos += v.width;
    return v.value;
  }
  bytes(n: bigint, what: string): Buffer {
    if (n > BigInt(this.buf.length - this.pos)) {
      throw new FrameError(`${what}: ${n} bytes run past the payload (${this.buf.length - this.pos} left)`);
    }
    const out = this.buf.subarray(this.pos, this.pos + Number(n));
    this.pos += out.length;
    return out;
  }
}

/** A frame that cannot be read; the decoders turn it into an error entry, it never leaves lib/echo. */
export class FrameError extends Error {}

// ---- the decoder ----

/** Decodes the first flight of one client connection, datagram by datagram. */
export class QuicInitialDecoder {
  private readonly v: QuicView;
  private readonly keys: QuicInitialKeys | null;
  private readonly crypto = new CryptoStream();
  private largestPn = -1;
  private frameCount = 0;
  private finished = false;

  /** `firstDatagram` should start with an Initial (see peekLongHeader); `client` is "ip:port". */
  constructor(firstDatagram: Uint8Array, client = '', time: Date = new Date()) {
    const d = Buffer.from(firstDatagram.buffer, firstDatagram.byteOffset, firstDatagram.byteLength);
    const id = readIdentity(d);
    const full = id ? readLongHeader(d, 0) : null;
    this.v = {
      time: time.toISOString(),
      client,
      version: id ? `0x${id.version.toString(16).padStart(8, '0')}` : '',
      dcid: id ? id.dcid.toString('hex') : '',
      dcid_length: id ? id.dcid.length : 0,
      scid: id?.scid ? id.scid.toString('hex') : '',
      scid_length: id?.scid ? id.scid.length : 0,
      token_length: full?.ok ? full.header.tokenLength : 0,
      first_packet_number: null,
      datagrams: [],
      datagram_sizes: [],
      padding: 'none',
      padding_frame_bytes: 0,
      trailing_zero_bytes: 0,
      ping_count: 0,
      crypto_fragments: [],
      complete: false,
      client_hello_length: null,
      client_hello_hex: null,
      ja4: null,
      ja3n_hash: null,
      tls: null,
      transport_parameters: [],
      transport_parameter_order: [],
      later_datagrams: 0,
      errors: [],
    };
    this.keys = id && id.version === QUIC_V1 ? deriveClientInitialKeys(id.dcid) : null;
    // A long header that does not parse past its DCID is reported by push() below, as in any datagram.
    if (d.length === 0 || (d[0] & 0x80) === 0) {
      this.error({
        code: 'ERR_QUIC_MALFORMED',
        message: 'the first datagram does not start with a long header',
      });
    } else if (id && !this.keys) {
      this.error({ code: 'ERR_QUIC_UNSUPPORTED_VERSION', message: `version ${this.v.version}` });
    }
    this.push(d);
  }

  /** The view so far (the decoder keeps it up to date; treat it as read-only). */
  view(): QuicView {
    return this.v;
  }

  get complete(): boolean {
    return this.v.complete;
  }

  /** Adds one UDP payload from this client. */
  push(datagram: Uint8Array): void {
    if (this.finished) {
      this.v.later_datagrams++;
      return;
    }
    if (this.v.datagrams.length >= MAX_FIRST_FLIGHT_DATAGRAMS) {
      this.error({
        code: 'ERR_QUIC_TOO_MANY',
        message: `no complete ClientHello in ${MAX_FIRST_FLIGHT_DATAGRAMS} datagrams`,
      });
      this.finish();
      this.v.later_datagrams++;
      return;
    }
    const d = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
    const info: QuicDatagramInfo = {
      size: d.length,
      packets: [],
      trailing_bytes: 0,
      trailing_all_zero: false,
    };
    this.v.datagrams.push(info);
    this.v.datagram_sizes.push(d.length);
    let pos = 0;
    while (pos < d.length) {
      if ((d[pos] & 0x80) === 0) {
        // A short header packet, or (Firefox) zero bytes that fill the datagram after the last packet.
        const rest = d.subarray(pos);
        if (pos > 0 && rest.every((b) => b === 0)) {
          info.trailing_bytes = rest.length;
          info.trailing_all_zero = true;
          this.v.trailing_zero_bytes += rest.length;
        } else {
          info.packets.push(emptyPacket(pos === 0 ? 'short' : 'unknown', rest.length));
          if (pos > 0) {
            info.trailing_bytes = rest.length;
          }
        }
        break;
      }
      const r = readLongHeader(d, pos);
      if (!r.ok) {
        this.error(r.error);
        info.trailing_bytes = d.length - pos;
        break;
      }
      const h = r.header;
      const packet = emptyPacket(h.version === QUIC_V1 ? h.type : 'unknown', h.end - pos);
      packet.version = `0x${h.version.toString(16).padStart(8, '0')}`;
      packet.dcid_length = h.dcid.length;
      packet.scid_length = h.scid.length;
      info.packets.push(packet);
      if (h.version === QUIC_V1 && h.type === 'Initial') {
        packet.token_length = h.tokenLength;
        this.openInitial(d, pos, h, packet);
      }
      pos = h.end;
    }
    this.updatePadding();
    this.tryComplete();
  }

  private openInitial(d: Buffer, start: number, h: LongHeader, packet: QuicPacketInfo): void {
    if (!this.keys) return;
    if (h.dcid.toString('hex') !== this.v.dcid) {
      this.error({ code: 'ERR_QUIC_DECRYPT', message: `Initial for another DCID ${h.dcid.toString('hex')}` });
      return;
    }
    if (h.end - h.pnOffset < 4 + HP_SAMPLE) {
      this.error({ code: 'ERR_QUIC_TRUNCATED', message: 'Initial too short for a header-protection sample' });
      return;
    }
    const mask = headerProtectionMask(this.keys.hp, d.subarray(h.pnOffset + 4, h.pnOffset + 4 + HP_SAMPLE));
    const header = Buffer.from(d.subarray(start, h.pnOffset + 4));
    header[0] ^= mask[0] & 0x0f;
    const pnLength = (header[0] & 0x03) + 1;
    const pnAt = h.pnOffset - start;
    let truncated = 0;
    for (let i = 0; i < pnLength; i++) {
      header[pnAt + i] ^= mask[1 + i];
      truncated = truncated * 256 + header[pnAt + i];
    }
    const aad = header.subarray(0, pnAt + pnLength);
    const sealed = d.subarray(h.pnOffset + pnLength, h.end);
    if (sealed.length < AEAD_TAG) {
      this.error({ code: 'ERR_QUIC_TRUNCATED', message: 'Initial shorter than its AEAD tag' });
      return;
    }
    const pn = decodePacketNumber(this.largestPn, truncated, pnLength * 8);
    const nonce = Buffer.from(this.keys.iv);
    for (let i = 0; i < 6; i++) nonce[11 - i] ^= Math.floor(pn / 2 ** (8 * i)) & 0xff;
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-128-gcm', this.keys.key, nonce);
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.subarray(sealed.length - AEAD_TAG));
      plain = Buffer.concat([
        decipher.update(sealed.subarray(0, sealed.length - AEAD_TAG)),
        decipher.final(),
      ]);
    } catch {
      this.error({
        code: 'ERR_QUIC_DECRYPT',
        message: `Initial packet (${h.end - start} bytes) does not authenticate`,
      });
      return;
    }
    if ((header[0] & 0x0c) !== 0) {
      this.error({ code: 'ERR_QUIC_MALFORMED', message: 'reserved header bits are not 0' });
    }
    this.largestPn = Math.max(this.largestPn, pn);
    if (this.v.first_packet_number === null) this.v.first_packet_number = pn;
    packet.decrypted = true;
    packet.packet_number = pn;
    packet.packet_number_length = pnLength;
    packet.payload_length = plain.length;
    this.readFrames(plain, pn, packet);
  }

  private readFrames(plain: Buffer, pn: number, packet: QuicPacketInfo): void {
    const r = new FrameReader(plain);
    try {
      while (!r.done) {
        if (this.frameCount >= MAX_FRAMES_PER_VIEW) {
          this.error({ code: 'ERR_QUIC_TOO_MANY', message: `more than ${MAX_FRAMES_PER_VIEW} frames` });
          return;
        }
        this.frameCount++;
        const type = r.varint('frame type');
        if (type === 0x00n) {
          let run = 1;
          while (r.pos < plain.length && plain[r.pos] === 0) {
            r.pos++;
            run++;
          }
          packet.frames.push(`PADDING(${run})`);
          packet.padding_bytes += run;
          this.v.padding_frame_bytes += run;
        } else if (type === 0x01n) {
          packet.frames.push('PING');
          this.v.ping_count++;
        } else if (type === 0x02n || type === 0x03n) {
          packet.frames.push(readAck(r, type === 0x03n));
        } else if (type === 0x06n) {
          const offset = r.varint('CRYPTO offset');
          const length = r.varint('CRYPTO length');
          const data = r.bytes(length, 'CRYPTO data');
          packet.frames.push(`CRYPTO(off=${offset},len=${length})`);
          this.addCrypto(pn, offset, data);
        } else if (type === 0x1cn) {
          const code = r.varint('CONNECTION_CLOSE error code');
          r.varint('CONNECTION_CLOSE frame type');
          const reason = r.bytes(r.varint('CONNECTION_CLOSE reason length'), 'CONNECTION_CLOSE reason');
          packet.frames.push(`CONNECTION_CLOSE(code=${hexId(code)},reason_len=${reason.length})`);
        } else {
          throw new FrameError(`frame type ${hexId(type)} is not allowed in an Initial packet`);
        }
      }
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.error({ code: 'ERR_QUIC_FRAME', message: `packet ${pn}: ${err.message}` });
    }
  }

  private addCrypto(pn: number, offset: bigint, data: Buffer): void {
    if (this.v.crypto_fragments.length >= MAX_CRYPTO_FRAGMENTS) {
      this.error({ code: 'ERR_QUIC_TOO_MANY', message: `more than ${MAX_CRYPTO_FRAGMENTS} CRYPTO frames` });
      return;
    }
    if (offset + BigInt(data.length) > BigInt(MAX_CLIENT_HELLO_BYTES)) {
      this.error({
        code: 'ERR_QUIC_CRYPTO_RANGE',
        message: `CRYPTO frame at offset ${offset} (+${data.length}) is beyond ${MAX_CLIENT_HELLO_BYTES}`,
      });
      return;
    }
    this.v.crypto_fragments.push({ packet_number: pn, offset: Number(offset), length: data.length });
    if (this.finished || data.length === 0) return;
    const conflict = this.crypto.add(Number(offset), data);
    if (conflict) this.error(conflict);
  }

  private tryComplete(): void {
    if (this.finished) return;
    const first = this.crypto.firstByte();
    if (first !== null && first !== 0x01) {
      this.error({ code: 'ERR_QUIC_CLIENT_HELLO', message: `handshake type ${first} is not ClientHello` });
      this.finish();
      return;
    }
    const announced = this.crypto.announcedLength();
    if (announced !== null && announced > MAX_CLIENT_HELLO_BYTES) {
      this.error({
        code: 'ERR_QUIC_CLIENT_HELLO',
        message: `ClientHello of ${announced} bytes is too large`,
      });
      this.finish();
      return;
    }
    const message = this.crypto.message();
    if (!message) return;
    this.finish();
    let hello;
    try {
      hello = parseClientHello(message);
    } catch (err) {
      this.error({ code: 'ERR_QUIC_CLIENT_HELLO', message: (err as Error).message });
      return;
    }
    const tls: QuicTlsInfo = { ...computeJa(hello, 'q'), ...summarizeClientHello(hello) };
    this.v.complete = true;
    this.v.client_hello_length = message.length;
    this.v.client_hello_hex = message.toString('hex');
    this.v.tls = tls;
    this.v.ja4 = tls.ja4;
    this.v.ja3n_hash = tls.ja3n_hash;
    const ext = hello.extensions.find((e) => e.id === 57);
    if (!ext) {
      this.error({
        code: 'ERR_QUIC_TRANSPORT_PARAMETERS',
        message: 'no quic_transport_parameters extension',
      });
      return;
    }
    const tp = parseTransportParameters(ext.data);
    this.v.transport_parameters = tp.parameters;
    this.v.transport_parameter_order = tp.parameters.map((p) => p.id);
    if (tp.error) this.error({ code: 'ERR_QUIC_TRANSPORT_PARAMETERS', message: tp.error });
  }

  private finish(): void {
    this.finished = true;
    this.crypto.release();
  }

  private updatePadding(): void {
    const frames = this.v.padding_frame_bytes > 0;
    const zeros = this.v.trailing_zero_bytes > 0;
    this.v.padding =
      frames && zeros ? 'frames_and_trailing_zeros' : frames ? 'frames' : zeros ? 'trailing_zeros' : 'none';
  }

  private error(e: QuicDecodeError): void {
    if (this.v.errors.length < MAX_ERRORS) this.v.errors.push(e);
  }
}

function emptyPacket(type: QuicPacketType, length: number): QuicPacketInfo {
  return {
    type,
    length,
    version: null,
    dcid_length: null,
    scid_length: null,
    token_length: null,
    packet_number: null,
    packet_number_length: null,
    payload_length: null,
    decrypted: false,
    frames: [],
    padding_bytes: 0,
  };
}

function readAck(r: FrameReader, ecn: boolean): string {
  const largest = r.varint('ACK largest');
  const delay = r.varint('ACK delay');
  const ranges = r.varint('ACK range count');
  const first = r.varint('ACK first range');
  // Each further range takes at least 2 bytes, so the payload length bounds this loop.
  for (let i = 0n; i < ranges; i++) {
    r.varint('ACK gap');
    r.varint('ACK range');
  }
  if (ecn) for (const what of ['ECT0', 'ECT1', 'ECN-CE']) r.varint(`ACK ${what} count`);
  return `${ecn ? 'ACK_ECN' : 'ACK'}(largest=${largest},delay=${delay},first=${first},ranges=${ranges})`;
}

/**
 * Decodes a client's first-flight datagrams offline (the first must start with an Initial). Never throws on
 * the bytes: problems are listed in the view's `errors`.
 */
export function decodeQuicFirstFlight(datagrams: readonly Uint8Array[], client = ''): QuicView {
  if (datagrams.length === 0) throw new TypeError('decodeQuicFirstFlight needs at least one datagram');
  const decoder = new QuicInitialDecoder(datagrams[0], client);
  for (const d of datagrams.slice(1)) decoder.push(d);
  return decoder.view();
}

/**
 * The echo server's QUIC views, keyed by the client's first DCID: bounded in number (the oldest goes first)
 * and in age. A datagram starting with an Initial for a new DCID opens a view; later datagrams with that DCID
 * from the same client address feed it; everything else is ignored (we never answer, so a client has nothing
 * else to send).
 */
export class QuicViewTable {
  private readonly entries = new Map<string, { decoder: QuicInitialDecoder; client: string; at: number }>();

  constructor(
    readonly maxViews: number,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Feeds one datagram; returns the view when this datagram completed its ClientHello. */
  handle(datagram: Uint8Array, client: string): QuicView | null {
    const head = peekLongHeader(datagram);
    if (!head) return null;
    this.expire();
    const entry = this.entries.get(head.dcid);
    if (entry) {
      if (entry.client !== client) return null;
      const wasComplete = entry.decoder.complete;
      entry.decoder.push(datagram);
      return !wasComplete && entry.decoder.complete ? entry.decoder.view() : null;
    }
    if (head.type !== 'Initial') return null;
    while (this.entries.size >= this.maxViews) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    const decoder = new QuicInitialDecoder(datagram, client, new Date(this.now()));
    this.entries.set(head.dcid, { decoder, client, at: this.now() });
    return decoder.complete ? decoder.view() : null;
  }

  /** Views newest first. */
  list(): QuicView[] {
    this.expire();
    return [...this.entries.values()].reverse().map((e) => e.decoder.view());
  }

  get(dcid: string): QuicView | null {
    this.expire();
    const entry = this.entries.get(dcid.toLowerCase());
    return entry ? entry.decoder.view() : null;
  }

  get size(): number {
    return this.entries.size;
  }

  private expire(): void {
    const limit = this.now() - this.ttlMs;
    // Insertion order is arrival order: stop at the first one still young enough.
    for (const [dcid, e] of this.entries) {
      if (e.at > limit) break;
      this.entries.delete(dcid);
    }
  }
}
