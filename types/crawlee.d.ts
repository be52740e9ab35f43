// `cycletls-native/crawlee`: Crawlee's pluggable HTTP client on cycletls-native. Crawlee (@crawlee/core
// 3.12 or later) is an optional peer dependency: these types name its interface, so they need it
// installed, as any code using this entry point has.
/// <reference types="node" />
import type {
  BaseHttpClient,
  HttpRequest,
  HttpResponse,
  RedirectHandler,
  ResponseTypes,
  StreamingHttpResponse,
} from '@crawlee/core';
import type { CycleTLSError, CycleTLSRequestOptions, ProfileId } from './index';

export interface CycleTLSHttpClientOptions {
  /** The browser preset of every request (ClientHello, HTTP/2 first flight, headers). Default 'chrome'. */
  profile?: ProfileId;
  /** The engine's port: clients of one port share one engine (see initCycleTLS). Default 9119. */
  port?: number;
  /** Follow redirects unless a request says otherwise (its `followRedirect`). Default true. */
  followRedirects?: boolean;
  /** Redirects followed per request unless it sets `maxRedirects`. Default 10. */
  maxRedirects?: number;
  /**
   * Further cycletls-native options for every request (e.g. `ja3`, `forceHTTP1`, `timeout` as the
   * default deadline in seconds, `maxResponseBytes`); what a Crawlee request carries wins.
   */
  requestOptions?: Omit<
    CycleTLSRequestOptions,
    'headers' | 'body' | 'bodyBytes' | 'responseType' | 'cookieJar' | 'proxy' | 'signal' | 'disableRedirect'
  >;
}

/**
 * Crawlee's BaseHttpClient on cycletls-native: `new HttpCrawler({ httpClient: new CycleTLSHttpClient() })`.
 * Each request goes out with the profile's fingerprint, through the proxy Crawlee picked for it
 * (`proxyUrl`), with the session's cookie jar read and written on every redirect hop.
 */
export declare class CycleTLSHttpClient implements BaseHttpClient {
  constructor(options?: CycleTLSHttpClientOptions);
  readonly profile: ProfileId;
  readonly port: number | undefined;
  readonly followRedirects: boolean;
  readonly maxRedirects: number;
  /** The whole response; `body` per `responseType` ('text' by default, decoded with `encoding`). */
  sendRequest<TResponseType extends keyof ResponseTypes = 'text'>(
    request: HttpRequest<TResponseType>,
  ): Promise<HttpResponse<TResponseType>>;
  /**
   * Resolves on the response head; `stream` carries the body with back-pressure to the socket.
   * `onRedirect` sees each redirect hop and may change the next hop's `url` and `headers`.
   */
  stream(request: HttpRequest, onRedirect?: RedirectHandler): Promise<StreamingHttpResponse>;
  /** Releases this client's hold on the engine (an idle process exits without it too). */
  close(): Promise<void>;
}
export default CycleTLSHttpClient;

/** What an error knows of the response it concerns. */
export interface CrawleeErrorResponse {
  url: string;
  statusCode: number;
  statusMessage?: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * got's error shapes, which Crawlee and got-scraping code read. `cause` is the engine's CycleTLSError
 * (stable `code` and `stage`) when the engine failed the request.
 */
export declare class RequestError extends Error {
  /**
   * got's code: 'ETIMEDOUT', 'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ERR_PROXY_CONNECTION_FAILED', ...
   * or the engine's.
   */
  readonly code: string;
  readonly response: CrawleeErrorResponse | undefined;
  readonly options: { url: string; method: string };
  readonly cause?: CycleTLSError | Error;
}
/** A deadline passed: code 'ETIMEDOUT', `cause.code` 'ERR_TIMEOUT' or 'ERR_CONNECT_TIMEOUT'. */
export declare class TimeoutError extends RequestError {}
/** `throwHttpErrors: true` and a status of 400 or more: code 'ERR_NON_2XX_3XX_RESPONSE'. */
export declare class HTTPError extends RequestError {
  readonly response: CrawleeErrorResponse;
}
/** More redirects than `maxRedirects`: code 'ERR_TOO_MANY_REDIRECTS'. */
export declare class MaxRedirectsError extends RequestError {}
/** `responseType: 'json'` and a body that is not JSON: code 'ERR_BODY_PARSE_FAILURE'. */
export declare class ParseError extends RequestError {
  readonly response: CrawleeErrorResponse;
}
