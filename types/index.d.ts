// Public contract of cycletls-native. Hand-written; call shapes match cycletls 2.0.5, and where
// cycletls used `any` the types are precise (`data` follows `responseType`; JSON is `unknown`).
/// <reference types="node" />
import type { Readable } from 'node:stream';
import type { Blob } from 'node:buffer';

/** Stable error codes, from the engine up. */
export type ErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_UNSUPPORTED_FINGERPRINT'
  | 'ERR_NOT_IMPLEMENTED'
  | 'ERR_DNS'
  | 'ERR_CONNECT_REFUSED'
  | 'ERR_CONNECT_TIMEOUT'
  | 'ERR_CONNECT'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_TLS_HANDSHAKE'
  | 'ERR_TLS_CERT'
  | 'ERR_PROXY'
  | 'ERR_TIMEOUT'
  | 'ERR_BODY_TRUNCATED'
  | 'ERR_PROTOCOL'
  | 'ERR_TOO_MANY_REDIRECTS'
  | 'ERR_ABORTED'
  | 'ERR_CLIENT_CLOSED'
  | 'ERR_INTERNAL';

export type ErrorStage =
  | 'options' | 'queue' | 'dns' | 'connect' | 'tls' | 'write' | 'headers' | 'body' | 'redirect' | 'engine';

export declare const errorCodes: readonly ErrorCode[];

/** Every failure of a request, when it rejects (see `rejectOnError`). */
export declare class CycleTLSError extends Error {
  readonly code: ErrorCode;
  readonly stage: ErrorStage;
  /** Whether trying the same request again may succeed. */
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, stage?: ErrorStage);
  toJSON(): { code: ErrorCode; stage: ErrorStage; message: string };
}

export interface Cookie {
  name: string;
  value: string;
  path?: string;
  domain?: string;
  /** Any format: a Date, an RFC 3339 or RFC 1123 string, or epoch milliseconds. */
  expires?: string | number | Date;
  rawExpires?: string;
  maxAge?: number;
  secure?: boolean;
  httpOnly?: boolean;
  sameSite?: string | number;
  unparsed?: string | string[];
}

/** Declared by cycletls 2.0.5 and never used there; kept for source compatibility. */
export interface TimeoutOptions {
  requestTimeout: number;
  acknowledgementTimeout?: number;
}

export type ResponseType = 'json' | 'text' | 'arraybuffer' | 'blob' | 'stream';
/** Browser presets (exact to captures of the real browsers) and their aliases. */
export type ProfileId = 'chrome_156' | 'firefox_153' | 'safari_26' | 'chrome' | 'chromium' | 'firefox' | 'safari';
export type HttpMethod = 'head' | 'get' | 'post' | 'put' | 'delete' | 'trace' | 'options' | 'connect' | 'patch';
export type HeaderValue = string | number | boolean | ReadonlyArray<string | number | boolean>;

export interface CycleTLSRequestOptions {
  /** Sent in insertion order with the exact casing given. Numbers and booleans are stringified. */
  headers?: { [name: string]: HeaderValue | undefined };
  /** Sent as one Cookie header, `a=1; b=2`. */
  cookies?: Array<Cookie> | { [name: string]: string };
  body?: string | URLSearchParams | Buffer | Uint8Array | ArrayBuffer;
  /** Binary body as base64 text or bytes; takes priority over `body`. */
  bodyBytes?: string | Buffer | Uint8Array | ArrayBuffer;
  /** Default 'json': parsed JSON, or the raw Buffer when the body is not JSON. */
  responseType?: ResponseType;
  /**
   * A browser preset: its ClientHello, HTTP/2 first flight and default headers (see `profiles`).
   * Default: the newest Chrome ('chrome_156').
   */
  profile?: ProfileId;
  /**
   * A JA3 string; the ClientHello carries exactly its ciphers, extensions (in order), groups and
   * point formats. A list with supported_versions (43) offers TLS 1.3. What the stack cannot send
   * rejects with ERR_UNSUPPORTED_FINGERPRINT naming the element.
   */
  ja3?: string;
  /** A JA4_r string (sorted lists, so the hello uses sorted order). Exclusive with `ja3`. */
  ja4r?: string;
  /** An Akamai HTTP/2 string: `SETTINGS|WINDOW_UPDATE|PRIORITY|pseudo-header order`. */
  http2Fingerprint?: string;
  /** HTTP/3 is not supported: rejects with ERR_NOT_IMPLEMENTED. */
  quicFingerprint?: string;
  /** No GREASE anywhere in the ClientHello. */
  disableGrease?: boolean;
  /** Replaces the User-Agent header in place (default: the preset's). */
  userAgent?: string;
  /** Decode gzip, deflate, br and zstd bodies (default true); false gives the raw bytes. */
  decompress?: boolean;
  /** SNI (and the name the certificate must match) when it differs from the URL's host. */
  serverName?: string;
  /** Not implemented yet: rejects with ERR_NOT_IMPLEMENTED. */
  proxy?: string;
  /** Seconds for the whole exchange (fractions allowed); 0 or absent means 15. */
  timeout?: number;
  disableRedirect?: boolean;
  /** Default 10. */
  maxRedirects?: number;
  /** Lower-case header names, sent first in this order; the rest follow as given. */
  headerOrder?: string[];
  /** Send exactly `headers` (plus User-Agent), without the preset's default headers. */
  orderAsProvided?: boolean;
  insecureSkipVerify?: boolean;
  forceHTTP1?: boolean;
  /** HTTP/3 is not supported: `true` rejects with ERR_NOT_IMPLEMENTED. */
  forceHTTP3?: boolean;
  protocol?: 'http1' | 'http2' | 'http3' | 'websocket' | 'sse';
  /** Accepted; connections are always kept alive and reused. */
  enableConnectionReuse?: boolean;
  /** Accepted; TLS 1.3 is always offered. */
  tls13AutoRetry?: boolean;
  /** Aborts the request: it settles with ERR_ABORTED. */
  signal?: AbortSignal;
  /** Per request: reject with a CycleTLSError instead of resolving a status-coded response. */
  rejectOnError?: boolean;
  /** Overrides the url argument, as in cycletls. */
  url?: string;
  method?: string;
}

/** What `data` holds for a given request's options. JSON is `unknown`: narrow or cast it. */
export type ResponseData<O> =
  O extends { responseType: 'text' } ? string
  : O extends { responseType: 'arraybuffer' } ? ArrayBuffer
  : O extends { responseType: 'blob' } ? Blob
  : O extends { responseType: 'stream' } ? Readable
  : unknown;

export interface CycleTLSResponse<T = unknown> {
  status: number;
  statusText: string;
  /** cycletls's shape: canonical names (`Content-Type`), every value an array. */
  headers: { [name: string]: string[] };
  /** Names and values as received, in wire order: [name, value, name, value, ...]. */
  rawHeaders: string[];
  /** Per responseType: parsed JSON (or the Buffer when the body is not JSON), string, ArrayBuffer, Blob or Readable. */
  data: T;
  finalUrl: string;
  requestId: string;
  httpVersion: string;
  /** Negotiated application protocol: 'http/1.1', 'h2', ... */
  protocol: string;
  tls: { version: string; cipher: string; alpn: string } | null;
  connection: { id: number; reused: boolean };
  redirects: number;
  /** Present on failures resolved in cycletls's way (status 408, 495, 502, 421 or 0). */
  error?: { code: ErrorCode; stage: ErrorStage; message: string };
  json<J = unknown>(): Promise<J>;
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
  blob(): Promise<Blob>;
}

export interface WebSocketMessage {
  type: 'text' | 'binary' | 'close' | 'ping' | 'pong';
  data: string | Buffer;
}

export interface CycleTLSWebSocketResponse extends CycleTLSResponse {
  send(data: string | Buffer, isBinary?: boolean): Promise<void>;
  close(code?: number, reason?: string): Promise<void>;
  onMessage(callback: (message: WebSocketMessage) => void): void;
  onClose(callback: (code: number, reason: string) => void): void;
  onError(callback: (error: Error) => void): void;
}

export interface SSEEvent {
  id?: string;
  event?: string;
  data: string;
  retry?: number;
}

export interface CycleTLSSSEResponse extends CycleTLSResponse {
  events(): AsyncIterableIterator<SSEEvent>;
  onEvent(callback: (event: SSEEvent) => void): void;
  onError(callback: (error: Error) => void): void;
  close(): Promise<void>;
}

export interface EngineStats {
  requestsStarted: number;
  requestsInFlight: number;
  connectionsOpened: number;
  tlsHandshakes: number;
  connectionsReused: number;
  connectionsOpen: number;
  connectionsIdle: number;
  bytesIn: number;
  bytesOut: number;
  closed: boolean;
  clients: number;
}

export interface ClientStats {
  clientId: number;
  port: number;
  role: 'host';
  requestsPending: number;
  engine: EngineStats;
}

type RequestMethodFn = <O extends CycleTLSRequestOptions = CycleTLSRequestOptions>(
  url: string, options?: O) => Promise<CycleTLSResponse<ResponseData<O>>>;

export interface CycleTLSClient {
  <O extends CycleTLSRequestOptions = CycleTLSRequestOptions>(
    url: string, options?: O, method?: HttpMethod | Uppercase<HttpMethod>): Promise<CycleTLSResponse<ResponseData<O>>>;
  head: RequestMethodFn;
  get: RequestMethodFn;
  post: RequestMethodFn;
  put: RequestMethodFn;
  delete: RequestMethodFn;
  trace: RequestMethodFn;
  options: RequestMethodFn;
  connect: RequestMethodFn;
  patch: RequestMethodFn;
  /** Not implemented yet: rejects with ERR_NOT_IMPLEMENTED. */
  ws(url: string, options?: CycleTLSRequestOptions): Promise<CycleTLSWebSocketResponse>;
  webSocket(url: string, options?: CycleTLSRequestOptions): Promise<CycleTLSWebSocketResponse>;
  /** Not implemented yet: rejects with ERR_NOT_IMPLEMENTED. */
  sse(url: string, options?: CycleTLSRequestOptions): Promise<CycleTLSSSEResponse>;
  eventSource(url: string, options?: CycleTLSRequestOptions): Promise<CycleTLSSSEResponse>;
  /** Settles this client's own requests with ERR_CLIENT_CLOSED; the last client closes the engine. */
  exit(): Promise<undefined>;
  stats(): ClientStats;
  readonly clientId: number;
}

export interface InitOptions {
  /** Identifies the shared engine: clients on the same port share one. Default 9119. */
  port?: number;
  debug?: boolean;
  /** Accepted for compatibility (cycletls's WebSocket connect timeout, ms); unused. */
  timeout?: number;
  /** Accepted for compatibility; there is no executable. */
  executablePath?: string;
  /** Accepted for compatibility; an idle process always exits by itself. */
  autoExit?: boolean;
  /** Reject failed requests with a CycleTLSError instead of resolving cycletls-style responses. */
  rejectOnError?: boolean;
}

declare function initCycleTLS(initOptions?: InitOptions): Promise<CycleTLSClient>;

export { initCycleTLS };
export default initCycleTLS;

// The fingerprint echo server: `require('cycletls-native/echo')`.
export type { EchoServer, EchoServerOptions, EchoResponse, EchoRecord } from './echo';
