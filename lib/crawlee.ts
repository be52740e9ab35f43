// `cycletls-native/crawlee`: Crawlee's pluggable HTTP client (BaseHttpClient of @crawlee/core:
// sendRequest() and stream()) on this engine, so HttpCrawler, CheerioCrawler and sendRequest() go out
// with a browser's fingerprint. Crawlee is an optional peer: nothing here loads it; its request and
// response shapes are restated structurally below (types/crawlee.d.ts ties them to @crawlee/core's).
//
// Redirects are followed here, hop by hop with the engine's own redirect rules (redirectDropsBody,
// redirectHeaders), because Crawlee expects to see each hop: followRedirect(response) may refuse one
// and the crawler's onRedirect handler stores the hop's cookies and may change the next hop's headers.
import { Buffer } from 'node:buffer';
import { Readable, Transform, pipeline } from 'node:stream';
import { isGeneratorObject } from 'node:util/types';

import { initCycleTLS } from './client';
import { CycleTLSError, invalidOption } from './errors';
import { redirectHeaders } from './headers';
import type { HeaderList } from './headers';
import { isPlainObject, optBool, optInteger, optString, typeName } from './option-checks';
import { HTTPError, MaxRedirectsError, ParseError, fromEngine } from './crawlee-errors';
import type { ErrorResponse } from './crawlee-errors';
import { redirectDropsBody, redirectTarget } from './request';
import type { CycleTLSResponseShape } from './response';

export { HTTPError, MaxRedirectsError, ParseError, RequestError, TimeoutError } from './crawlee-errors';

function methodOf(request: { method?: string }): string {
  return (request.method ?? 'GET').toUpperCase();
}

type SimpleHeaders = Record<string, string | string[] | undefined>;

/** got's per-phase timeouts (Crawlee's HttpRequest.timeout), in milliseconds. */
interface CrawleeTimeout {
  lookup?: number;
  connect?: number;
  secureConnect?: number;
  socket?: number;
  send?: number;
  response?: number;
  request?: number;
}

interface CrawleeRequest {
  url: string | URL;
  method?: string;
  headers?: SimpleHeaders;
  body?: unknown;
  signal?: AbortSignal;
  timeout?: CrawleeTimeout;
  cookieJar?: unknown;
  followRedirect?: boolean | ((response: ResponseHead) => boolean);
  maxRedirects?: number;
  encoding?: BufferEncoding;
  responseType?: 'text' | 'json' | 'buffer';
  throwHttpErrors?: boolean;
  proxyUrl?: string;
  https?: { rejectUnauthorized?: boolean };
  [key: string]: unknown;
}

/** Crawlee's BaseHttpResponseData: a response without its body (also what a redirect hop looks like). */
interface ResponseHead {
  redirectUrls: URL[];
  url: string;
  ip?: string;
  statusCode: number;
  statusMessage?: string;
  headers: SimpleHeaders;
  trailers: SimpleHeaders;
  complete: boolean;
}

type RedirectHandler = (
  redirectResponse: ResponseHead,
  updatedRequest: { url?: string | URL; headers: SimpleHeaders },
) => void;

interface Progress {
  percent: number;
  transferred: number;
  total?: number;
}

export interface CrawleeClientOptions {
  profile?: string;
  port?: number;
  followRedirects?: boolean;
  maxRedirects?: number;
  requestOptions?: Record<string, unknown>;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const DEFAULT_MAX_REDIRECTS = 10; // got's and impit-client's

/** Node's (and got's) header map: lower-case names, set-cookie an array, other repeats joined. */
function nodeHeaders(raw: readonly string[]): SimpleHeaders {
  const out: SimpleHeaders = Object.create(null);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    const had = out[name];
    if (name === 'set-cookie') {
      if (Array.isArray(had)) had.push(value);
      else out[name] = [value];
    } else {
      out[name] = had === undefined ? value : `${had as string}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
  }
  return out;
}

/** Crawlee's headers for the engine: undefined values dropped, arrays become repeated headers. */
function engineHeaders(headers: SimpleHeaders | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!headers) return out;
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** got's timeouts in milliseconds -> the engine's deadlines in seconds. `send` has no counterpart. */
function engineTimeouts(timeout: CrawleeTimeout | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!timeout) return out;
  const seconds = (ms: number | undefined): number | undefined =>
    typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? ms / 1000 : undefined;
  const set = (key: string, ms: number | undefined): void => {
    const s = seconds(ms);
    if (s !== undefined) out[key] = s;
  };
  set('timeout', timeout.request);
  // got counts DNS (lookup) and TCP (connect) apart; the engine's connect deadline covers both.
  const connect =
    timeout.lookup !== undefined || timeout.connect !== undefined
      ? (timeout.lookup ?? 0) + (timeout.connect ?? 0)
      : undefined;
  set('connectTimeout', connect);
  set('tlsTimeout', timeout.secureConnect);
  set('headersTimeout', timeout.response);
  set('bodyIdleTimeout', timeout.socket);
  return out;
}

/** Crawlee's bodies for the engine: a sync generator is read as a stream; the rest go as they are. */
function engineBody(body: unknown): unknown {
  if (isGeneratorObject(body) && typeof (body as Generator)[Symbol.iterator] === 'function') {
    return Readable.from(body as Generator);
  }
  return body;
}

function isStreamedBody(body: unknown): boolean {
  return (
    body instanceof Readable ||
    (typeof body === 'object' && body !== null && Symbol.asyncIterator in (body as object))
  );
}

function headOf(res: CycleTLSResponseShape, redirectUrls: URL[], complete: boolean): ResponseHead {
  return {
    redirectUrls,
    url: res.finalUrl,
    statusCode: res.status,
    statusMessage: res.statusText,
    headers: nodeHeaders(res.rawHeaders),
    trailers: {},
    complete,
  };
}

/** Lets a redirect's body go: a streamed one is drained so its connection can be reused. */
function discard(res: CycleTLSResponseShape): void {
  if (res.data instanceof Readable) res.data.on('error', () => {}).resume();
}

interface Exchange {
  res: CycleTLSResponseShape;
  redirectUrls: URL[];
}

/** The part of initCycleTLS's client used here. */
type Client = ((url: string, options: object, method: string) => Promise<CycleTLSResponseShape>) & {
  exit(): Promise<undefined>;
};

/**
 * Crawlee's BaseHttpClient on cycletls-native: `new CycleTLSHttpClient({ profile: 'firefox' })` as
 * HttpCrawler's (or CheerioCrawler's) `httpClient`.
 */
export class CycleTLSHttpClient {
  readonly profile: string;
  readonly port: number | undefined;
  readonly followRedirects: boolean;
  readonly maxRedirects: number;
  private readonly requestOptions: Record<string, unknown>;
  private client: Promise<Client> | undefined;

  constructor(options: CrawleeClientOptions = {}) {
    if (!isPlainObject(options)) throw invalidOption(`options must be an object, got ${typeName(options)}`);
    const o = options as Record<string, unknown>;
    this.profile = optString(o, 'profile') ?? 'chrome';
    this.port = optInteger(o, 'port', 1, 65535);
    this.followRedirects = optBool(o, 'followRedirects') ?? true;
    this.maxRedirects = optInteger(o, 'maxRedirects', 0, 1000) ?? DEFAULT_MAX_REDIRECTS;
    const extra = o.requestOptions;
    if (extra !== undefined && !isPlainObject(extra)) {
      throw invalidOption(`option "requestOptions" must be an object, got ${typeName(extra)}`);
    }
    this.requestOptions = (extra as Record<string, unknown> | undefined) ?? {};
  }

  /** The engine client, made on first use (failures reject instead of resolving cycletls-style). */
  private engine(): Promise<Client> {
    this.client ??= initCycleTLS({
      port: this.port,
      rejectOnError: true,
    }) as Promise<unknown> as Promise<Client>;
    return this.client;
  }

  /** Releases the engine client (the process also exits without it once idle). */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await (await client).exit();
  }

  /** One hop, redirects not followed: the engine's response, or Crawlee's error for its failure. */
  private async hop(
    request: CrawleeRequest,
    url: URL,
    method: string,
    headers: SimpleHeaders,
    body: unknown,
    streaming: boolean,
  ): Promise<CycleTLSResponseShape> {
    const client = await this.engine();
    const options: Record<string, unknown> = {
      ...this.requestOptions,
      profile: this.profile,
      ...engineTimeouts(request.timeout),
      headers: engineHeaders(headers),
      disableRedirect: true,
      responseType: streaming ? 'stream' : 'arraybuffer',
    };
    if (body !== undefined) options.body = body;
    if (request.proxyUrl) options.proxy = request.proxyUrl;
    if (request.cookieJar) options.cookieJar = request.cookieJar;
    if (request.signal) options.signal = request.signal;
    // HttpCrawler's ignoreSslErrors arrives as got's https.rejectUnauthorized.
    if (request.https?.rejectUnauthorized === false) options.insecureSkipVerify = true;
    try {
      return await client(url.href, options, method.toLowerCase());
    } catch (err) {
      throw err instanceof CycleTLSError ? fromEngine(err, url.href, method) : err;
    }
  }

  /** The request, its redirects followed as Crawlee asks; resolves with the last hop. */
  private async exchange(
    request: CrawleeRequest,
    streaming: boolean,
    onRedirect?: RedirectHandler,
  ): Promise<Exchange> {
    const follow = request.followRedirect ?? this.followRedirects;
    const maxRedirects = request.maxRedirects ?? this.maxRedirects;
    let url = new URL(String(request.url));
    let method = (request.method ?? 'GET').toUpperCase();
    let headers: SimpleHeaders = { ...request.headers };
    let body = engineBody(request.body);
    const redirectUrls: URL[] = [];
    for (;;) {
      const res = await this.hop(request, url, method, headers, body, streaming);
      const location = REDIRECT_STATUSES.has(res.status) ? res.headers.Location?.[0] : undefined;
      if (location === undefined || follow === false) return { res, redirectUrls };
      const head = headOf(res, redirectUrls.slice(), true);
      if (typeof follow === 'function' && !follow(head)) return { res, redirectUrls };
      const dropsBody = redirectDropsBody(res.status, method);
      // A streamed body cannot be sent twice: the redirect is then the response (as the engine does).
      if (!dropsBody && isStreamedBody(body)) return { res, redirectUrls };
      discard(res);
      if (redirectUrls.length >= maxRedirects)
        throw new MaxRedirectsError(maxRedirects, { url: url.href, method });
      let next: URL;
      try {
        next = redirectTarget(location, url);
      } catch (err) {
        throw fromEngine(err as CycleTLSError, url.href, method);
      }
      const names: HeaderList = Object.keys(headers).map((n) => [n, '']);
      const kept = new Set(redirectHeaders(names, dropsBody, next.origin !== url.origin).map(([n]) => n));
      const nextHeaders: SimpleHeaders = {};
      for (const n of kept) nextHeaders[n] = headers[n];
      const updated: { url?: string | URL; headers: SimpleHeaders } = { url: next, headers: nextHeaders };
      redirectUrls.push(next);
      onRedirect?.(head, updated);
      url = new URL(String(updated.url ?? next));
      headers = updated.headers;
      if (dropsBody) {
        method = 'GET';
        body = undefined;
      }
    }
  }

  /** Crawlee's sendRequest(): the whole body, as `responseType` says ('text' when absent). */
  async sendRequest(
    request: CrawleeRequest,
  ): Promise<ResponseHead & { request: CrawleeRequest; body: unknown }> {
    const { res, redirectUrls } = await this.exchange(request, false);
    const bytes = Buffer.from(res.data as ArrayBuffer);
    const head = headOf(res, redirectUrls, true);
    if (request.throwHttpErrors === true && res.status >= 400)
      throw new HTTPError(head as ErrorResponse, { url: head.url, method: methodOf(request) });
    let body: unknown;
    const responseType = request.responseType ?? 'text';
    if (responseType === 'buffer') body = bytes;
    else if (responseType === 'json') {
      const text = bytes.toString(request.encoding ?? 'utf8');
      try {
        body = text === '' ? '' : JSON.parse(text);
      } catch (err) {
        throw new ParseError(err as Error, head as ErrorResponse, {
          url: head.url,
          method: methodOf(request),
        });
      }
    } else if (responseType === 'text') body = bytes.toString(request.encoding ?? 'utf8');
    else throw invalidOption(`responseType must be 'text', 'json' or 'buffer', got ${String(responseType)}`);
    return { ...head, request, body };
  }

  /**
   * Crawlee's stream(): resolves on the response head with the body as a Readable. Back-pressure
   * reaches the engine (it reads ahead only what the reader asks for); destroying the stream cancels
   * the request.
   */
  async stream(
    request: CrawleeRequest,
    onRedirect?: RedirectHandler,
  ): Promise<
    ResponseHead & {
      request: CrawleeRequest;
      stream: Readable;
      readonly downloadProgress: Progress;
      readonly uploadProgress: Progress;
    }
  > {
    const { res, redirectUrls } = await this.exchange(request, true, onRedirect);
    const head = headOf(res, redirectUrls, false);
    if (request.throwHttpErrors === true && res.status >= 400) {
      discard(res);
      throw new HTTPError(head as ErrorResponse, { url: head.url, method: methodOf(request) });
    }
    const length = Number(head.headers['content-length']);
    const total =
      Number.isFinite(length) && length >= 0 && !head.headers['content-encoding'] ? length : undefined;
    let transferred = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback): void {
        transferred += chunk.length;
        callback(null, chunk);
      },
    });
    // Either side's end or failure ends both: destroying `counter` destroys the engine's stream,
    // which cancels the request.
    pipeline(res.data as Readable, counter, () => {});
    const response = {
      ...head,
      request,
      stream: counter as Readable,
      get downloadProgress(): Progress {
        // got's shape: percent is a fraction, 1 once the body has ended.
        const percent = response.complete ? 1 : total ? Math.min(transferred / total, 1) : 0;
        return { percent, transferred, total };
      },
      get uploadProgress(): Progress {
        return { percent: 1, transferred: 0 };
      },
    };
    counter.once('end', () => {
      response.complete = true;
    });
    return response;
  }
}

export default CycleTLSHttpClient;
