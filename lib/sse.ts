// The event-stream parser of the WHATWG HTML standard (§9.2.6 "Interpreting an event stream"):
// bytes in, events out. UTF-8 is decoded across chunk boundaries (invalid bytes become U+FFFD, one
// BOM at the start of the stream is dropped); lines end with CRLF, LF or CR, also when the CR and
// the LF arrive in different chunks.

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

  /** Parses a chunk; returns the events it completed. */
  push(chunk: Uint8Array): SSEEvent[] {
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
        this.line += text.slice(i);
        return;
      }
      const line = this.line + text.slice(i, j);
      this.line = '';
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
      case 'event': this.eventType = value; break;
      case 'data': this.data += `${value}\n`; break;
      case 'id': if (!value.includes('\0')) this.idBuffer = value; break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) {
          this.retry = Number(value);
          this.blockRetry = this.retry;
        }
        break;
      default: break; // unknown fields are ignored
    }
  }

  private dispatch(out: SSEEvent[]): void {
    this.lastEventId = this.idBuffer;
    const retry = this.blockRetry;
    this.blockRetry = undefined;
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
