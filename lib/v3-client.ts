// cycletls v3's client: `new CycleTLS(options)` (synchronous; the engine starts with the first
// request), request({url, method, ...}), get/post(url, body, options)/..., responses whose body is a
// Readable with back-pressure to the socket (statusCode, headers as arrays, json()/text()/buffer()…),
// failures rejected as CycleTLSError, ws() as the `ws` package's socket, sse(), close().
// Everything runs through the legacy client's pipeline (lib/request.ts) with cycletls v3's units:
// its timeouts are milliseconds.
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';

import { invalidOption } from './errors';
import { LazyClient } from './lazy-client';
import { headPhaseDeadlines, openEventSource } from './open-event-source';
import { openWebSocket } from './open-websocket';
import { isPlainObject } from './option-checks';
import { perform } from './request';
import { canonicalHeaderName } from './response';
import type { CycleTLSResponseShape } from './response';
import { CycleTLSWebSocket } from './v3-websocket';

/** Options of cycletls's Go process and its credit protocol: accepted, with nothing to act on here. */
const GO_ONLY_OPTIONS = ['autoSpawn', 'initialWindow', 'creditThreshold', 'executablePath'] as const;
/** cycletls v3's default request timeout, ms (until the response head). */
const DEFAULT_TIMEOUT_MS = 30_000;
/** cycletls v3's options that are milliseconds, and the option (seconds) each becomes here. */
const MS_OPTIONS: ReadonlyArray<readonly [string, string]> = [
  ['timeout', 'timeout'],
  ['readTimeout', 'bodyIdleTimeout'],
  ['sseTimeout', 'bodyIdleTimeout'],
];

type Dict = Record<string, unknown>;

function msOption(o: Dict, name: string): number | undefined {
  const v = o[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw invalidOption(`option "${name}" must be a non-negative number of milliseconds, got ${String(v)}`);
  return v;
}

/**
 * cycletls v3's header map: every value an array, under the name in lower case (as its guide shows
 * them), and — not enumerable — under Go's canonical spelling too (`headers['Content-Type']`).
 */
export function lowerCaseHeaders(raw: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i].toLowerCase();
    (out[key] ??= []).push(raw[i + 1]);
  }
  for (const key of Object.keys(out)) {
    const canonical = canonicalHeaderName(key);
    if (canonical !== key && !(canonical in out))
      Object.defineProperty(out, canonical, { value: out[key], enumerable: false });
  }
  return Object.setPrototypeOf(out, Object.prototype);
}

export interface V3Response extends CycleTLSResponseShape {
  statusCode: number;
  body: Readable;
  buffer(): Promise<Buffer>;
}

/**
 * The body methods of a v3 response: the legacy ones (which collect the stream once and keep it),
 * refusing a body the caller already read from the stream itself, as cycletls v3 does, instead of
 * giving what was left of it.
 */
function v3BodyMethods(res: CycleTLSResponseShape, body: Readable): Partial<V3Response> {
  let collecting = false;
  const read = <T>(method: () => Promise<T>): Promise<T> => {
    if (!collecting && (body.readableDidRead || body.destroyed)) {
      return Promise.reject(
        new TypeError('the response body was already read from response.body: it can be read once'),
      );
    }
    collecting = true;
    return method();
  };
  return {
    json: <J>() => read(() => res.json() as Promise<J>),
    text: () => read(() => res.text()),
    arrayBuffer: () => read(() => res.arrayBuffer()),
    blob: () => read(() => res.blob()),
    buffer: () => read(async () => Buffer.from(await res.arrayBuffer())),
  };
}

function v3Response(res: CycleTLSResponseShape): V3Response {
  const body = res.data as Readable;
  return {
    ...res,
    statusCode: res.status,
    headers: lowerCaseHeaders(res.rawHeaders),
    body,
    ...v3BodyMethods(res, body),
  } as V3Response;
}

export class CycleTLS extends EventEmitter {
  private readonly timeoutMs: number;
  private readonly engine: LazyClient;

  /** Synchronous: nothing starts until the first request (cycletls v3's `autoSpawn`, always on). */
  constructor(options?: unknown) {
    super();
    if (options !== undefined && options !== null && !isPlainObject(options))
      throw invalidOption(`CycleTLS options must be an object, got ${typeof options}`);
    const o: Dict = { ...(options as Dict | undefined) };
    this.timeoutMs = msOption(o, 'timeout') || DEFAULT_TIMEOUT_MS;
    for (const name of GO_ONLY_OPTIONS) delete o[name];
    delete o.timeout;
    this.engine = new LazyClient(o);
  }

  /** cycletls v3's request options as this library's: seconds, and the response as a stream. */
  private requestOptions(options: Dict): Dict {
    const o: Dict = { ...options, rejectOnError: true };
    delete o.responseType;
    for (const [name] of MS_OPTIONS) delete o[name];
    for (const [name, ours] of MS_OPTIONS) {
      const ms = msOption(options, name);
      if (ms !== undefined && ms > 0) o[ours] = ms / 1000;
    }
    o.timeout = (msOption(options, 'timeout') || this.timeoutMs) / 1000;
    return o;
  }

  /** One request: `options.url` and `options.method` (default GET) with the rest of the options. */
  async request(options: unknown): Promise<V3Response> {
    if (!isPlainObject(options)) throw invalidOption('request() takes an options object with a url');
    const o = this.requestOptions(options);
    const { instance, client, init } = await this.engine.get();
    const res = await perform(instance, client, init, o.url, o, o.method ?? 'GET', headPhaseDeadlines);
    return v3Response(res);
  }

  get(url: string, options?: Dict): Promise<V3Response> {
    return this.request({ ...options, url, method: 'GET' });
  }

  head(url: string, options?: Dict): Promise<V3Response> {
    return this.request({ ...options, url, method: 'HEAD' });
  }

  delete(url: string, options?: Dict): Promise<V3Response> {
    return this.request({ ...options, url, method: 'DELETE' });
  }

  options(url: string, options?: Dict): Promise<V3Response> {
    return this.request({ ...options, url, method: 'OPTIONS' });
  }

  trace(url: string, options?: Dict): Promise<V3Response> {
    return this.request({ ...options, url, method: 'TRACE' });
  }

  connect(url: string, options?: Dict): Promise<V3Response> {
    return this.request({ ...options, url, method: 'CONNECT' });
  }

  post(url: string, body?: unknown, options?: Dict): Promise<V3Response> {
    return this.request({ ...options, url, method: 'POST', body });
  }

  put(url: string, body?: unknown, options?: Dict): Promise<V3Response> {
    return this.request({ ...options, url, method: 'PUT', body });
  }

  patch(url: string, body?: unknown, options?: Dict): Promise<V3Response> {
    return this.request({ ...options, url, method: 'PATCH', body });
  }

  /** Resolves once the socket is open; 'open' is emitted right after, for listeners attached then. */
  async ws(url: string, options?: Dict): Promise<CycleTLSWebSocket> {
    const o = this.requestOptions({ ...options });
    const { wsContext } = await this.engine.get();
    const socket = await openWebSocket(wsContext, url, o);
    const ws = new CycleTLSWebSocket(socket.finalUrl, socket);
    ws.announceOpen();
    return ws;
  }

  webSocket(url: string, options?: Dict): Promise<CycleTLSWebSocket> {
    return this.ws(url, options);
  }

  /** The event stream: events() and onEvent()/onError(), close(); failures reject. */
  async sse(url: string, options?: Dict): Promise<CycleTLSResponseShape & { statusCode: number }> {
    const o = this.requestOptions({ ...options });
    const { instance, client, init } = await this.engine.get();
    const res = await openEventSource(
      (u, opts, adjust) => perform(instance, client, init, u, opts, 'get', adjust),
      url,
      o,
      init,
    );
    return { ...res, statusCode: res.status, headers: lowerCaseHeaders(res.rawHeaders) };
  }

  eventSource(url: string, options?: Dict): Promise<CycleTLSResponseShape & { statusCode: number }> {
    return this.sse(url, options);
  }

  /** Settles this client's requests with ERR_CLIENT_CLOSED; the last client lets the engine go. */
  close(): Promise<void> {
    return this.engine.close();
  }
}
