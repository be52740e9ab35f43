// One WebSocket connection after the 101, over any byte transport: messages in (reassembled,
// inflated, UTF-8 checked) and out (compressed, masked, optionally fragmented), pings and pongs, the
// closing handshake with its timeouts, back-pressure both ways, and the user-facing API of ws().
import { Buffer, isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';

import { isArrayBufferLike } from '../body';
import { CycleTLSError, invalidOption, invalidRange } from '../errors';
import { PerMessageDeflate } from './deflate';
import type { DeflateTuning, NegotiatedDeflate } from './deflate';
import {
  FrameParser,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  WsProtocolError,
  closePayload,
  encodeFrame,
  encodeFrameHeader,
  isValidCloseCode,
  parseClosePayload,
} from './frame';
import type { WsFrame } from './frame';

/**
 * The connection the session runs over. Its owner calls the session's receive() with each chunk
 * from the server (chunks are kept, not copied: they must not be reused), transportEnded() on EOF,
 * transportFailed() on errors, and drained() when writableLength() dropped. After either of the
 * last two the owner closes the connection itself; the session calls end() in every other case.
 */
export interface WsTransport {
  /** Bytes for the server, in order; never throws. */
  write(chunk: Buffer): void;
  /** Bytes written but not yet sent (for bufferedAmount and back-pressure). */
  writableLength(): number;
  /**
   * Closes the connection now, after flushing what was written (after the close handshake, or on failure).
   */
  end(): void;
  /** Stops (true) or resumes (false) reading from the server. */
  pause(paused: boolean): void;
  /**
   * Optional: writes a frame `header` (its last 4 bytes the mask key) followed by `payload` XORed
   * with that key, masking while copying. Without it, frames are masked here and go to write().
   */
  writeMasked?(header: Buffer, payload: Buffer): void;
  /** Optional: cuts the connection now, nothing flushed (terminate()); without it, end() is used. */
  destroy?(): void;
}

export interface WsMessage {
  type: 'text' | 'binary';
  data: string | Buffer;
}

export interface WebSocketSessionOptions {
  /** The subprotocol the server chose ('' for none). */
  protocol?: string;
  /** The server's Sec-WebSocket-Extensions ('' for none). */
  extensions?: string;
  /** permessage-deflate parameters, when negotiated (verifyHandshake's `deflate`). */
  deflate?: NegotiatedDeflate;
  deflateTuning?: DeflateTuning;
  /**
   * Largest message accepted, before and after inflating, bytes; more is closed with 1009. Default 100 MiB.
   */
  maxPayload?: number;
  /** send() and ping() resolve once the transport holds less than this, bytes. Default 1 MiB. */
  highWaterMark?: number;
  /**
   * Splits outgoing messages into frames of at most this many payload bytes; 0 (default) sends one frame
   * each.
   */
  fragmentSize?: number;
  /**
   * After the Close frames were exchanged, how long the server has to close the connection, ms. Default 1000.
   */
  closeTimeoutMs?: number;
  /** After our Close, how long the server has to answer with its own, ms. Default 5000. */
  closeHandshakeTimeoutMs?: number;
  /** Messages held for a consumer that is not taking them before reading is paused. Default 64. */
  queueLimit?: number;
}

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;
const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
const DEFAULT_CLOSE_TIMEOUT_MS = 1000;
const DEFAULT_CLOSE_HANDSHAKE_TIMEOUT_MS = 5000;
const DEFAULT_QUEUE_LIMIT = 64;
const MAX_CLOSE_REASON = 123;
// From this payload size a transport's writeMasked() is used: below it, one JS copy is cheaper
// than a second call across the binding.
const MASK_IN_TRANSPORT_BYTES = 4096;
const EMPTY = Buffer.alloc(0);

interface PendingWrite {
  resolve: () => void;
  reject: (err: Error) => void;
  /** Handed to the transport (and now only waiting for it to drain). */
  written: boolean;
}

interface Waiter {
  resolve: (r: IteratorResult<WsMessage>) => void;
  reject: (err: Error) => void;
}

interface Outcome {
  code: number;
  reason: string;
  error: Error | undefined;
}

function rethrowLater(err: unknown): void {
  process.nextTick(() => {
    throw err;
  });
}

function option(name: string, v: number | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || Number.isNaN(v) || v < min)
    throw invalidRange(`option "${name}" must be a number ≥ ${min}, got ${String(v)}`);
  return v;
}

/** A reason cut to what fits a Close frame, at a character boundary. */
function fitReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out, 'utf8') > MAX_CLOSE_REASON) out = out.slice(0, -1);
  return out;
}

function closedError(what: string): CycleTLSError {
  return new CycleTLSError(
    'ERR_CONNECTION_CLOSED',
    `the WebSocket connection closed before ${what}`,
    'write',
  );
}

function decodeUtf8(decoder: TextDecoder, bytes: Buffer, stream: boolean): string {
  try {
    return decoder.decode(bytes, { stream });
  } catch {
    throw new WsProtocolError(1007, 'text message is not valid UTF-8');
  }
}

/**
 * The protocol state of one connection (RFC 6455 §5–7, RFC 7692 §6–7). Nothing here touches a
 * socket: bytes go out through the transport and come in through receive(). No internal promise is
 * left without a handler: only the promises returned to the caller can reject.
 */
export class WebSocketSession {
  private readonly transport: WsTransport;
  private readonly parser: FrameParser;
  private readonly deflate: PerMessageDeflate | undefined;
  private readonly maxPayload: number;
  private readonly highWaterMark: number;
  private readonly fragmentSize: number;
  private readonly closeTimeoutMs: number;
  private readonly closeHandshakeTimeoutMs: number;
  private readonly queueLimit: number;
  private readonly protocolValue: string;
  private readonly extensionsValue: string;

  private state = OPEN;
  private closeSent = false;
  private closeReceived: { code: number; reason: string } | undefined;
  private ended = false;
  private outcome: Outcome | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  // The message being received.
  private msgOpcode = 0;
  private msgCompressed = false;
  private msgParts: Buffer[] = [];
  private msgSize = 0;
  private msgText = '';
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  /** Frames that came while a message was being inflated; handled in order after it. */
  private backlog: WsFrame[] = [];
  private inflating = false;
  /** The server's EOF came while a message was being inflated. */
  private eofPending = false;

  // Outgoing: sends waiting for compression (in order), and writes waiting for the transport to drain.
  private readonly pending = new Set<PendingWrite>();
  private drainWaiters: PendingWrite[] = [];
  private outboundTail: Promise<void> = Promise.resolve();
  private outboundCount = 0;
  private outboundBytes = 0;

  private readonly messageListeners: Array<(m: WsMessage) => void> = [];
  private readonly closeListeners: Array<(code: number, reason: string) => void> = [];
  private readonly errorListeners: Array<(err: Error) => void> = [];
  private readonly pingListeners: Array<(data: Buffer) => void> = [];
  private readonly pongListeners: Array<(data: Buffer) => void> = [];
  private readonly undeliveredErrors: Error[] = [];
  private readonly queue: WsMessage[] = [];
  private readonly waiters: Waiter[] = [];
  private iterating = false;
  private errorThrown = false;
  private paused = false;
  /** Once close() was called, reading goes on regardless of consumers, to get the server's Close. */
  private drainForClose = false;

  constructor(transport: WsTransport, options: WebSocketSessionOptions = {}) {
    this.transport = transport;
    this.maxPayload = option('maxPayload', options.maxPayload, DEFAULT_MAX_PAYLOAD, 0);
    this.highWaterMark = option('highWaterMark', options.highWaterMark, DEFAULT_HIGH_WATER_MARK, 1);
    this.fragmentSize = option('fragmentSize', options.fragmentSize, 0, 0);
    this.closeTimeoutMs = option('closeTimeoutMs', options.closeTimeoutMs, DEFAULT_CLOSE_TIMEOUT_MS, 0);
    this.closeHandshakeTimeoutMs = option(
      'closeHandshakeTimeoutMs',
      options.closeHandshakeTimeoutMs,
      DEFAULT_CLOSE_HANDSHAKE_TIMEOUT_MS,
      0,
    );
    this.queueLimit = option('queueLimit', options.queueLimit, DEFAULT_QUEUE_LIMIT, 1);
    this.protocolValue = options.protocol ?? '';
    this.extensionsValue = options.extensions ?? '';
    this.deflate = options.deflate
      ? new PerMessageDeflate(options.deflate, options.deflateTuning)
      : undefined;
    this.parser = new FrameParser({
      onFrame: (f) => this.onFrame(f),
      maxPayload: this.maxPayload,
      perMessageDeflate: this.deflate !== undefined,
    });
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** 0 CONNECTING (never: a session starts open), 1 OPEN, 2 CLOSING, 3 CLOSED — as WHATWG's WebSocket. */
  get readyState(): number {
    return this.state;
  }

  /**
   * Bytes of messages sent but not yet on the wire: waiting for compression (uncompressed size) or in the
   * transport.
   */
  get bufferedAmount(): number {
    return this.outboundBytes + this.transport.writableLength();
  }

  get protocol(): string {
    return this.protocolValue;
  }

  get extensions(): string {
    return this.extensionsValue;
  }

  // ---- from the owner ----

  /** Bytes from the server. */
  receive(chunk: Buffer): void {
    // After the server's Close nothing more is read (RFC 6455 §5.5.1).
    if (this.state === CLOSED || this.closeReceived) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      this.fail(err);
    }
  }

  /** The server closed the connection (EOF). */
  transportEnded(): void {
    if (this.state === CLOSED) return;
    this.ended = true;
    // What came before the EOF (a message being inflated, a Close behind it) is handled first.
    if (this.inflating) {
      this.eofPending = true;
      return;
    }
    if (this.closeReceived) {
      this.finish(this.closeReceived.code, this.closeReceived.reason, undefined);
    } else if (this.closeSent) {
      // We asked to close and the server hung up without answering: abnormal, but what was asked.
      this.finish(1006, '', undefined);
    } else {
      this.abnormal(
        new CycleTLSError(
          'ERR_CONNECTION_CLOSED',
          'the server closed the connection without a Close frame',
          'body',
        ),
      );
    }
  }

  /**
   * The connection failed. After a complete close handshake that is no failure (e.g. a reset right after).
   */
  transportFailed(err: Error): void {
    if (this.state === CLOSED) return;
    this.ended = true;
    if (this.closeReceived && this.closeSent)
      this.finish(this.closeReceived.code, this.closeReceived.reason, undefined);
    else this.abnormal(err);
  }

  /** The transport's writableLength dropped: writes waiting for room may resolve. */
  drained(): void {
    if (this.drainWaiters.length === 0 || this.transport.writableLength() >= this.highWaterMark) return;
    const ready = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of ready) {
      this.pending.delete(w);
      w.resolve();
    }
  }

  // ---- the user's API ----

  /**
   * Sends a message: a string as text (binary when isBinary is true), bytes as binary (text when
   * isBinary is false; they must then be UTF-8). Resolves once the frame is with the transport and
   * it holds less than the high-water mark, so awaiting each send() paces a loop. Compressed
   * messages are compressed in order, asynchronously: a Buffer must not change until send()
   * resolves. Every message is compressed when permessage-deflate was negotiated, as browsers do.
   */
  send(
    data: string | Buffer | ArrayBuffer | SharedArrayBuffer | ArrayBufferView,
    isBinary?: boolean,
  ): Promise<void> {
    let opcode: number;
    let payload: Buffer;
    if (typeof data === 'string') {
      opcode = isBinary === true ? OP_BINARY : OP_TEXT;
      payload = Buffer.from(data, 'utf8');
    } else if (Buffer.isBuffer(data) || isArrayBufferLike(data) || ArrayBuffer.isView(data)) {
      payload = Buffer.isBuffer(data)
        ? data
        : isArrayBufferLike(data)
          ? Buffer.from(data)
          : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      opcode = isBinary === false ? OP_TEXT : OP_BINARY;
      if (opcode === OP_TEXT && !isUtf8(payload))
        return Promise.reject(invalidOption('send(): bytes sent as text must be valid UTF-8'));
    } else {
      return Promise.reject(invalidOption('send() takes a string, Buffer, ArrayBuffer or ArrayBufferView'));
    }
    if (this.state !== OPEN) return Promise.reject(this.notOpen('send'));
    return new Promise<void>((resolve, reject) => {
      const entry: PendingWrite = { resolve, reject, written: false };
      this.pending.add(entry);
      const deflate = this.deflate;
      if (deflate === undefined) {
        this.writeMessage(opcode, payload, false);
        this.written(entry);
        return;
      }
      this.outboundCount++;
      this.outboundBytes += payload.length;
      const done = (): void => {
        this.outboundCount--;
        this.outboundBytes -= payload.length;
      };
      this.outboundTail = deflate.compress(payload).then(
        (compressed) => {
          done();
          if (!this.pending.has(entry)) return;
          if (this.closeSent || this.state === CLOSED) {
            this.pending.delete(entry);
            entry.reject(closedError('the message was sent'));
            return;
          }
          this.writeMessage(opcode, compressed, true);
          this.written(entry);
        },
        (err: unknown) => {
          done();
          if (!this.pending.has(entry)) return;
          this.pending.delete(entry);
          entry.reject(err as Error);
          this.fail(err);
        },
      );
    });
  }

  /** Sends a Ping (≤ 125 bytes); resolves as send() does. Pongs come to onPong. */
  ping(data?: Buffer | string): Promise<void> {
    return this.control(OP_PING, 'ping', data);
  }

  private control(opcode: number, what: string, data: Buffer | string | undefined): Promise<void> {
    const payload = data === undefined ? EMPTY : typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (!Buffer.isBuffer(payload))
      return Promise.reject(invalidOption(`${what}() takes a Buffer or a string`));
    if (payload.length > 125)
      return Promise.reject(invalidRange(`a ${what} payload is at most 125 bytes, got ${payload.length}`));
    if (this.state !== OPEN) return Promise.reject(this.notOpen(what));
    return new Promise<void>((resolve, reject) => {
      const entry: PendingWrite = { resolve, reject, written: false };
      this.pending.add(entry);
      // Control frames go out at once, ahead of messages still being compressed.
      this.transport.write(encodeFrame(opcode, payload));
      this.written(entry);
    });
  }

  /** Sends an unsolicited Pong (≤ 125 bytes, RFC 6455 §5.5.3: a heartbeat); resolves as send() does. */
  pong(data?: Buffer | string): Promise<void> {
    return this.control(OP_PONG, 'pong', data);
  }

  /**
   * Ends the connection at once, without the closing handshake (the `ws` package's terminate()):
   * pending sends reject, onClose hears 1006.
   */
  terminate(): void {
    if (this.state === CLOSED) return;
    if (!this.ended) {
      this.ended = true;
      if (this.transport.destroy) this.transport.destroy();
      else this.transport.end();
    }
    this.finish(1006, '', undefined);
  }

  /**
   * Starts the closing handshake (after the messages already sent) and resolves once the connection
   * is closed and the onClose callbacks ran. Codes: 1000, 1001–1003, 1007–1014, 3000–4999; the
   * reason at most 123 UTF-8 bytes. Calling it again returns the same promise.
   */
  close(code = 1000, reason = ''): Promise<void> {
    if (typeof code !== 'number' || !isValidCloseCode(code)) {
      return Promise.reject(
        invalidRange(`close code must be 1000, 1001–1003, 1007–1014 or 3000–4999, got ${String(code)}`),
      );
    }
    if (typeof reason !== 'string') return Promise.reject(invalidOption('close reason must be a string'));
    if (Buffer.byteLength(reason, 'utf8') > MAX_CLOSE_REASON) {
      return Promise.reject(invalidRange(`close reason must be at most ${MAX_CLOSE_REASON} UTF-8 bytes`));
    }
    if (this.state !== OPEN) return this.closed;
    this.state = CLOSING;
    this.drainForClose = true;
    this.updatePause();
    this.armCloseTimer(this.closeHandshakeTimeoutMs, 1006);
    const sendClose = (): void => {
      if (this.state !== CLOSED) this.sendClose(code, reason);
    };
    if (this.outboundCount === 0) sendClose();
    else this.outboundTail = this.outboundTail.then(sendClose);
    return this.closed;
  }

  onMessage(cb: (m: WsMessage) => void): void {
    if (typeof cb !== 'function') throw invalidOption('onMessage() takes a function');
    this.messageListeners.push(cb);
    // Messages that came before the first callback (and are not an iterator's) go to it now.
    if (!this.iterating) for (const m of this.queue.splice(0)) this.deliver(m);
    this.updatePause();
  }

  /** Called once with the close code (the server's; 1005 when it gave none; 1006 for an abnormal end). */
  onClose(cb: (code: number, reason: string) => void): void {
    if (typeof cb !== 'function') throw invalidOption('onClose() takes a function');
    this.closeListeners.push(cb);
    if (this.outcome) this.call(cb, this.outcome.code, this.outcome.reason);
  }

  onError(cb: (err: Error) => void): void {
    if (typeof cb !== 'function') throw invalidOption('onError() takes a function');
    this.errorListeners.push(cb);
    for (const err of this.undeliveredErrors.splice(0)) this.call(cb, err);
  }

  onPing(cb: (data: Buffer) => void): void {
    if (typeof cb !== 'function') throw invalidOption('onPing() takes a function');
    this.pingListeners.push(cb);
  }

  onPong(cb: (data: Buffer) => void): void {
    if (typeof cb !== 'function') throw invalidOption('onPong() takes a function');
    this.pongListeners.push(cb);
  }

  /**
   * Messages, pulled: reading from the server pauses while more than queueLimit wait. Ends after
   * the close; throws the error once if the connection failed. Leaving a for-await loop early
   * closes the connection (1000).
   */
  messages(): AsyncIterableIterator<WsMessage> {
    this.iterating = true;
    const it: AsyncIterableIterator<WsMessage> = {
      next: () => this.nextMessage(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  // ---- receiving ----

  private onFrame(frame: WsFrame): void {
    if (this.state === CLOSED || this.closeReceived) return;
    // Pings and pongs are answered and reported on arrival, even while a message is being inflated.
    if (frame.opcode === OP_PING) {
      if (!this.closeSent) this.transport.write(encodeFrame(OP_PONG, frame.payload));
      for (const cb of this.pingListeners) this.call(cb, frame.payload);
      return;
    }
    if (frame.opcode === OP_PONG) {
      for (const cb of this.pongListeners) this.call(cb, frame.payload);
      return;
    }
    if (this.inflating) {
      this.backlog.push(frame);
      this.updatePause();
      return;
    }
    this.handleFrame(frame);
  }

  private handleFrame(frame: WsFrame): void {
    if (this.closeReceived) return;
    if (frame.opcode === OP_CLOSE) {
      this.onServerClose(frame.payload);
      return;
    }
    if (frame.opcode !== OP_CONTINUATION) {
      this.msgOpcode = frame.opcode;
      this.msgCompressed = frame.rsv1;
      this.msgParts = [];
      this.msgSize = 0;
      this.msgText = '';
    }
    if (this.msgOpcode === OP_TEXT && !this.msgCompressed) {
      // Decoded as it comes: invalid UTF-8 fails at the fragment that has it.
      this.msgText += decodeUtf8(this.decoder, frame.payload, !frame.fin);
    } else {
      this.msgParts.push(frame.payload);
      this.msgSize += frame.payload.length;
    }
    if (!frame.fin) return;
    if (this.msgOpcode === OP_TEXT && !this.msgCompressed) {
      this.deliver({ type: 'text', data: this.msgText });
      this.msgText = '';
      return;
    }
    const parts = this.msgParts;
    const bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts, this.msgSize);
    this.msgParts = [];
    if (!this.msgCompressed) {
      this.deliver({ type: 'binary', data: bytes });
      return;
    }
    const opcode = this.msgOpcode;
    this.inflating = true;
    (this.deflate as PerMessageDeflate).decompress(bytes, this.maxPayload).then(
      (inflated) => {
        this.inflating = false;
        if (this.state === CLOSED) return;
        try {
          this.deliver(
            opcode === OP_TEXT
              ? { type: 'text', data: decodeUtf8(this.decoder, inflated, false) }
              : { type: 'binary', data: inflated },
          );
          while (!this.inflating && this.backlog.length > 0 && this.state !== CLOSED)
            this.handleFrame(this.backlog.shift() as WsFrame);
        } catch (err) {
          this.fail(err);
          return;
        }
        this.updatePause();
        if (!this.inflating && this.eofPending) {
          this.eofPending = false;
          this.transportEnded();
        }
      },
      (err: unknown) => {
        this.inflating = false;
        this.fail(err);
      },
    );
  }

  private onServerClose(payload: Buffer): void {
    const info = parseClosePayload(payload);
    this.closeReceived = info;
    if (this.state === OPEN) this.state = CLOSING;
    // Echo the code (RFC 6455 §5.5.1) at once, before sends still waiting for compression (they fail).
    this.sendClose(info.code === 1005 ? 1000 : info.code, '');
    // The server closes the TCP connection first (§7.1.1); we wait for that, but not forever.
    this.armCloseTimer(this.closeTimeoutMs, info.code, info.reason);
  }

  private deliver(m: WsMessage): void {
    for (const cb of this.messageListeners) this.call(cb, m);
    if (!(this.iterating || this.messageListeners.length === 0)) return;
    const w = this.waiters.shift();
    if (w) {
      w.resolve({ value: m, done: false });
    } else {
      this.queue.push(m);
      this.updatePause();
    }
  }

  private nextMessage(): Promise<IteratorResult<WsMessage>> {
    this.iterating = true;
    const m = this.queue.shift();
    if (m !== undefined) {
      this.updatePause();
      return Promise.resolve({ value: m, done: false });
    }
    if (this.outcome) {
      const err = this.outcome.error;
      if (err && !this.errorThrown) {
        this.errorThrown = true;
        return Promise.reject(err);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Pauses reading while too much waits for consumers, resumes at half. */
  private updatePause(): void {
    if (this.state === CLOSED) return;
    const held = Math.max(this.queue.length, this.backlog.length);
    if (!this.paused && !this.drainForClose && held >= this.queueLimit) {
      this.paused = true;
      this.transport.pause(true);
    } else if (this.paused && (this.drainForClose || held <= this.queueLimit / 2)) {
      this.paused = false;
      this.transport.pause(false);
    }
  }

  // ---- sending ----

  private writeMessage(opcode: number, payload: Buffer, compressed: boolean): void {
    const size = this.fragmentSize;
    if (size === 0 || payload.length <= size) {
      this.writeFrame(opcode, payload, { rsv1: compressed });
      return;
    }
    for (let off = 0; off < payload.length; off += size) {
      const end = Math.min(off + size, payload.length);
      this.writeFrame(off === 0 ? opcode : OP_CONTINUATION, payload.subarray(off, end), {
        fin: end === payload.length,
        rsv1: compressed && off === 0,
      });
    }
  }

  private writeFrame(opcode: number, payload: Buffer, opts: { fin?: boolean; rsv1?: boolean }): void {
    // Large payloads are masked by a transport that can do it while copying them anyway.
    if (this.transport.writeMasked && payload.length >= MASK_IN_TRANSPORT_BYTES) {
      this.transport.writeMasked(encodeFrameHeader(opcode, payload.length, opts), payload);
    } else {
      this.transport.write(encodeFrame(opcode, payload, opts));
    }
  }

  private written(entry: PendingWrite): void {
    entry.written = true;
    if (this.transport.writableLength() < this.highWaterMark) {
      this.pending.delete(entry);
      entry.resolve();
    } else {
      this.drainWaiters.push(entry);
    }
  }

  private sendClose(code: number, reason: string): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.transport.write(encodeFrame(OP_CLOSE, closePayload(code, reason)));
  }

  private notOpen(what: string): CycleTLSError {
    return new CycleTLSError(
      'ERR_INVALID_OPTION',
      `cannot ${what}: the WebSocket is ${this.state === CLOSING ? 'closing' : 'closed'}`,
      'write',
    );
  }

  // ---- closing ----

  /** (Re)starts the one close timer: when it fires, the connection is ended with this outcome. */
  private armCloseTimer(ms: number, code: number, reason = ''): void {
    clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(() => {
      this.closeTimer = undefined;
      this.finish(code, reason, undefined);
    }, ms);
  }

  /** Fails the connection (RFC 6455 §7.1.7): our Close with the error's code, onError, then the end. */
  private fail(err: unknown): void {
    if (this.state === CLOSED) return;
    const wsErr =
      err instanceof WsProtocolError
        ? err
        : new WsProtocolError(1011, `internal error: ${(err as Error)?.message ?? String(err)}`);
    const reason = fitReason(wsErr.message);
    this.sendClose(wsErr.closeCode, reason);
    const error =
      err instanceof CycleTLSError
        ? err
        : new CycleTLSError(
            wsErr.closeCode === 1011 ? 'ERR_INTERNAL' : 'ERR_PROTOCOL',
            wsErr.message,
            'body',
          );
    this.emitError(error);
    this.finish(wsErr.closeCode, reason, error);
  }

  private abnormal(err: Error): void {
    this.emitError(err);
    this.finish(1006, '', err);
  }

  private emitError(err: Error): void {
    if (this.errorListeners.length === 0) this.undeliveredErrors.push(err);
    else for (const cb of this.errorListeners) this.call(cb, err);
  }

  /** The end: once. Pending writes settle, the iterator ends, onClose runs, close() resolves. */
  private finish(code: number, reason: string, error: Error | undefined): void {
    if (this.state === CLOSED) return;
    if (this.paused) {
      this.paused = false;
      this.transport.pause(false);
    }
    this.state = CLOSED;
    clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    if (!this.ended) {
      this.ended = true;
      this.transport.end();
    }
    this.deflate?.close();
    this.backlog = [];
    this.outcome = { code, reason, error };
    // A write the transport took is taken as sent when both Close frames went through (the
    // server's answer came after it); otherwise nobody can tell, and it rejects with the rest.
    const clean = error === undefined && this.closeSent && this.closeReceived !== undefined;
    for (const p of this.pending) {
      if (clean && p.written) p.resolve();
      else p.reject(closedError('the message was sent'));
    }
    this.pending.clear();
    this.drainWaiters = [];
    for (const w of this.waiters.splice(0)) {
      if (error && !this.errorThrown) {
        this.errorThrown = true;
        w.reject(error);
      } else {
        w.resolve({ value: undefined, done: true });
      }
    }
    for (const cb of this.closeListeners) this.call(cb, code, reason);
    this.resolveClosed();
  }

  /** A user callback: what it throws is rethrown outside, never breaking the session. */
  private call<A extends unknown[]>(cb: (...args: A) => void, ...args: A): void {
    try {
      cb(...args);
    } catch (err) {
      rethrowLater(err);
    }
  }
}
