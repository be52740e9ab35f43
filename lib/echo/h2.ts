// Part of the fingerprint echo server (lib/echo.ts): it parses what a client sent; the client never imports
// it. Observer of a client's HTTP/2 byte stream (RFC 9113): the connection preface, then frames. It records
// the first flight (SETTINGS, WINDOW_UPDATE, PRIORITY, the first HEADERS and its priority), decodes every
// request header block with its own HPACK context (so header order is exactly as sent), and builds the Akamai
// HTTP/2 fingerprint: `SETTINGS|WINDOW_UPDATE|PRIORITY|PSEUDO_HEADER_ORDER`.
import { createHash } from 'node:crypto';

import { HeaderField, HpackDecoder } from './hpack';

export const CONNECTION_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME_TYPES: ReadonlyArray<string> = [
  'DATA',
  'HEADERS',
  'PRIORITY',
  'RST_STREAM',
  'SETTINGS',
  'PUSH_PROMISE',
  'PING',
  'GOAWAY',
  'WINDOW_UPDATE',
  'CONTINUATION',
];

export const SETTINGS_NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [1, 'HEADER_TABLE_SIZE'],
  [2, 'ENABLE_PUSH'],
  [3, 'MAX_CONCURRENT_STREAMS'],
  [4, 'INITIAL_WINDOW_SIZE'],
  [5, 'MAX_FRAME_SIZE'],
  [6, 'MAX_HEADER_LIST_SIZE'],
  [8, 'ENABLE_CONNECT_PROTOCOL'],
  [9, 'NO_RFC7540_PRIORITIES'],
]);

const TYPE_DATA = 0;
const TYPE_HEADERS = 1;
const TYPE_PRIORITY = 2;
const TYPE_SETTINGS = 4;
const TYPE_WINDOW_UPDATE = 8;
const TYPE_CONTINUATION = 9;
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const FRAME_HEADER = 9;
/** Control frames larger than this are not buffered (DATA payloads are never buffered). */
const MAX_BUFFERED_FRAME = 1 << 20;
const MAX_HEADER_BLOCK = 1 << 20;

export interface H2Setting {
  id: number;
  name: string;
  value: number;
}

export interface H2Priority {
  /** 1 when the E bit is set. */
  exclusive: 0 | 1;
  depends_on: number;
  /** Wire value + 1 (1..256), as in the Akamai fingerprint. */
  weight: number;
}

export interface H2PriorityFrame extends H2Priority {
  stream_id: number;
}

/** One frame as received, in the shape of the golden captures' `http2.sent_frames`. */
export interface H2Frame {
  frame_type: string;
  stream_id: number;
  length: number;
  flags: string[];
  settings?: H2Setting[];
  increment?: number;
  priority?: H2Priority;
  /** For HEADERS: the decoded block as "name: value" lines (once END_HEADERS arrived). */
  headers?: string[];
}

export interface H2HeadersFrameInfo {
  stream_id: number;
  flags: string[];
  /** null when the PRIORITY flag was not set. */
  priority: H2Priority | null;
}

export interface H2WindowUpdate {
  stream_id: number;
  increment: number;
}

export interface H2Fingerprint {
  akamai_fingerprint: string;
  akamai_fingerprint_hash: string;
  /** Entries of the first non-ACK SETTINGS frame, in wire order. */
  settings: H2Setting[];
  /** Increment of the first stream-0 WINDOW_UPDATE before the first HEADERS; null when none. */
  window_update: number | null;
  /** PRIORITY frames received before the first HEADERS. */
  priority_frames: H2PriorityFrame[];
  headers_frame: H2HeadersFrameInfo | null;
  /** The HEADERS frame that opened the stream asked about (fingerprint(streamId)); else the first one. */
  request_headers_frame: H2HeadersFrameInfo | null;
  /** Pseudo-headers of the first HEADERS, in order, e.g. [":method", ":authority", ":scheme", ":path"]. */
  pseudo_header_order: string[];
  /** WINDOW_UPDATEs on streams other than 0 (first few). */
  stream_window_updates: H2WindowUpdate[];
  /**
   * The stream asked about (golden field name: the request's stream); without one, the first HEADERS' stream.
   */
  stream_id: number | null;
  /** The first frames, in order. */
  sent_frames: H2Frame[];
  /** Why observation stopped early, if it did. */
  observer_error: string | null;
}

export interface H2ParserOptions {
  /** How many frames `sent_frames` keeps. Default 32. */
  maxRecordedFrames?: number;
  /**
   * The SETTINGS_HEADER_TABLE_SIZE the server side advertised (limit for the HPACK decoder). Default 4096.
   */
  headerTableSize?: number;
}

interface PendingBlock {
  streamId: number;
  frame: H2Frame;
  fragments: Buffer[];
  bytes: number;
}

const PSEUDO_LETTERS: ReadonlyMap<string, string> = new Map([
  [':method', 'm'],
  [':authority', 'a'],
  [':scheme', 's'],
  [':path', 'p'],
]);

function flagNames(type: number, flags: number): string[] {
  const out: string[] = [];
  if (type === TYPE_SETTINGS || type === 6 /* PING */) {
    if (flags & FLAG_ACK) out.push('ACK');
    return out;
  }
  if ((type === TYPE_DATA || type === TYPE_HEADERS) && flags & FLAG_END_STREAM) out.push('END_STREAM');
  if ((type === TYPE_DATA || type === TYPE_HEADERS || type === 5) && flags & FLAG_PADDED) out.push('PADDED');
  if (type === TYPE_HEADERS && flags & FLAG_PRIORITY) out.push('PRIORITY');
  if ((type === TYPE_HEADERS || type === TYPE_CONTINUATION || type === 5) && flags & FLAG_END_HEADERS)
    out.push('END_HEADERS');
  return out;
}

function readPriority(buf: Buffer, offset: number): H2Priority {
  const word = buf.readUInt32BE(offset);
  return { exclusive: word & 0x80000000 ? 1 : 0, depends_on: word & 0x7fffffff, weight: buf[offset + 4] + 1 };
}

export class H2FrameParser {
  private buf: Buffer = Buffer.alloc(0);
  private prefaceDone = false;
  private skip = 0;
  private stopped = false;
  private readonly maxFrames: number;
  private readonly hpack: HpackDecoder;
  private pending: PendingBlock | null = null;
  private readonly requestHeaders = new Map<number, HeaderField[]>();
  private readonly requestFrames = new Map<number, H2HeadersFrameInfo>();

  /** Every frame seen so far, up to maxRecordedFrames. */
  readonly frames: H2Frame[] = [];
  settings: H2Setting[] | null = null;
  windowUpdate: number | null = null;
  readonly priorityFrames: H2PriorityFrame[] = [];
  firstHeaders: (H2HeadersFrameInfo & { headers: HeaderField[] | null }) | null = null;
  readonly streamWindowUpdates: H2WindowUpdate[] = [];
  error: string | null = null;
  /** Total frames parsed (not only recorded). */
  frameCount = 0;

  constructor(options: H2ParserOptions = {}) {
    this.maxFrames = options.maxRecordedFrames ?? 32;
    this.hpack = new HpackDecoder(options.headerTableSize ?? 4096);
  }

  /** Feeds client-to-server bytes. Never throws: a problem stops observation and is kept in `error`. */
  push(chunk: Uint8Array): void {
    if (this.stopped) return;
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.skip > 0) {
      const n = Math.min(this.skip, data.length);
      this.skip -= n;
      data = data.subarray(n);
    }
    if (data.length === 0) return;
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    try {
      this.drain();
    } catch (err) {
      this.stop(err instanceof Error ? err.message : String(err));
    }
    // Never keep a reference into a caller's large chunk longer than needed.
    if (this.buf.length > 0 && this.buf.buffer.byteLength > this.buf.length * 4)
      this.buf = Buffer.from(this.buf);
  }

  /** The decoded request header block of a stream, in wire order (HEADERS + CONTINUATION). */
  headersOf(streamId: number): HeaderField[] | undefined {
    return this.requestHeaders.get(streamId);
  }

  /**
   * Like headersOf, and forgets them (the echo server calls this once per answered stream, after
   * fingerprint()).
   */
  takeHeaders(streamId: number): HeaderField[] | undefined {
    const h = this.requestHeaders.get(streamId);
    this.requestHeaders.delete(streamId);
    this.requestFrames.delete(streamId);
    return h;
  }

  /**
   * The connection's fingerprint; with `streamId`, `stream_id` and `request_headers_frame` describe that
   * request.
   */
  fingerprint(streamId?: number): H2Fingerprint {
    const first = this.firstHeaders;
    const firstInfo = first
      ? { stream_id: first.stream_id, flags: first.flags, priority: first.priority }
      : null;
    const requestInfo = streamId === undefined ? firstInfo : (this.requestFrames.get(streamId) ?? null);
    const pseudo = first?.headers ? first.headers.filter(([n]) => n.startsWith(':')).map(([n]) => n) : [];
    const akamai = akamaiString(this.settings ?? [], this.windowUpdate, this.priorityFrames, pseudo);
    return {
      akamai_fingerprint: akamai,
      akamai_fingerprint_hash: createHash('md5').update(akamai).digest('hex'),
      settings: this.settings ?? [],
      window_update: this.windowUpdate,
      priority_frames: this.priorityFrames.slice(),
      headers_frame: firstInfo,
      request_headers_frame: requestInfo,
      pseudo_header_order: pseudo,
      stream_window_updates: this.streamWindowUpdates.slice(),
      stream_id: streamId ?? (first ? first.stream_id : null),
      sent_frames: this.frames.map((f) => ({ ...f })),
      observer_error: this.error,
    };
  }

  private stop(reason: string): void {
    this.stopped = true;
    this.error = reason;
    this.buf = Buffer.alloc(0);
  }

  private drain(): void {
    if (!this.prefaceDone) {
      const n = Math.min(this.buf.length, CONNECTION_PREFACE.length);
      if (!this.buf.subarray(0, n).equals(CONNECTION_PREFACE.subarray(0, n))) {
        throw new Error('the client did not send the HTTP/2 connection preface');
      }
      if (this.buf.length < CONNECTION_PREFACE.length) return;
      this.buf = this.buf.subarray(CONNECTION_PREFACE.length);
      this.prefaceDone = true;
    }
    while (this.buf.length >= FRAME_HEADER && !this.stopped) {
      const length = this.buf.readUIntBE(0, 3);
      const type = this.buf[3];
      const flags = this.buf[4];
      const streamId = this.buf.readUInt32BE(5) & 0x7fffffff;
      if (type === TYPE_DATA) {
        this.record({ frame_type: 'DATA', stream_id: streamId, length, flags: flagNames(type, flags) });
        const available = this.buf.length - FRAME_HEADER;
        const n = Math.min(length, available);
        this.skip = length - n;
        this.buf = this.buf.subarray(FRAME_HEADER + n);
        continue;
      }
      if (length > MAX_BUFFERED_FRAME)
        throw new Error(`${FRAME_TYPES[type] ?? `frame type ${type}`} of ${length} bytes`);
      if (this.buf.length < FRAME_HEADER + length) return;
      const payload = this.buf.subarray(FRAME_HEADER, FRAME_HEADER + length);
      this.buf = this.buf.subarray(FRAME_HEADER + length);
      this.onFrame(type, flags, streamId, payload);
    }
  }

  private record(frame: H2Frame): void {
    this.frameCount++;
    if (this.frames.length < this.maxFrames) this.frames.push(frame);
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    const frame: H2Frame = {
      frame_type: FRAME_TYPES[type] ?? `UNKNOWN_${type}`,
      stream_id: streamId,
      length: payload.length,
      flags: flagNames(type, flags),
    };
    if (this.pending && type !== TYPE_CONTINUATION)
      throw new Error(`${frame.frame_type} frame inside a header block`);
    switch (type) {
      case TYPE_SETTINGS: {
        if (payload.length % 6 !== 0) throw new Error(`SETTINGS payload of ${payload.length} bytes`);
        const entries: H2Setting[] = [];
        for (let off = 0; off < payload.length; off += 6) {
          const id = payload.readUInt16BE(off);
          entries.push({
            id,
            name: SETTINGS_NAMES.get(id) ?? `UNKNOWN_${id}`,
            value: payload.readUInt32BE(off + 2),
          });
        }
        frame.settings = entries;
        if (!(flags & FLAG_ACK) && this.settings === null) this.settings = entries;
        this.record(frame);
        break;
      }
      case TYPE_WINDOW_UPDATE: {
        if (payload.length !== 4) throw new Error(`WINDOW_UPDATE payload of ${payload.length} bytes`);
        const increment = payload.readUInt32BE(0) & 0x7fffffff;
        frame.increment = increment;
        if (streamId === 0) {
          if (this.windowUpdate === null && this.firstHeaders === null) this.windowUpdate = increment;
        } else if (this.streamWindowUpdates.length < this.maxFrames) {
          this.streamWindowUpdates.push({ stream_id: streamId, increment });
        }
        this.record(frame);
        break;
      }
      case TYPE_PRIORITY: {
        if (payload.length !== 5) throw new Error(`PRIORITY payload of ${payload.length} bytes`);
        const priority = readPriority(payload, 0);
        frame.priority = priority;
        if (this.firstHeaders === null && this.priorityFrames.length < 256)
          this.priorityFrames.push({ stream_id: streamId, ...priority });
        this.record(frame);
        break;
      }
      case TYPE_HEADERS: {
        let off = 0;
        let end = payload.length;
        if (flags & FLAG_PADDED) {
          if (payload.length < 1) throw new Error('HEADERS too short for its padding length');
          end -= payload[0];
          off = 1;
        }
        let priority: H2Priority | null = null;
        if (flags & FLAG_PRIORITY) {
          if (off + 5 > end) throw new Error('HEADERS too short for its priority');
          priority = readPriority(payload, off);
          frame.priority = priority;
          off += 5;
        }
        if (end < off) throw new Error('HEADERS padding longer than the payload');
        if (this.firstHeaders === null) {
          this.firstHeaders = { stream_id: streamId, flags: frame.flags, priority, headers: null };
        }
        this.record(frame);
        if (!this.requestFrames.has(streamId)) {
          this.requestFrames.set(streamId, { stream_id: streamId, flags: frame.flags, priority });
          if (this.requestFrames.size > 1024) {
            const oldest = this.requestFrames.keys().next().value;
            if (oldest !== undefined) this.requestFrames.delete(oldest);
          }
        }
        this.pending = {
          streamId,
          frame,
          fragments: [Buffer.from(payload.subarray(off, end))],
          bytes: end - off,
        };
        if (flags & FLAG_END_HEADERS) this.finishBlock();
        break;
      }
      case TYPE_CONTINUATION: {
        if (!this.pending || this.pending.streamId !== streamId)
          throw new Error('CONTINUATION without a header block');
        this.record(frame);
        this.pending.fragments.push(Buffer.from(payload));
        this.pending.bytes += payload.length;
        if (this.pending.bytes > MAX_HEADER_BLOCK) throw new Error('header block larger than 1 MiB');
        if (flags & FLAG_END_HEADERS) this.finishBlock();
        break;
      }
      default:
        this.record(frame);
        break;
    }
  }

  private finishBlock(): void {
    const p = this.pending as PendingBlock;
    this.pending = null;
    const fields = this.hpack.decode(p.fragments.length === 1 ? p.fragments[0] : Buffer.concat(p.fragments));
    p.frame.headers = fields.map(([n, v]) => `${n}: ${v}`);
    if (
      this.firstHeaders &&
      this.firstHeaders.stream_id === p.streamId &&
      this.firstHeaders.headers === null
    ) {
      this.firstHeaders.headers = fields;
    }
    // A second HEADERS on a stream carries trailers: keep the request's own header list.
    if (!this.requestHeaders.has(p.streamId)) this.requestHeaders.set(p.streamId, fields);
    // Bound memory when nobody takes them (e.g. a client that opens streams the server resets).
    if (this.requestHeaders.size > 1024) {
      const oldest = this.requestHeaders.keys().next().value;
      if (oldest !== undefined) this.requestHeaders.delete(oldest);
    }
  }
}

/** `S|WU|P|PS` as in the Akamai HTTP/2 fingerprint and the golden captures. */
export function akamaiString(
  settings: ReadonlyArray<{ id: number; value: number }>,
  windowUpdate: number | null,
  priorityFrames: ReadonlyArray<H2PriorityFrame>,
  pseudoHeaders: ReadonlyArray<string>,
): string {
  const s = settings.map((e) => `${e.id}:${e.value}`).join(';');
  const wu = windowUpdate === null ? '00' : String(windowUpdate);
  const p =
    priorityFrames.length === 0
      ? '0'
      : priorityFrames.map((f) => `${f.stream_id}:${f.exclusive}:${f.depends_on}:${f.weight}`).join(',');
  const ps = pseudoHeaders
    .map((n) => PSEUDO_LETTERS.get(n))
    .filter((x): x is string => x !== undefined)
    .join(',');
  return `${s}|${wu}|${p}|${ps}`;
}

/** Parses a whole client byte stream (preface + frames) at once. */
export function parseH2FirstFlight(bytes: Uint8Array, options?: H2ParserOptions): H2Fingerprint {
  const parser = new H2FrameParser(options);
  parser.push(bytes);
  return parser.fingerprint();
}
