// The event-stream protocol half of sse(): lib/open-event-source.ts is the public API that runs it.
// The event-stream parser of the WHATWG HTML standard (§9.2.6 "Interpreting an event stream"):
// bytes in, events out. UTF-8 is decoded across chunk boundaries (invalid bytes become U+FFFD, one
// BOM at the start of the stream is dropped); lines end with CRLF, LF or CR, also when the CR and
// the LF arrive in different chunks.
//
// What a server can make it hold is bounded (maxEventBytes): the line being read plus the event
// being gathered (its data, type and id), counted in UTF-8 bytes as they arrive. A line that never
// ends or an event that is never dispatched stops there with ERR_BODY_TOO_LARGE instead of growing
// until the process runs out of memory.
import { Buffer } from 'node:buffer';

import { CycleTLSError } from './errors';

export interface SSEEvent {
  /** The last event id in force when the event was dispatched (absent while it is empty). */
  id?: string;
  /** The event type: the `event` field, or 'message'. */
  event?: string;
  data: string;
  /** The reconnection time, when this event's block carried a valid `retry` field. */
  retry?: number;
}

const LF = 10;
const CR = 13;

/**
 * The default of maxEventBytes: 16 MiB. Real events are a few KiB (even ones carrying a whole JSON
 * document stay far below a MiB), while a process only gets into memory trouble at hundreds of MiB;
 * sse()'s queue of undelivered events is bounded by the same figure, so one stream holds a few times
 * this at most.
 */
export const DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024;

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export class SSEParser {
  /** The last event id: set by `id` fields at dispatch, kept across events and reconnections. */
  lastEventId = '';
  /** The reconnection time the server asked for (`retry`), ms; undefined until it does. */
  retry: number | undefined;

  private decoder = new TextDecoder('utf-8');
  private line = '';
  private afterCR = false;
  private data = '';
  private eventType = '';
  private idBuffer = '';
  private blockRetry: number | undefined;
  // UTF-8 sizes of what is held: the pending line, and the pending event's data, type and id.
  private lineBytes = 0;
  private dataBytes = 0;
  private typeBytes = 0;
  private idBytes = 0;
  private failed: CycleTLSError | undefined;

  /** @param maxEventBytes the most the pending line and event may hold together (UTF-8 bytes). */
  constructor(private readonly maxEventBytes: number = DEFAULT_MAX_EVENT_BYTES) {}

  /** What the pending line and the pending event hold now, in UTF-8 bytes (at most maxEventBytes). */
  get heldBytes(): number {
    return this.lineBytes + this.eventBytes();
  }

  /** The ERR_BODY_TOO_LARGE that stopped this parser, if one did. */
  get failure(): CycleTLSError | undefined {
    return this.failed;
  }

  /**
   * Parses a chunk; returns the events it completed. When the pending line and event would pass
   * maxEventBytes, parsing stops: what was held is dropped, `failure` is set (ERR_BODY_TOO_LARGE)
   * and the events completed before it in this chunk are returned; a later push() throws it.
   */
  push(chunk: Uint8Array): SSEEvent[] {
    if (this.failed) throw this.failed;
    const out: SSEEvent[] = [];
    this.feed(this.decoder.decode(chunk, { stream: true }), out);
    return out;
  }

  /**
   * The end of the stream: an incomplete line and an undispatched event are discarded (as the
   * standard says). The parser is ready for a new stream; the last event id and retry persist.
   */
  end(): void {
    this.decoder = new TextDecoder('utf-8');
    this.line = '';
    this.afterCR = false;
    this.data = '';
    this.eventType = '';
    this.idBuffer = this.lastEventId;
    this.blockRetry = undefined;
    this.lineBytes = 0;
    this.dataBytes = 0;
    this.typeBytes = 0;
    this.idBytes = 0;
    this.failed = undefined;
  }

  private eventBytes(): number {
    return this.dataBytes + this.typeBytes + this.idBytes;
  }

  /** Whether `more` bytes of line still fit; if not, the parser fails and lets go of what it held. */
  private fits(more: number): boolean {
    const held = this.lineBytes + more + this.eventBytes();
    if (held <= this.maxEventBytes) return true;
    this.failed = new CycleTLSError(
      'ERR_BODY_TOO_LARGE',
      `an event-stream line and event passed maxEventBytes (${this.maxEventBytes} bytes) ` +
        'before the event ended',
      'body',
    );
    const lastEventId = this.lastEventId;
    const retry = this.retry;
    const failed = this.failed;
    this.end();
    this.failed = failed;
    this.lastEventId = lastEventId;
    this.retry = retry;
    return false;
  }

  private feed(text: string, out: SSEEvent[]): void {
    const n = text.length;
    let i = 0;
    if (this.afterCR && n > 0) {
      this.afterCR = false;
      if (text.charCodeAt(0) === LF) i = 1;
    }
    while (i < n) {
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === LF || c === CR) break;
        j++;
      }
      if (j === n) {
        const rest = text.slice(i);
        const size = utf8Length(rest);
        if (!this.fits(size)) return;
        this.line += rest;
        this.lineBytes += size;
        return;
      }
      const piece = text.slice(i, j);
      if (!this.fits(utf8Length(piece))) return;
      const line = this.line + piece;
      this.line = '';
      this.lineBytes = 0;
      this.processLine(line, out);
      if (text.charCodeAt(j) === CR) {
        if (j + 1 === n) this.afterCR = true;
        else if (text.charCodeAt(j + 1) === LF) j++;
      }
      i = j + 1;
    }
  }

  private processLine(line: string, out: SSEEvent[]): void {
    if (line === '') {
      this.dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return; // a comment
    const colon = line.indexOf(':');
    let field = line;
    let value = '';
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 32 /* space */) value = value.slice(1);
    }
    switch (field) {
      case 'event':
        this.eventType = value;
        this.typeBytes = utf8Length(value);
        break;
      case 'data':
        this.data += `${value}\n`;
        this.dataBytes += utf8Length(value) + 1;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.idBuffer = value;
          this.idBytes = utf8Length(value);
        }
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) {
          this.retry = Number(value);
          this.blockRetry = this.retry;
        }
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  private dispatch(out: SSEEvent[]): void {
    this.lastEventId = this.idBuffer;
    const retry = this.blockRetry;
    this.blockRetry = undefined;
    this.dataBytes = 0;
    this.typeBytes = 0;
    this.idBytes = 0;
    if (this.data === '') {
      this.eventType = '';
      return;
    }
    const event: SSEEvent = { data: this.data.slice(0, -1), event: this.eventType || 'message' };
    if (this.lastEventId !== '') event.id = this.lastEventId;
    if (retry !== undefined) event.retry = retry;
    this.data = '';
    this.eventType = '';
    out.push(event);
  }
}
