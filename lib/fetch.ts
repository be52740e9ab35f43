// fetch(input, init) as WHATWG defines it for the caller (Request/RequestInit in, Node's own global
// Response out, network failures as TypeError with our CycleTLSError as `cause`), over the engine:
// the request goes through the legacy pipeline (lib/request.ts) as a streamed response, whose web
// ReadableStream body pulls from the engine (nothing is read ahead of the reader beyond the
// engine's consumer credit). createFetch() binds defaults (profile, proxy, cookieJar…) and a client;
// the module-level fetch uses one shared client, made on first use and closed before the process exits.
import { Buffer } from 'node:buffer';
import type { Readable } from 'node:stream';
import { ReadableStream } from 'node:stream/web';

import { streamingBody } from './body';
import { CycleTLSError } from './errors';
import { LazyClient } from './lazy-client';
import { headPhaseDeadlines } from './open-event-source';
import { isPlainObject } from './option-checks';
import { perform } from './request';
import type { CycleTLSResponseShape } from './response';

type Dict = Record<string, unknown>;
type HeaderObject = Record<string, string[]>;

/** RequestInit's members: what the rest of init is not (our options: profile, proxy, ja3…). */
const WHATWG_INIT = [
  'method',
  'headers',
  'body',
  'redirect',
  'signal',
  'duplex',
  'mode',
  'credentials',
  'cache',
  'referrer',
  'referrerPolicy',
  'integrity',
  'keepalive',
  'priority',
  'window',
  'dispatcher',
] as const;
/** Our options fetch decides itself. */
const DECIDED_HERE = ['url', 'method', 'responseType', 'rejectOnError', 'disableRedirect'] as const;
/** The fetch standard's redirect limit. */
const FETCH_MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Statuses whose response has no body (the fetch standard's null body statuses). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

export type BoundFetch = ((input: unknown, init?: unknown) => Promise<Response>) & {
  /** Closes the client this fetch uses: its requests settle, later calls reject. */
  close(): Promise<void>;
};

/** Headers as a Headers, an iterable of [name, value] pairs or a record → our header object. */
function headerObject(headers: unknown, into: HeaderObject = {}): HeaderObject {
  if (headers === undefined || headers === null) return into;
  const add = (name: unknown, value: unknown): void => {
    const n = String(name);
    const key = Object.keys(into).find((k) => k.toLowerCase() === n.toLowerCase()) ?? n;
    (into[key] ??= []).push(String(value));
  };
  if (headers instanceof Headers) {
    for (const [n, v] of headers) add(n, v);
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<unknown>) {
      const p = typeof pair === 'object' && pair !== null ? Array.from(pair as Iterable<unknown>) : [];
      if (p.length !== 2) throw new TypeError('Headers: each header pair must be [name, value]');
      add(p[0], p[1]);
    }
  } else if (typeof headers === 'object') {
    for (const [n, v] of Object.entries(headers as Dict)) add(n, v);
  } else {
    throw new TypeError('Headers: init must be a Headers, an iterable of pairs or a record');
  }
  return into;
}

function withoutHeaders(headers: HeaderObject, names: readonly string[]): HeaderObject {
  const out: HeaderObject = {};
  for (const [n, v] of Object.entries(headers)) if (!names.includes(n.toLowerCase())) out[n] = v;
  return out;
}

function hasHeader(headers: HeaderObject, name: string): boolean {
  return Object.keys(headers).some((n) => n.toLowerCase() === name);
}

function normalizeFetchMethod(method: unknown): string {
  const m = String(method);
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(m)) throw new TypeError(`'${m}' is not a valid HTTP method.`);
  const upper = m.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw new TypeError(`'${m}' HTTP method is unsupported.`);
  return NORMALIZED_METHODS.has(upper) ? upper : m;
}

/** The web stream a Response carries: each pull reads one chunk of the engine's stream. */
function webBody(node: Readable, signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
  const chunks = node[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller): Promise<void> {
        try {
          const { value, done } = await chunks.next();
          if (done) controller.close();
          else controller.enqueue(value as Buffer);
        } catch (err) {
          controller.error(bodyFailure(err, signal));
        }
      },
      async cancel(): Promise<void> {
        // Leaving the iterator destroys the engine's stream, which cancels the request.
        await chunks.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/** What a failed request rejects with, as fetch does: the abort reason, or a TypeError. */
function requestFailure(err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted && err instanceof CycleTLSError && err.code === 'ERR_ABORTED') return signal.reason;
  if (err instanceof TypeError) return err; // misuse, already a TypeError
  if (err instanceof CycleTLSError) {
    const misuse = err.code === 'ERR_INVALID_OPTION' || err.code === 'ERR_NOT_IMPLEMENTED';
    return new TypeError(misuse ? err.message : 'fetch failed', { cause: err });
  }
  return new TypeError('fetch failed', { cause: err });
}

/** A body that fails after the head: the abort reason, or TypeError('terminated') as undici says. */
function bodyFailure(err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  return new TypeError('terminated', { cause: err });
}

/** The engine's response as Node's global Response (url, redirected and type set on it). */
function toResponse(res: CycleTLSResponseShape, method: string, signal: AbortSignal | undefined): Response {
  const stream = res.data as Readable;
  const bodiless = method === 'HEAD' || NULL_BODY_STATUSES.has(res.status);
  if (bodiless) stream.on('error', () => {}).resume();
  if (res.status < 200 || res.status > 599) {
    stream.destroy();
    throw new TypeError('fetch failed', {
      cause: new CycleTLSError('ERR_PROTOCOL', `the server answered status ${res.status}`, 'headers'),
    });
  }
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i], raw[i + 1]);
    } catch {
      // A field Headers refuses (an invalid name or value) is left out, as undici leaves it out.
    }
  }
  const body = bodiless ? null : (webBody(stream, signal) as unknown as globalThis.ReadableStream);
  let response: Response;
  try {
    response = new Response(body, { status: res.status, statusText: res.statusText, headers });
  } catch {
    // A reason phrase the Response class refuses: the status alone.
    response = new Response(body, { status: res.status, headers });
  }
  Object.defineProperties(response, {
    url: { value: res.finalUrl, enumerable: true },
    redirected: { value: res.redirects > 0, enumerable: true },
    type: { value: 'basic', enumerable: true },
    // What the connection sent (response.fingerprint of the other doors).
    fingerprint: { value: res.fingerprint, enumerable: true },
  });
  return response;
}

/** A Request as fetch's parts; its body is read whole (its length is known once read). */
async function fromRequest(request: Request): Promise<{ url: string; parts: Dict; body: unknown }> {
  const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
  return {
    url: request.url,
    parts: {
      method: request.method,
      headers: request.headers,
      signal: request.signal,
      redirect: request.redirect,
    },
    body,
  };
}

async function fetchWith(
  engine: LazyClient,
  defaults: Dict,
  input: unknown,
  initArg: unknown,
): Promise<Response> {
  if (initArg !== undefined && initArg !== null && typeof initArg !== 'object')
    throw new TypeError('fetch: init must be an object');
  const init: Dict = (initArg as Dict | undefined) ?? {};
  let url: string;
  let base: Dict = {};
  let requestBody: unknown;
  if (input instanceof Request) {
    const r = await fromRequest(input);
    url = r.url;
    base = r.parts;
    requestBody = r.body;
  } else if (input instanceof URL) {
    url = input.href;
  } else if (typeof input === 'string') {
    url = input;
  } else if (
    typeof input === 'object' &&
    input !== null &&
    typeof (input as { href?: unknown }).href === 'string'
  ) {
    url = (input as { href: string }).href;
  } else {
    url = String(input);
  }
  try {
    url = new URL(url).href;
  } catch {
    throw new TypeError(`Failed to parse URL from ${url}`);
  }

  const pick = (key: string): unknown => (init[key] !== undefined ? init[key] : base[key]);
  const signal = pick('signal') as AbortSignal | undefined | null;
  if (signal && !(signal instanceof AbortSignal)) throw new TypeError('fetch: signal must be an AbortSignal');
  if (signal?.aborted) throw signal.reason;
  const method = normalizeFetchMethod(pick('method') ?? 'GET');
  const redirect = (pick('redirect') ?? 'follow') as string;
  if (redirect !== 'follow' && redirect !== 'manual' && redirect !== 'error')
    throw new TypeError(`fetch: redirect must be 'follow', 'manual' or 'error', got '${redirect}'`);
  const body = init.body !== undefined ? init.body : requestBody;
  const hasBody = body !== undefined && body !== null;
  if (hasBody && (method === 'GET' || method === 'HEAD'))
    throw new TypeError('Request with GET/HEAD method cannot have body.');
  const streamed = hasBody && !isPlainObject(body) && streamingBody(body) !== undefined;
  if (streamed && body instanceof ReadableStream && init.duplex !== 'half')
    throw new TypeError('RequestInit: duplex option is required when sending a ReadableStream body');

  // Defaults first, then the request's own headers over them (case-insensitively), as given.
  let headers = headerObject(defaults.headers);
  const own = headerObject(init.headers !== undefined ? init.headers : base.headers);
  headers = {
    ...withoutHeaders(
      headers,
      Object.keys(own).map((n) => n.toLowerCase()),
    ),
    ...own,
  };
  // The fetch standard's Content-Type of a string body (other kinds get theirs from the body itself).
  if (typeof body === 'string' && !hasHeader(headers, 'content-type'))
    headers['Content-Type'] = ['text/plain;charset=UTF-8'];

  const options: Dict = { ...defaults };
  for (const [k, v] of Object.entries(init))
    if (!(WHATWG_INIT as readonly string[]).includes(k)) options[k] = v;
  for (const k of DECIDED_HERE) delete options[k];
  options.headers = headers;
  options.body = hasBody ? body : undefined;
  options.signal = signal ?? undefined;
  options.rejectOnError = true;
  options.disableRedirect = redirect !== 'follow';
  options.maxRedirects ??= FETCH_MAX_REDIRECTS;

  let res: CycleTLSResponseShape;
  try {
    const { instance, client, init: clientInit } = await engine.get();
    res = await perform(instance, client, clientInit, url, options, method, headPhaseDeadlines);
  } catch (err) {
    throw requestFailure(err, signal ?? undefined);
  }
  const isRedirect = REDIRECT_STATUSES.has(res.status) && res.headers.Location !== undefined;
  // 'error' refuses any redirect; 'follow' one that would send a streamed body again (which the
  // pipeline hands back as the response), as the fetch standard makes both network errors.
  if (isRedirect && (redirect === 'error' || redirect === 'follow')) {
    (res.data as Readable).destroy();
    throw new TypeError('fetch failed', {
      cause: new CycleTLSError(
        'ERR_PROTOCOL',
        redirect === 'error'
          ? `redirect mode is 'error' and the server redirected (${res.status})`
          : `a streamed body cannot be sent again on a ${res.status} redirect`,
        'redirect',
      ),
    });
  }
  return toResponse(res, method, signal ?? undefined);
}

/**
 * A fetch bound to its own client: `options` are its requests' defaults (profile, proxy,
 * cookieJar, ja3, headers, timeout…, as the legacy client's request options) and its client's
 * options (port, maxConnections…, as initCycleTLS's). `timeout` (seconds) bounds each phase up to
 * the response head; the body has no deadline unless `bodyIdleTimeout`.
 */
export function createFetch(options?: unknown): BoundFetch {
  if (options !== undefined && options !== null && !isPlainObject(options))
    throw new TypeError('createFetch: options must be an object');
  const defaults: Dict = { ...(options as Dict | undefined) };
  const engine = new LazyClient(defaults);
  const bound = ((input: unknown, init?: unknown) => fetchWith(engine, defaults, input, init)) as BoundFetch;
  bound.close = () => engine.close();
  return bound;
}

let shared: BoundFetch | undefined;

/**
 * fetch on a client shared by the whole process, made on first use. `fetch.close()` closes it (the
 * next call makes another); it is closed by itself once the process has nothing else to do.
 */
export const fetch = ((input: unknown, init?: unknown): Promise<Response> => {
  if (!shared) {
    shared = createFetch();
    process.once('beforeExit', () => void fetch.close());
  }
  return shared(input, init);
}) as BoundFetch;

fetch.close = async (): Promise<void> => {
  const current = shared;
  shared = undefined;
  await current?.close();
};
