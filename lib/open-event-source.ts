// sse() / eventSource(): an EventSource over the engine's streaming response path. The response
// resolves on the head; events come out of lib/sse-parser.ts, pulled by events() (the socket is
// paused while nobody consumes: bounded buffering) or pushed to onEvent callbacks. With `reconnect`,
// an ended or failed stream is opened again after the server's `retry` (or retryMs), sending
// Last-Event-ID; close() stops everything and clears every timer. What one stream holds is bounded:
// the parser's pending line and event by maxEventBytes (past it: ERR_BODY_TOO_LARGE, the request is
// cancelled and there is no reconnection), the queue by QUEUE_LIMIT events and maxEventBytes chars.
import { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';

import { CycleTLSError, invalidOption, invalidRange } from './errors';
import type { ErrorCode } from './errors';
import { fromResolved, rejects } from './failure';
import { eventStreamHeaders } from './headers';
import { normalizeMaxEventBytes } from './option-checks';
import type { AdjustRequest } from './request';
import { bodyMethods, contentType, unreadableBodyMethods } from './response';
import type { CycleTLSResponseShape } from './response';
import { SSEParser } from './sse-parser';
import type { SSEEvent } from './sse-parser';

type Perform = (
  url: unknown,
  options: Record<string, unknown>,
  adjust: AdjustRequest,
) => Promise<CycleTLSResponseShape>;

export interface SSEResponseShape extends CycleTLSResponseShape {
  events(): AsyncIterableIterator<SSEEvent>;
  onEvent(callback: (event: SSEEvent) => void): void;
  onError(callback: (error: Error) => void): void;
  close(): Promise<void>;
}

interface Reconnect {
  retryMs: number;
  maxRetries: number;
}

export const DEFAULT_RETRY_MS = 3000;
/**
 * Parsed events held for a consumer that is not pulling; past it (or past maxEventBytes characters
 * of queued data) the socket is paused.
 */
const QUEUE_LIMIT = 64;
/** Of a response that is not an event stream, this much body is kept for text()/json(). */
const ERROR_BODY_LIMIT = 64 * 1024;
const MAX_RETRY_MS = 24 * 3600 * 1000;
const DEFAULT_BODY_WAIT_MS = 15000;

function normalizeReconnect(v: unknown): Reconnect | undefined {
  if (v === undefined || v === null || v === false) return undefined;
  if (v === true) return { retryMs: DEFAULT_RETRY_MS, maxRetries: Infinity };
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw invalidOption('option "reconnect" must be a boolean or an object { retryMs, maxRetries }');
  }
  const { retryMs, maxRetries } = v as { retryMs?: unknown; maxRetries?: unknown };
  if (
    retryMs !== undefined &&
    (typeof retryMs !== 'number' || !Number.isFinite(retryMs) || retryMs < 0 || retryMs > MAX_RETRY_MS)
  ) {
    throw invalidRange(
      `option "reconnect.retryMs" must be a number of milliseconds from 0 to ${MAX_RETRY_MS}, ` +
        `got ${String(retryMs)}`,
    );
  }
  if (
    maxRetries !== undefined &&
    (typeof maxRetries !== 'number' ||
      maxRetries < 0 ||
      !(Number.isInteger(maxRetries) || maxRetries === Infinity))
  ) {
    throw invalidRange(
      `option "reconnect.maxRetries" must be a non-negative integer or Infinity, got ${String(maxRetries)}`,
    );
  }
  return {
    retryMs: (retryMs as number | undefined) ?? DEFAULT_RETRY_MS,
    maxRetries: (maxRetries as number | undefined) ?? Infinity,
  };
}

/**
 * The stream has no overall deadline: `timeout` bounds each phase up to the response head
 * (connect, TLS, head) unless the caller set those phases; `bodyIdleTimeout` bounds silence.
 */
export const headPhaseDeadlines: AdjustRequest = (req) => ({
  ...req,
  responseType: 'stream',
  timeoutMs: 0,
  connectTimeoutMs: req.connectTimeoutMs ?? req.timeoutMs,
  tlsTimeoutMs: req.tlsTimeoutMs ?? req.timeoutMs,
  headersTimeoutMs: req.headersTimeoutMs ?? req.timeoutMs,
});

/** Why a response is not an event stream (EventSource's "fail the connection"), or undefined. */
function notAnEventStream(res: CycleTLSResponseShape): CycleTLSError | undefined {
  const type = contentType(res.rawHeaders);
  const mime = type.split(';')[0].trim().toLowerCase();
  if (res.status === 200 && mime === 'text/event-stream') return undefined;
  return new CycleTLSError(
    'ERR_PROTOCOL',
    `not an event stream: status ${res.status}, content-type ${JSON.stringify(type)} ` +
      '(expected 200 and text/event-stream)',
    'headers',
  );
}

/**
 * Errors after which a reconnecting reader stops instead of opening the stream again: the caller's
 * own (abort, close), and an event past maxEventBytes (a server that sent one will send it again).
 */
const ENDS_RECONNECTION: ReadonlySet<string> = new Set<ErrorCode>([
  'ERR_ABORTED',
  'ERR_CLIENT_CLOSED',
  'ERR_BODY_TOO_LARGE',
]);

function endsReconnection(err: unknown): boolean {
  return err instanceof CycleTLSError && ENDS_RECONNECTION.has(err.code);
}

/** At most `limit` bytes of a body, within `ms`; then the stream is let go. */
function readCapped(stream: Readable, limit: number, ms: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      clearTimeout(timer);
      stream.off('data', onData).off('end', done);
      if (!stream.readableEnded) stream.destroy();
      resolve(Buffer.concat(chunks).subarray(0, limit));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) done();
    };
    const timer = setTimeout(done, ms);
    stream.on('data', onData).on('end', done).on('error', done);
  });
}

function rethrowLater(err: unknown): void {
  process.nextTick(() => {
    throw err;
  });
}

class EventSession implements AsyncIterableIterator<SSEEvent> {
  private readonly parser: SSEParser;
  private readonly queue: SSEEvent[] = [];
  /** The data characters of the queued events. */
  private queuedChars = 0;
  private readonly waiters: Array<(r: IteratorResult<SSEEvent>) => void> = [];
  private readonly listeners: Array<(event: SSEEvent) => void> = [];
  private readonly errorListeners: Array<(error: Error) => void> = [];
  private readonly undelivered: Error[] = [];
  private readonly controller = new AbortController();
  private iterating = false;
  private stream: Readable | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private done = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly perform: Perform,
    private readonly url: unknown,
    private readonly options: Record<string, unknown>,
    private readonly reconnect: Reconnect | undefined,
    private readonly userSignal: AbortSignal | undefined,
    lastEventId: string,
    private readonly maxEventBytes: number,
  ) {
    this.parser = new SSEParser(maxEventBytes);
    if (lastEventId !== '') {
      this.parser.lastEventId = lastEventId;
      this.parser.end();
    }
    if (userSignal?.aborted) this.controller.abort();
    userSignal?.addEventListener('abort', this.onUserAbort);
  }

  private readonly onUserAbort = (): void => {
    void this.close();
  };

  /** One request: the caller's options, EventSource's headers, the streaming path. */
  request(): Promise<CycleTLSResponseShape> {
    const options: Record<string, unknown> = {
      ...this.options,
      headers: eventStreamHeaders(this.options.headers, this.parser.lastEventId),
      responseType: 'stream',
    };
    if (this.userSignal === undefined || this.userSignal instanceof AbortSignal)
      options.signal = this.controller.signal;
    return this.perform(this.url, options, headPhaseDeadlines);
  }

  attach(stream: Readable): void {
    this.stream = stream;
    stream.on('readable', this.pump);
    stream.on('end', () => this.streamEnded(stream, undefined));
    stream.on('error', (err: Error) => this.streamEnded(stream, err));
  }

  private wantsQueue(): boolean {
    return this.iterating || this.listeners.length === 0;
  }

  private queueFull(): boolean {
    return this.wantsQueue() && (this.queue.length >= QUEUE_LIMIT || this.queuedChars >= this.maxEventBytes);
  }

  private takeQueued(): SSEEvent | undefined {
    const event = this.queue.shift();
    if (event !== undefined) this.queuedChars -= event.data.length;
    return event;
  }

  /**
   * Reads and parses while someone takes the events (or the queue has room). An event past
   * maxEventBytes cancels the request (destroying the stream does) and ends the session.
   */
  private readonly pump = (): void => {
    for (;;) {
      const s = this.stream;
      if (s === undefined || this.queueFull()) return;
      const chunk = s.read() as Buffer | null;
      if (chunk === null) return;
      for (const event of this.parser.push(chunk)) this.deliver(event);
      const failure = this.parser.failure;
      if (failure) {
        s.destroy();
        this.streamEnded(s, failure);
        return;
      }
    }
  };

  private deliver(event: SSEEvent): void {
    for (const cb of this.listeners) {
      try {
        cb(event);
      } catch (err) {
        rethrowLater(err);
      }
    }
    if (!this.wantsQueue()) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter({ value: event, done: false });
    else {
      this.queue.push(event);
      this.queuedChars += event.data.length;
    }
  }

  error(err: Error): void {
    if (this.errorListeners.length === 0) {
      this.undelivered.push(err);
      return;
    }
    for (const cb of this.errorListeners) {
      try {
        cb(err);
      } catch (e) {
        rethrowLater(e);
      }
    }
  }

  private streamEnded(stream: Readable, err: Error | undefined): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    this.parser.end();
    if (this.closed) return;
    if (err) this.error(err);
    if (this.reconnect === undefined || endsReconnection(err)) this.finish();
    else this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const reconnect = this.reconnect as Reconnect;
    if (this.attempts >= reconnect.maxRetries) {
      this.finish();
      return;
    }
    this.attempts++;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.reopen();
        // A server's retry is capped like the caller's retryMs: past 2^31-1 ms setTimeout would fire
        // at once, so `retry: 99999999999` would have turned into a reconnection storm.
      },
      Math.min(this.parser.retry ?? reconnect.retryMs, MAX_RETRY_MS),
    );
  }

  private async reopen(): Promise<void> {
    let res: CycleTLSResponseShape;
    try {
      res = await this.request();
    } catch (err) {
      if (this.closed) return;
      this.error(err as Error);
      // Misuse (not a CycleTLSError) would fail the same way again.
      if (!(err instanceof CycleTLSError) || endsReconnection(err)) this.finish();
      else this.scheduleReconnect();
      return;
    }
    const stream = res.data instanceof Readable ? res.data : undefined;
    if (this.closed) {
      stream?.destroy();
      return;
    }
    if (res.error) {
      const err = fromResolved(res.error);
      this.error(err);
      if (endsReconnection(err)) this.finish();
      else this.scheduleReconnect();
      return;
    }
    const problem = notAnEventStream(res);
    if (problem || stream === undefined) {
      stream?.destroy();
      this.error(problem ?? new CycleTLSError('ERR_INTERNAL', 'no response stream', 'body'));
      this.finish();
      return;
    }
    this.attempts = 0;
    this.attach(stream);
  }

  /** No more events will come: the iterator ends once the queue is drained. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    this.userSignal?.removeEventListener('abort', this.onUserAbort);
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.controller.abort();
    this.queue.length = 0;
    this.queuedChars = 0;
    this.finish();
    const s = this.stream;
    this.stream = undefined;
    this.closing =
      s === undefined || s.closed
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            s.once('close', () => resolve());
            s.destroy();
          });
    return this.closing;
  }

  events(): AsyncIterableIterator<SSEEvent> {
    this.iterating = true;
    return this;
  }

  onEvent(cb: (event: SSEEvent) => void): void {
    if (typeof cb !== 'function') throw invalidOption('onEvent() takes a function');
    this.listeners.push(cb);
    // Events that arrived before the first callback (and are not an iterator's) go to it now.
    if (!this.iterating) {
      const queued = this.queue.splice(0);
      this.queuedChars = 0;
      for (const event of queued) this.deliver(event);
    }
    this.pump();
  }

  onError(cb: (error: Error) => void): void {
    if (typeof cb !== 'function') throw invalidOption('onError() takes a function');
    this.errorListeners.push(cb);
    for (const err of this.undelivered.splice(0)) {
      try {
        cb(err);
      } catch (e) {
        rethrowLater(e);
      }
    }
  }

  next(): Promise<IteratorResult<SSEEvent>> {
    this.iterating = true;
    const event = this.takeQueued();
    if (event !== undefined) {
      this.pump();
      return Promise.resolve({ value: event, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    const p = new Promise<IteratorResult<SSEEvent>>((resolve) => this.waiters.push(resolve));
    this.pump();
    return p;
  }

  /** Leaving a for-await loop early closes the stream. */
  async return(): Promise<IteratorResult<SSEEvent>> {
    await this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<SSEEvent> {
    return this;
  }
}

/**
 * Opens an event stream. Resolves on the response head. A response that is not `200
 * text/event-stream`, and a failure before the head, resolve (cycletls style: status, headers and
 * up to 64 KiB of body as `data`) with events() ended and the CycleTLSError passed to onError —
 * or reject with it under rejectOnError.
 */
export async function openEventSource(
  perform: Perform,
  url: unknown,
  options: unknown,
  init: { rejectOnError: boolean; maxEventBytes: number },
): Promise<SSEResponseShape> {
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
    throw invalidOption('request options must be an object');
  }
  const {
    reconnect: rawReconnect,
    lastEventId: rawLastEventId,
    maxEventBytes: rawMaxEventBytes,
    ...rest
  } = (options ?? {}) as Record<string, unknown>;
  const reconnect = normalizeReconnect(rawReconnect);
  const maxEventBytes = normalizeMaxEventBytes(rawMaxEventBytes) ?? init.maxEventBytes;
  if (rawLastEventId !== undefined && rawLastEventId !== null && typeof rawLastEventId !== 'string') {
    throw invalidOption('option "lastEventId" must be a string');
  }
  if (rest.protocol === 'sse') delete rest.protocol;
  const rejectOnError = typeof rest.rejectOnError === 'boolean' ? rest.rejectOnError : init.rejectOnError;
  const userSignal = rest.signal instanceof AbortSignal ? rest.signal : undefined;
  const session = new EventSession(
    perform,
    url,
    rest,
    reconnect,
    userSignal,
    (rawLastEventId as string | undefined) ?? '',
    maxEventBytes,
  );

  let res: CycleTLSResponseShape;
  try {
    res = await session.request();
  } catch (err) {
    session.finish();
    throw err;
  }
  const methods = {
    events: () => session.events(),
    onEvent: (cb: (event: SSEEvent) => void) => session.onEvent(cb),
    onError: (cb: (error: Error) => void) => session.onError(cb),
    close: () => session.close(),
  };
  if (res.error) {
    session.error(fromResolved(res.error));
    session.finish();
    return { ...res, ...methods };
  }
  const stream = res.data instanceof Readable ? res.data : undefined;
  const problem =
    notAnEventStream(res) ??
    (stream ? undefined : new CycleTLSError('ERR_INTERNAL', 'no response stream', 'body'));
  if (problem) {
    session.finish();
    if (rejects(problem, rejectOnError)) {
      stream?.destroy();
      throw problem;
    }
    // The body is read within the request's timeout (the default 15 s when none is given).
    const ms =
      typeof rest.timeout === 'number' && rest.timeout > 0
        ? Math.min(rest.timeout * 1000, MAX_RETRY_MS)
        : DEFAULT_BODY_WAIT_MS;
    const body = stream ? await readCapped(stream, ERROR_BODY_LIMIT, ms) : Buffer.alloc(0);
    session.error(problem);
    return { ...res, data: body.toString('utf8'), ...bodyMethods(body), ...methods };
  }
  session.attach(stream as Readable);
  return {
    ...res,
    data: null,
    ...unreadableBodyMethods('an event stream is read with events() or onEvent(), not as a body'),
    ...methods,
  };
}
