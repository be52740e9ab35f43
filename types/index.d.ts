// Public contract of cycletls-native. Hand-written; call shapes match cycletls 2.0.5, and where
// cycletls used `any` the types are precise (`data` follows `responseType`; JSON is `unknown`).
/// <reference types="node" />
import type { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Blob } from 'node:buffer';
import type { LookupFunction } from 'node:net';
import { EventEmitter } from 'node:events';

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
  | 'ERR_QUEUE_FULL'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_ECH_REJECTED'
  | 'ERR_HOST_GONE'
  | 'ERR_PORT_IN_USE'
  | 'ERR_SHARE_SECRET'
  | 'ERR_NATIVE_UNAVAILABLE'
  | 'ERR_INTERNAL';

export type ErrorStage =
  | 'options'
  | 'queue'
  | 'dns'
  | 'connect'
  | 'proxy'
  | 'tls'
  | 'write'
  | 'headers'
  | 'body'
  | 'redirect'
  | 'engine'
  | 'link';

export declare const errorCodes: readonly ErrorCode[];

/** Every failure of a request, when it rejects (see `rejectOnError`). */
export declare class CycleTLSError extends Error {
  readonly code: ErrorCode;
  readonly stage: ErrorStage;
  /** Whether trying the same request again may succeed. */
  readonly retryable: boolean;
  /**
   * cycletls v3's status of a failure: 408 timeouts, 495 TLS, 502 refused or proxy, 421 DNS and
   * dial, 413 too large; 0 otherwise.
   */
  readonly statusCode: number;
  /** The failed request's id (its response's `requestId`), when the error rejected a request. */
  readonly requestId?: string;
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

/**
 * A cookie jar: tough-cookie's `CookieJar`, or anything with these two methods. Each may return a
 * promise (or a value); a jar that returns neither is called again with a callback as last argument
 * (`(err, result) => void`, tough-cookie's callback form). `setCookie` gets `{ ignoreError: true }`
 * as third argument; a jar that throws or rejects never fails the request.
 */
export interface CookieJarLike {
  getCookieString(url: string, ...rest: never[]): unknown;
  setCookie(cookie: string, url: string, ...rest: never[]): unknown;
}

/** A request body read fully before sending (so a streamed upload is buffered in memory first). */
export type StreamedBody = Readable | AsyncIterable<Uint8Array | string> | WebReadableStream<Uint8Array>;

/** The `form-data` package's FormData, duck-typed: its content type comes from getHeaders(). */
export interface FormDataPackageLike {
  getBoundary(): string;
  getHeaders?(): { [name: string]: string };
  getBuffer?(): Buffer;
  pipe?<T extends NodeJS.WritableStream>(destination: T): T;
}

export type RequestBody =
  | string
  | URLSearchParams
  | Buffer
  | Uint8Array
  | ArrayBuffer
  | SharedArrayBuffer
  | ArrayBufferView
  | FormData
  | Blob
  | FormDataPackageLike
  | StreamedBody;

/** Declared by cycletls 2.0.5 and never used there; kept for source compatibility. */
export interface TimeoutOptions {
  requestTimeout: number;
  acknowledgementTimeout?: number;
}

export type ResponseType = 'json' | 'text' | 'arraybuffer' | 'blob' | 'stream';

/**
 * HTTP/3 (QUIC) use. 'off': TCP only (HTTP/1.1, HTTP/2). 'alt-svc': as a browser, QUIC for origins whose
 * responses advertised `Alt-Svc: h3=...` (remembered per origin with `ma`, `clear` and a failure back-off)
 * or whose DNS HTTPS record lists `h3` in its alpn (from the first request on, as Chrome), racing QUIC
 * against TCP (a 300 ms head start for QUIC) and falling back to TCP silently when the QUIC attempt fails
 * (UDP blocked); never through a proxy. 'force': QUIC only (as forceHTTP3).
 */
/** An address family, as Node's `family`: 0 = both (Happy Eyeballs), 4 = IPv4 only, 6 = IPv6 only. */
export type DnsFamily = 0 | 4 | 6;

export type Http3Mode = 'off' | 'alt-svc' | 'force';
/**
 * Browser presets and their aliases (each alias names the newest preset of its family). chrome_156 and
 * firefox_153 are exact to captures of the real browsers; the others to public recordings and facts.
 */
export type ProfileId =
  | 'chrome_156'
  | 'chrome_150'
  | 'chrome_149'
  | 'chrome_133'
  | 'chrome_131'
  | 'chrome_130'
  | 'edge_156'
  | 'edge_131'
  | 'firefox_153'
  | 'firefox_140'
  | 'firefox_128'
  | 'safari_26'
  | 'safari_18'
  | 'safari_ios_26'
  | 'safari_ios_18'
  | 'chrome'
  | 'chromium'
  | 'edge'
  | 'firefox'
  | 'safari'
  | 'safari_ios';
export type HttpMethod =
  'head' | 'get' | 'post' | 'put' | 'delete' | 'trace' | 'options' | 'connect' | 'patch';
export type HeaderValue = string | number | boolean | ReadonlyArray<string | number | boolean>;

export interface CycleTLSRequestOptions {
  /** Sent in insertion order with the exact casing given. Numbers and booleans are stringified. */
  headers?: { [name: string]: HeaderValue | undefined };
  /** Sent as one Cookie header, `a=1; b=2`; over a jar's cookies of the same name. */
  cookies?: Array<Cookie> | { [name: string]: string };
  /**
   * Every response's Set-Cookie (redirect hops included) goes into this jar, and it supplies the
   * cookies of every hop. Replaces the client's `cookieJar`. Without any jar, cookies set during a
   * redirect chain are still sent on its later hops.
   */
  cookieJar?: CookieJarLike;
  /**
   * FormData → multipart/form-data with a random boundary; Blob → its bytes and type; `form-data`
   * instances → their bytes and content type; all with their exact Content-Length. Streams (Node
   * Readable, WHATWG ReadableStream) and async iterables are sent as they are read: chunked on
   * HTTP/1.1 (or raw under a Content-Length you set, which the stream must then match exactly, else
   * ERR_INVALID_OPTION), DATA frames on HTTP/2, at most 1 MiB read ahead of what left for the server.
   * A streamed body cannot be sent twice: a 307/308 redirect (or a 301/302 that keeps the method) is
   * returned as the response instead of followed. A stream that errors rejects the call with its
   * error. A Content-Type you set is kept.
   */
  body?: RequestBody;
  /**
   * Read a stream or async-iterable `body` fully before sending: exact Content-Length, followed on 307/308.
   * Default false.
   */
  bufferBody?: boolean;
  /** Binary body as base64 text or bytes; takes priority over `body`. */
  bodyBytes?: string | Buffer | Uint8Array | ArrayBuffer | SharedArrayBuffer;
  /** Default 'json': parsed JSON, or the raw Buffer when the body is not JSON. */
  responseType?: ResponseType;
  /**
   * A browser preset: its ClientHello, HTTP/2 first flight and default headers (see `profiles`).
   * Default: the newest Chrome ('chrome_156'); with `ja3`/`ja4r` and no `http2Fingerprint`, the
   * user-agent rule picks it (see `ja3`). An explicit profile always wins over the rule.
   */
  profile?: ProfileId;
  /**
   * A JA3 string; the ClientHello carries exactly its ciphers, extensions (in order), groups and
   * point formats, including suites and extensions the stack cannot negotiate (advertised only: a
   * server that picks one fails with ERR_TLS_HANDSHAKE naming it). A list with supported_versions (43)
   * offers TLS 1.3. The few elements that cannot be sent (e.g. early_data 42) reject with
   * ERR_UNSUPPORTED_FINGERPRINT naming the element.
   *
   * The user-agent rule (cycletls's): without `profile` and `http2Fingerprint`, the rest of the first
   * flight follows the User-Agent's browser family. Firefox (mentions Firefox, not Chrome): the newest
   * Firefox preset's HTTP/2 frames, pseudo-header order and headers, no added GREASE. Chrome and any
   * other: the newest Chrome preset's, and GREASE in the hello even when the string lists none (the
   * JA3 hash is unchanged; `disableGrease` prevents it).
   */
  ja3?: string;
  /**
   * A JA4_r string (sorted lists, so the hello uses sorted order). Exclusive with `ja3`. Without
   * `profile`, the user-agent rule (see `ja3`) picks the preset of the rest of the first flight.
   */
  ja4r?: string;
  /**
   * An Akamai HTTP/2 string: `SETTINGS|WINDOW_UPDATE|PRIORITY|pseudo-header order`. Turns off the user-agent
   * rule.
   */
  http2Fingerprint?: string;
  /**
   * cycletls's QUIC fingerprint: a captured QUIC ClientHello as hex (a TLS record, a handshake message
   * or the bare hello; whitespace and ':' tolerated; what follows `@@` is ignored). Every QUIC
   * connection of the request sends that hello again field by field (ciphers, extensions in order,
   * groups, key shares, signature algorithms, ALPS, ECH GREASE, GREASE places) and its transport
   * parameters in order and value; random, key shares and GREASE values are fresh per connection.
   * Implies HTTP/3 (`http3: 'force'`) unless `http3` is 'alt-svc'; the rest of the first flight
   * (datagram size, padding, CRYPTO layout, SETTINGS, headers) is the profile's, picked by the
   * user-agent rule without `profile` (see `ja3`). Not hex: ERR_INVALID_OPTION; not a ClientHello:
   * ERR_INVALID_OPTION; a hello this stack cannot send exactly (not QUIC, TLS < 1.3, a PSK, an
   * extension BoringSSL cannot emit...): ERR_UNSUPPORTED_FINGERPRINT naming the element. With
   * `http3: 'off'`, forceHTTP1, a proxy or http://: ERR_INVALID_OPTION.
   */
  quicFingerprint?: string;
  /** No GREASE anywhere in the ClientHello (not even what the user-agent rule adds). */
  disableGrease?: boolean;
  /**
   * Replaces the User-Agent header in place (default: the preset's). With `ja3`/`ja4r` and no
   * `profile`, its browser family also picks the preset (the user-agent rule, see `ja3`).
   */
  userAgent?: string;
  /** Decode gzip, deflate, br and zstd bodies (default true); false gives the raw bytes. */
  decompress?: boolean;
  /**
   * Largest decoded body, in bytes; beyond it the request fails with ERR_PROTOCOL (stage 'body'). Default 1
   * GiB.
   */
  maxDecompressedBytes?: number;
  /**
   * Largest body of a buffered response (every `responseType` but 'stream'), in bytes after decoding
   * (what lands in memory); beyond it the request fails with ERR_BODY_TOO_LARGE (stage 'body',
   * status 413 when it resolves) and the connection is not reused. Streams are not limited.
   * Default: the client's `maxResponseBytes`, 1 GiB.
   */
  maxResponseBytes?: number;
  /**
   * SNI (and the name the certificate must match) when it differs from the URL's host; a redirect to another
   * host drops it.
   */
  serverName?: string;
  /**
   * A real Encrypted ClientHello (RFC 9849) for this host: its ECHConfigList in base64, as curl's
   * `--ech ecl:` takes it and a DNS HTTPS record's `ech` parameter carries it (this option wins over
   * DNS's). Chrome presets then send the preset's hello encrypted inside an outer hello that names the
   * config's public_name; Firefox presets keep their ECH GREASE (README "ECH"). A server that rejects
   * it is retried once, as Chrome does (with its retry configs, or without ECH when it sends none);
   * a second rejection fails with ERR_ECH_REJECTED. Not base64, or a list that does not parse:
   * ERR_INVALID_OPTION. A redirect to another host drops it.
   */
  echConfigList?: string;
  /**
   * The proxy for this request: `http://`, `https://` (TLS to the proxy, verified unless
   * `insecureSkipVerify`), `socks4://`, `socks4a://`, `socks5://` (the target's name is resolved
   * locally) or `socks5h://` (the proxy resolves it), with optional percent-encoded `user:pass@`.
   * Default ports: 80, 443, 1080. https targets are tunnelled (CONNECT or SOCKS) and the browser's
   * TLS handshake runs end to end inside the tunnel; plain-http targets through an http(s) proxy go
   * as absolute-form requests. A malformed URL rejects this call with ERR_INVALID_OPTION; a failing
   * proxy gives ERR_PROXY (stage 'dns', 'connect' or 'proxy', with the proxy's reply); `timeout`
   * covers the proxy too. Connections are never shared between different proxies or credentials.
   */
  proxy?: string;
  /** Seconds for the whole exchange (fractions allowed); 0 or absent means 15. */
  timeout?: number;
  /** Seconds for DNS + TCP connect (ERR_CONNECT_TIMEOUT); absent or 0: only `timeout` applies. */
  connectTimeout?: number;
  /** Seconds for the TLS handshake (ERR_TIMEOUT, stage 'tls'). */
  tlsTimeout?: number;
  /** Seconds from the request written to the response head (ERR_TIMEOUT, stage 'headers'). */
  headersTimeout?: number;
  /**
   * The longest gap between body bytes, in seconds (ERR_TIMEOUT, stage 'body'); paused streams do not count.
   */
  bodyIdleTimeout?: number;
  /**
   * Return 3xx responses as they are. When followed, a hop to another origin (scheme, host or port)
   * drops Authorization, Proxy-Authorization, the caller's Cookie/cookies and Host.
   */
  disableRedirect?: boolean;
  /** Default 10. */
  maxRedirects?: number;
  /** Lower-case header names, sent first in this order; the rest follow as given. */
  headerOrder?: string[];
  /** Send exactly `headers` (plus User-Agent), without the preset's default headers. */
  orderAsProvided?: boolean;
  insecureSkipVerify?: boolean;
  forceHTTP1?: boolean;
  /**
   * HTTP/3 over QUIC only (as `http3: 'force'`), with the preset's QUIC fingerprint. Presets without an
   * established one (all but chrome_156, edge_156, firefox_153) reject with ERR_UNSUPPORTED_FINGERPRINT;
   * with a proxy, http:// or forceHTTP1 it rejects with ERR_INVALID_OPTION.
   */
  forceHTTP3?: boolean;
  /** 'http3': as forceHTTP3. 'http1': as forceHTTP1. */
  protocol?: 'http1' | 'http2' | 'http3' | 'websocket' | 'sse';
  /** HTTP/3 for this request; default: initCycleTLS's `http3` ('off'). See Http3Mode. */
  http3?: Http3Mode;
  /**
   * The name servers the engine's own resolver asks for this request (A, AAAA and HTTPS records at
   * once, cached by TTL), in order: "ip" or "ip:port" ("[v6]:port"), at most 8. Default:
   * initCycleTLS's, else the system's (/etc/resolv.conf). Not used where a proxy resolves the name
   * (http(s)://, socks5h://, socks4a://). Failures reject with ERR_DNS and the resolver's reason.
   */
  dnsServers?: string[];
  /** The address family to connect with, as Node's: 0 (both: IPv6 first, IPv4 250 ms later, racing;
   * Happy Eyeballs v2), 4 or 6. Default: initCycleTLS's, else 0. */
  family?: DnsFamily;
  /**
   * Resolve the host with this function instead of the engine's resolver, as net.connect's
   * `lookup` (dns.lookup itself fits): called as lookup(hostname, { family: 0, all: true }, cb).
   * Its error, a throw or an answer that is not IP addresses fail with ERR_DNS; one that never
   * calls back fails at the connect timeout. TLS still names the host. Not used through a proxy.
   */
  lookup?: LookupFunction;
  /**
   * Resolve the host by DNS over HTTPS (RFC 8484) at this https:// URL, sent through this client
   * with the request's preset; A, AAAA and HTTPS records, cached by TTL. Failures are ERR_DNS.
   * Not with `lookup`; not used through a proxy.
   */
  dnsOverHttps?: string | URL;
  /**
   * false: a fresh connection for this request, closed after it (a full TCP + TLS handshake per
   * request: what rotating-proxy users want, to get a new exit per request). The same as
   * maxRequestsPerConnection: 1. true (the default): connections are kept alive and reused.
   */
  enableConnectionReuse?: boolean;
  /**
   * The identity this request belongs to (an account, a proxy exit, a browser profile): any string up
   * to 256 bytes (no NUL). Nothing of one identity serves another: pooled connections (HTTP/1.1,
   * HTTP/2 and HTTP/3 sessions), TLS sessions (tickets), Alt-Svc memory. '' is the engine's default
   * identity. Default: initCycleTLS's `identity`, else ''.
   */
  identity?: string;
  /**
   * A connection takes at most this many requests, then closes once they are done (0 = no limit;
   * 1 = enableConnectionReuse: false). Requests reuse only connections opened under the same limits.
   * Default: initCycleTLS's, else 0.
   */
  maxRequestsPerConnection?: number;
  /**
   * A connection takes no new request once this many milliseconds old, and closes when idle (0 = no
   * limit), for gateways that rotate exits on connection age. Default: initCycleTLS's, else 0.
   */
  maxConnectionAgeMs?: number;
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
export type ResponseData<O> = O extends { responseType: 'text' }
  ? string
  : O extends { responseType: 'arraybuffer' }
    ? ArrayBuffer
    : O extends { responseType: 'blob' }
      ? Blob
      : O extends { responseType: 'stream' }
        ? Readable
        : unknown;

/**
 * What the connection a response came over sent, computed once per connection from the bytes that
 * actually went out (the ClientHello as BoringSSL wrote it; over HTTP/2 the frames our session sent):
 * log and compare it without an echo service. With a real Encrypted ClientHello it describes the outer
 * hello, which is what an observer on the path sees.
 */
export interface Fingerprint {
  /** JA3 string: `version,ciphers,extensions,groups,point_formats` in decimal, GREASE removed, wire order. */
  ja3: string;
  /** JA3 with the extensions sorted (stable for browsers that permute them). */
  ja3n: string;
  /** JA4: `t13d1516h2_...` over TCP, `q13d...` for the QUIC hello of an HTTP/3 connection. */
  ja4: string;
  /** JA4_r: JA4 unhashed (sorted lists). */
  ja4r: string;
  /** The Akamai HTTP/2 string `SETTINGS|WINDOW_UPDATE|PRIORITY|pseudo-headers`; HTTP/2 only. */
  akamai?: string;
  /** The QUIC ClientHello's JA4 (equal to `ja4`); HTTP/3 only. */
  quicJa4?: string;
  /** encrypted_client_hello: a real one the server accepted, GREASE, or not sent. */
  ech: 'grease' | 'real' | 'none';
  /** The handshake resumed an earlier session (equal to `connection.tlsResumed`). */
  resumed: boolean;
}

export interface CycleTLSResponse<T = unknown> {
  status: number;
  statusText: string;
  /** cycletls's shape: canonical names (`Content-Type`), every value an array. */
  headers: { [name: string]: string[] };
  /** Names and values as received, in wire order: [name, value, name, value, ...]. */
  rawHeaders: string[];
  /**
   * Per responseType: parsed JSON (or the Buffer when the body is not JSON), string, ArrayBuffer, Blob or
   * Readable. On a failure resolved in cycletls's way (see `error`): cycletls 2.0.5's text, e.g. `Request
   * timeout: deadline exceeded-> \nGet "<url>": …` or `Request returned a Syscall Error: …`.
   */
  data: T;
  finalUrl: string;
  requestId: string;
  httpVersion: string;
  /** Negotiated application protocol: 'http/1.1', 'h2', 'h3', ... */
  protocol: string;
  tls: { version: string; cipher: string; alpn: string } | null;
  /** tlsResumed: the handshake resumed a TLS session of an earlier connection. protocol: as `protocol`. */
  connection: { id: number; reused: boolean; tlsResumed: boolean; protocol: string };
  /** What the connection sent (JA3, JA4, Akamai, ECH, resumption); null for plain http:// and on failures. */
  fingerprint: Fingerprint | null;
  redirects: number;
  /**
   * Present on failures resolved in cycletls's way (status 408, 495, 502, 421, 413 or 0): the stable code,
   * the stage and the engine's own message (`data` holds cycletls's text).
   */
  error?: { code: ErrorCode; stage: ErrorStage; message: string };
  /**
   * The body methods read the response they are called on (`res.json()`, or a spread copy's): called
   * off it (`const { json } = res; json()`) they reject with a TypeError.
   */
  json<J = unknown>(): Promise<J>;
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
  blob(): Promise<Blob>;
}

export interface WebSocketMessage {
  /** onMessage() and messages() only ever give 'text' (data: string) or 'binary' (data: Buffer). */
  type: 'text' | 'binary' | 'close' | 'ping' | 'pong';
  data: string | Buffer;
}

/** ws()/webSocket(): a request's options (proxy, profile, ja3, headers, cookies, timeout…) and these. */
export interface CycleTLSWebSocketOptions extends CycleTLSRequestOptions {
  /** Subprotocols offered (Sec-WebSocket-Protocol); the server's choice is `subprotocol`. */
  protocols?: string[];
  /**
   * The Origin header. Default: the target's own origin (https://host for wss:, http:// for ws:). Firefox
   * presets derive Sec-Fetch-Site from it (and send Sec-Fetch-Storage-Access: none when it is cross-site or
   * 'null').
   */
  origin?: string;
  /** Offer permessage-deflate (RFC 7692), as browsers do. Default true. */
  perMessageDeflate?: boolean;
  /**
   * Largest message accepted (before and after inflating), bytes; beyond it the socket closes with 1009.
   * Default 100 MiB.
   */
  maxPayload?: number;
  /** Split outgoing messages into frames of at most this many bytes. Default 0: one frame per message. */
  fragmentSize?: number;
  /**
   * After the Close frames were exchanged, how long the server has to close the connection, ms. Default 1000.
   */
  closeTimeoutMs?: number;
}

/**
 * An open WebSocket (status 101; 200 when a Firefox preset ran it over HTTP/2, RFC 8441, `tls.alpn` 'h2'),
 * or — when it could not open — the failure in cycletls's way
 * (`status`, `headers`, `data`: up to 64 KiB of a refusal's body, `error`) with readyState 3, send()
 * rejecting and onError/onClose(1006) reporting why. `data` is null on an open socket; json(),
 * text()... reject there.
 */
export interface CycleTLSWebSocketResponse extends CycleTLSResponse<string | null> {
  /**
   * Strings go as text frames unless isBinary; bytes as binary unless isBinary === false. Resolves once the
   * engine holds under 1 MiB unsent.
   */
  send(
    data: string | Buffer | ArrayBuffer | SharedArrayBuffer | ArrayBufferView,
    isBinary?: boolean,
  ): Promise<void>;
  /** The closing handshake (code 1000, 1001–1014 or 3000–4999; reason ≤ 123 bytes); resolves when closed. */
  close(code?: number, reason?: string): Promise<void>;
  ping(data?: Buffer | string): Promise<void>;
  /** An unsolicited Pong (a heartbeat, ≤ 125 bytes). */
  pong(data?: Buffer | string): Promise<void>;
  /** Ends the connection at once, without the closing handshake; onClose hears 1006. */
  terminate(): void;
  /** Messages that arrived before the first callback are passed to it. */
  onMessage(callback: (message: WebSocketMessage) => void): void;
  /** The server's code and reason; 1005 when it gave none, 1006 when the connection ended without a Close. */
  onClose(callback: (code: number, reason: string) => void): void;
  /** Protocol violations (CycleTLSError ERR_PROTOCOL) and connection failures; once. */
  onError(callback: (error: Error) => void): void;
  /** Pings received from now on (each is answered with a pong automatically). */
  onPing(callback: (data: Buffer) => void): void;
  onPong(callback: (data: Buffer) => void): void;
  /**
   * Pull-based: while nothing consumes, the socket is paused. Ends at the close; throws on an abnormal one.
   */
  messages(): AsyncIterableIterator<WebSocketMessage>;
  /** 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes sent but not yet written to the connection. */
  readonly bufferedAmount: number;
  /** The subprotocol the server chose ('' for none). */
  readonly subprotocol: string;
  /** The server's Sec-WebSocket-Extensions ('' for none). */
  readonly extensions: string;
}

export interface SSEEvent {
  /** The last event id in force when the event was dispatched (absent while it is empty). */
  id?: string;
  /** The `event` field, or 'message'. */
  event?: string;
  /** The `data` lines joined with \n. */
  data: string;
  /** The reconnection time (ms), when this event's block carried a valid `retry` field. */
  retry?: number;
}

/** sse()'s reconnection: after the stream ends or fails, open it again with Last-Event-ID. */
export interface SSEReconnectOptions {
  /** The wait before a reconnection when the server sent no `retry`, ms. Default 3000. */
  retryMs?: number;
  /** Consecutive failed reconnections before giving up (the count restarts on success). Default Infinity. */
  maxRetries?: number;
}

export interface CycleTLSSSEOptions extends CycleTLSRequestOptions {
  /** `true` (retryMs 3000, no limit) or the settings. Default: no reconnection. */
  reconnect?: boolean | SSEReconnectOptions;
  /** Sent as Last-Event-ID on the first connection (later ones send the last id received). */
  lastEventId?: string;
  /**
   * The most an event may hold while it is read, in bytes (UTF-8): the line being read (field name
   * included) plus the event's data (each line with its newline), type and id gathered so far,
   * counted as they arrive. Past it (a line or an event that never ends) the stream fails with
   * ERR_BODY_TOO_LARGE (stage 'body') to onError, the request is cancelled and there is no
   * reconnection (the server would send it again). Default: the client's `maxEventBytes`, 16 MiB.
   */
  maxEventBytes?: number;
}

/**
 * The response head of an event stream. `data` is null while it is one (read it with events() or
 * onEvent(); json()/text()/... reject); for a status other than 200 or a content type other than
 * text/event-stream it is up to 64 KiB of the body as text, and events() ends at once.
 */
export interface CycleTLSSSEResponse extends CycleTLSResponse<string | null> {
  /**
   * One queue for all calls; pulls: while nothing consumes, the socket is paused. Leaving a for-await loop
   * closes.
   */
  events(): AsyncIterableIterator<SSEEvent>;
  /** Each event as parsed (events queued before the first callback are passed to it). */
  onEvent(callback: (event: SSEEvent) => void): void;
  /** Errors (CycleTLSError); those before the first callback are passed to it. */
  onError(callback: (error: Error) => void): void;
  /** Stops the stream and any reconnection; resolves once the connection is let go. */
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
  /** Connections not yet closed (being set up, active or idle): what maxConnections bounds. */
  connectionsLive: number;
  connectionsConnecting: number;
  /** Requests waiting for a connection or for their client's turn. */
  requestsQueued: number;
  /** TLS handshakes that resumed an earlier session. */
  tlsResumed: number;
  /** Requests put on a connection, and those of them on a connection that carried another request. */
  exchanges: number;
  exchangesReused: number;
  /** exchangesReused / exchanges (0 before the first request). */
  reuseRatio: number;
  h2PingsTimedOut: number;
  /** Idle connections found closed by the server and dropped by the periodic sweep. */
  connectionsSwept: number;
  /** Terminal errors by code; codes that never happened are absent. */
  errors: Partial<Record<ErrorCode, number>>;
  /**
   * Per named identity (the `identity` option; the default identity's figures are the totals above),
   * in the order first seen, the last 1024 of them.
   */
  identities: IdentityStats[];
}

/** One identity's share of this process's engine's work since it started. */
export interface IdentityStats {
  identity: string;
  /** TCP connections established (HTTP/3's QUIC connections are not TCP: they count as handshakes). */
  connectionsOpened: number;
  tlsHandshakes: number;
  tlsResumed: number;
  /** Requests put on a connection. */
  exchanges: number;
}

/** One connection identity's share of the pool. */
export interface OriginStats {
  /** "https://host:port [profile]" (+ " sni=…", " insecure", " http1" where they apply). */
  key: string;
  open: number;
  idle: number;
  connecting: number;
  /** HTTP/2 streams open or waiting for a stream slot. */
  h2Streams: number;
}

/** The process link of an instance shared across processes (see InitOptions.shareAcrossProcesses). */
export interface LinkStats {
  /** host: 'listening'; client: 'connecting', 'open', 'idle' (closed after linkIdleTimeoutMs) or 'none'. */
  state: 'none' | 'connecting' | 'open' | 'idle' | 'listening';
  /** client: requests on the link now; host: other processes' requests it is serving now. */
  streamsInFlight: number;
  /** Requests waiting for a (new) host during a handover. */
  waitingForHost: number;
  elections: number;
  /** Links established after the first one (after a host left, or an idle link closed). */
  reconnects: number;
  /** Requests run again on a new host after theirs went away. */
  retried: number;
  /** Requests settled with ERR_HOST_GONE. */
  hostGone: number;
  /** The process that hosts the engine for this port. */
  hostPid: number;
  /** host: client processes connected now, accepted in all, and connections refused. */
  peersOpen: number;
  peersAccepted: number;
  peersRefused: number;
}

export interface ClientStats {
  clientId: number;
  port: number;
  /**
   * 'host': this process runs the engine (and serves other processes on the port); 'client':
   * another process does; 'electing': a handover is under way; 'local': not shared
   * (shareAcrossProcesses: false).
   */
  role: 'host' | 'client' | 'electing' | 'stopped' | 'local';
  requestsPending: number;
  /** This process's engine (all zero while it is a client). */
  engine: EngineStats;
  /** This process's engine's connections per connection identity (empty while it is a client). */
  origins: OriginStats[];
  /** null when the instance is not shared across processes. */
  link: LinkStats | null;
}

type RequestMethodFn = <O extends CycleTLSRequestOptions = CycleTLSRequestOptions>(
  url: string,
  options?: O,
) => Promise<CycleTLSResponse<ResponseData<O>>>;

export interface CycleTLSClient {
  <O extends CycleTLSRequestOptions = CycleTLSRequestOptions>(
    url: string,
    options?: O,
    method?: HttpMethod | Uppercase<HttpMethod>,
  ): Promise<CycleTLSResponse<ResponseData<O>>>;
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
  /** ws:, wss: (or http:, https:) URL. A string `body` is sent as the first text message, as cycletls did. */
  ws(url: string, options?: CycleTLSWebSocketOptions): Promise<CycleTLSWebSocketResponse>;
  webSocket(url: string, options?: CycleTLSWebSocketOptions): Promise<CycleTLSWebSocketResponse>;
  /**
   * A GET with Accept: text/event-stream and Cache-Control: no-cache (unless given), resolved on the
   * response head. Failures resolve as other requests do (or reject under rejectOnError); `timeout`
   * bounds each phase up to the head, not the stream.
   */
  sse(url: string, options?: CycleTLSSSEOptions): Promise<CycleTLSSSEResponse>;
  eventSource(url: string, options?: CycleTLSSSEOptions): Promise<CycleTLSSSEResponse>;
  /** Settles this client's own requests with ERR_CLIENT_CLOSED; the last client closes the engine. */
  exit(): Promise<undefined>;
  /**
   * Graceful exit(): new requests of this client reject with ERR_CLIENT_CLOSED at once, its requests
   * in flight may finish within graceMs (default 0), then the rest settle with ERR_CLIENT_CLOSED.
   * Safe to call twice or concurrently.
   */
  close(options?: { graceMs?: number }): Promise<undefined>;
  stats(): ClientStats;
  readonly clientId: number;
}

export interface InitOptions {
  /**
   * Identifies the shared engine: clients on the same port share one — in this process, and (unless
   * shareAcrossProcesses is false) across processes: the first process binds <socketDir>/<port>.sock and
   * hosts the engine, the others send their requests to it over a Unix-socket link (see socketDir). Default
   * 9119.
   */
  port?: number;
  /**
   * Connections per connection identity (scheme, host, port, SNI, profile, verification); 0 = unlimited
   * (default).
   */
  maxConnectionsPerOrigin?: number;
  /**
   * Connections in all; at the limit an idle connection of another identity is closed. 0 = unlimited
   * (default).
   */
  maxConnections?: number;
  /**
   * Requests one client may have on connections at once, for every client without maxInFlight. 0 = unlimited.
   */
  maxInFlightPerClient?: number;
  /** Requests waiting for a connection, all clients together; past it ERR_QUEUE_FULL. Default 10000. */
  maxQueued?: number;
  /** HTTP/2 sessions per connection identity (1, like browsers: extra streams wait for a slot). */
  maxH2SessionsPerOrigin?: number;
  /** Idle keep-alive connections kept per identity (default 128) and for how long (ms, default 60000). */
  maxIdlePerOrigin?: number;
  idleTimeoutMs?: number;
  /**
   * HTTP/2 PING after this long without a byte from the server (default 30000; 0 = never), answer within
   * h2PingTimeoutMs (10000).
   */
  h2PingIntervalMs?: number;
  h2PingTimeoutMs?: number;
  /** TLS sessions kept for resumption (default 1024; 0 = no resumption). */
  maxTlsSessions?: number;
  /** This client's own limit of requests on connections at once (0 = unlimited). */
  maxInFlight?: number;
  /** The default `maxResponseBytes` of this client's requests (bytes; default 1 GiB). */
  maxResponseBytes?: number;
  /** The default `maxEventBytes` of this client's sse() streams (bytes; default 16 MiB). */
  maxEventBytes?: number;
  /** The default `http3` of this client's requests (default 'off'). */
  http3?: Http3Mode;
  /** The default `identity` of this client's requests (default '': the engine's default identity). */
  identity?: string;
  /** The default `enableConnectionReuse`, `maxRequestsPerConnection` and `maxConnectionAgeMs` of this
   * client's requests (see CycleTLSRequestOptions). */
  enableConnectionReuse?: boolean;
  maxRequestsPerConnection?: number;
  maxConnectionAgeMs?: number;
  /** The default `dnsServers` of this client's requests (default: the system's name servers). */
  dnsServers?: string[];
  /** The default `family` of this client's requests (default 0: both). */
  family?: DnsFamily;
  /** The default `lookup` of this client's requests (see CycleTLSRequestOptions.lookup). */
  lookup?: LookupFunction;
  /** The default `dnsOverHttps` of this client's requests; its answers are cached per client. */
  dnsOverHttps?: string | URL;
  /** This client's own bound on waiting requests (0 = only maxQueued). */
  maxQueuedPerClient?: number;
  /** Share the engine with other processes of this user on the same port. Default true. */
  shareAcrossProcesses?: boolean;
  /**
   * The directory of the Unix sockets that processes of this user share engines through
   * (`<socketDir>/<port>.sock`). Created 0700 when missing; one that is not a directory of this
   * user with mode 0700 is refused with ERR_SHARE_SECRET. Absolute, at most 96 bytes.
   * Default: $CYCLETLS_NATIVE_SOCKET_DIR, else $XDG_RUNTIME_DIR/cycletls-native, else
   * ~/.cycletls-native/run.
   */
  socketDir?: string;
  /**
   * Obsolete: processes are now told apart by the kernel (SO_PEERCRED on a Unix socket), not by a
   * shared secret. Accepted so existing callers keep working, and ignored.
   * @deprecated
   */
  secretFile?: string;
  /**
   * When the hosting process goes away before a response head arrived, run idempotent requests
   * (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) again on the next host. Default true; otherwise they
   * settle with ERR_HOST_GONE (retryable).
   */
  retryOnHostGone?: boolean;
  /** How long requests wait for a new host during a handover, ms. Default 5000. */
  handoverTimeoutMs?: number;
  /** How fast whoever holds the port's socket must answer the link handshake, ms. Default 500. */
  handshakeTimeoutMs?: number;
  /** A client pings its host this often, ms. Default 1000. */
  pingIntervalMs?: number;
  /** A host silent for this long is considered gone, ms. Default 3000. */
  pingTimeoutMs?: number;
  /**
   * A client's link with nothing in flight closes after this long (it reopens on demand), ms. Default 30000.
   */
  linkIdleTimeoutMs?: number;
  /** A leaving host lets other processes' requests finish for this long, ms. Default 5000. */
  drainGraceMs?: number;
  debug?: boolean;
  /** Accepted for compatibility (cycletls's WebSocket connect timeout, ms); unused. */
  timeout?: number;
  /** Accepted for compatibility; there is no executable. */
  executablePath?: string;
  /** Accepted for compatibility; an idle process always exits by itself. */
  autoExit?: boolean;
  /** Reject failed requests with a CycleTLSError instead of resolving cycletls-style responses. */
  rejectOnError?: boolean;
  /** The default `cookieJar` of this client's requests. */
  cookieJar?: CookieJarLike;
}

/** Where the loaded native addon came from. */
export type NativeBindingSource = 'env' | 'source' | 'prebuilt';

/** Which native addon this process loaded: see `nativeBinding()`. */
export interface NativeBinding {
  /** Absolute path of the loaded `cycletls_native.node`. */
  path: string;
  /**
   * 'env': the file CYCLETLS_NATIVE_ADDON names; 'source': a source build (`build/Release` or
   * `build/Debug`, made by `CYCLETLS_NATIVE_BUILD_FROM_SOURCE=1 npm install` or in a clone);
   * 'prebuilt': the package's `prebuilds/<platform>/cycletls_native.node`.
   */
  source: NativeBindingSource;
  /**
   * This machine's platform tag, the name of its `prebuilds/` folder: 'linux-x64-gnu', 'linux-arm64-musl',
   * 'darwin-arm64'...
   */
  platform: string;
  /** The N-API version this Node.js offers (the addon needs 8 or later). */
  napiVersion: number;
}

/**
 * Loads the native addon if not yet loaded and says which binary it is. When none loads, throws a
 * CycleTLSError with code ERR_NATIVE_UNAVAILABLE whose message names the platform tag, every binary
 * tried and why it failed, and how to build one from source.
 */
export declare function nativeBinding(): NativeBinding;

// ---- cycletls v3's client: `new CycleTLS(options)` ----

/** cycletls v3's client options: initCycleTLS's, with v3's units. */
export interface CycleTLSOptions extends InitOptions {
  /** The default request timeout in milliseconds, up to the response head. Default 30000. */
  timeout?: number;
  /** cycletls's Go process: accepted, nothing to spawn (the engine is in this process). */
  autoSpawn?: boolean;
  /** cycletls's credit window: accepted; the engine's own read-ahead applies (2 MiB per stream). */
  initialWindow?: number;
  /** cycletls's credit threshold: accepted, with nothing to act on. */
  creditThreshold?: number;
  /** cycletls's Go executable: accepted, there is none. */
  executablePath?: string;
}

/** A v3 request's options: the legacy ones (profile, proxy, ja3, cookies…), in milliseconds, streamed. */
export interface V3RequestOptions extends Omit<
  CycleTLSRequestOptions,
  'responseType' | 'timeout' | 'rejectOnError' | 'url' | 'method'
> {
  /** Milliseconds up to the response head (connect, TLS, head); default: the client's `timeout`. */
  timeout?: number;
  /** Milliseconds of silence allowed in the body stream (`bodyIdleTimeout`). */
  readTimeout?: number;
}

export interface V3Request extends V3RequestOptions {
  url: string;
  /** Default 'GET'. */
  method?: string;
}

/**
 * A v3 response, resolved at the head: the body is a Readable with back-pressure down to the socket
 * (nothing is read more than 2 MiB ahead of its reader). json()/text()/… read it whole, once.
 */
export interface V3Response extends Omit<CycleTLSResponse<Readable>, 'error' | 'headers'> {
  statusCode: number;
  /** Alias of statusCode. */
  status: number;
  /** Every value an array; names in lower case (Go's spelling works too: `headers['Content-Type']`). */
  headers: { [name: string]: string[] };
  body: Readable;
  /** Alias of body. */
  data: Readable;
  buffer(): Promise<Buffer>;
}

/** ws()'s options in v3: the legacy WebSocket options, in milliseconds. */
export interface V3WebSocketOptions extends Omit<
  CycleTLSWebSocketOptions,
  'timeout' | 'rejectOnError' | 'responseType' | 'url' | 'method'
> {
  timeout?: number;
}

/** sse()'s options in v3: the legacy ones, in milliseconds. */
export interface V3SSEOptions extends Omit<
  CycleTLSSSEOptions,
  'timeout' | 'rejectOnError' | 'responseType' | 'url' | 'method'
> {
  timeout?: number;
  /** Milliseconds of silence allowed in the stream (`bodyIdleTimeout`). */
  sseTimeout?: number;
}

export interface V3SSEResponse extends Omit<CycleTLSSSEResponse, 'headers'> {
  statusCode: number;
  headers: { [name: string]: string[] };
}

export type WebSocketBinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments';

/** client.ws()'s socket: the `ws` package's API, already open (it emits 'open' right after ws() resolves). */
export declare class CycleTLSWebSocket extends EventEmitter {
  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
  readonly url: string;
  /** 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** The subprotocol the server chose ('' for none). */
  readonly protocol: string;
  readonly extensions: string;
  readonly bufferedAmount: number;
  /** How binary messages are given: Buffer (default), ArrayBuffer or [Buffer]. */
  binaryType: WebSocketBinaryType;
  /** The upgrade's response (status, headers, tls, connection…). */
  readonly response: CycleTLSWebSocketResponse;
  send(
    data: string | Buffer | ArrayBuffer | SharedArrayBuffer | ArrayBufferView,
    cb?: (err?: Error) => void,
  ): void;
  send(
    data: string | Buffer | ArrayBuffer | SharedArrayBuffer | ArrayBufferView,
    options: { binary?: boolean; compress?: boolean; fin?: boolean; mask?: boolean },
    cb?: (err?: Error) => void,
  ): void;
  ping(data?: Buffer | string, mask?: boolean, cb?: (err?: Error) => void): void;
  pong(data?: Buffer | string, mask?: boolean, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string | Buffer): void;
  terminate(): void;
  on(event: 'open', listener: () => void): this;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): this;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'ping' | 'pong', listener: (data: Buffer) => void): this;
  once(event: 'open', listener: () => void): this;
  once(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): this;
  once(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  once(event: 'error', listener: (error: Error) => void): this;
  once(event: 'ping' | 'pong', listener: (data: Buffer) => void): this;
}

/**
 * cycletls v3's client. The constructor is synchronous; the engine starts with the first request.
 * HTTP statuses resolve (check statusCode); failures reject with a CycleTLSError (its statusCode says
 * 408, 495, 502…).
 */
export declare class CycleTLS extends EventEmitter {
  constructor(options?: CycleTLSOptions);
  request(options: V3Request): Promise<V3Response>;
  get(url: string, options?: V3RequestOptions): Promise<V3Response>;
  head(url: string, options?: V3RequestOptions): Promise<V3Response>;
  delete(url: string, options?: V3RequestOptions): Promise<V3Response>;
  options(url: string, options?: V3RequestOptions): Promise<V3Response>;
  trace(url: string, options?: V3RequestOptions): Promise<V3Response>;
  /** CONNECT is not a request method here: rejects with ERR_NOT_IMPLEMENTED. */
  connect(url: string, options?: V3RequestOptions): Promise<V3Response>;
  post(url: string, body?: RequestBody, options?: V3RequestOptions): Promise<V3Response>;
  put(url: string, body?: RequestBody, options?: V3RequestOptions): Promise<V3Response>;
  patch(url: string, body?: RequestBody, options?: V3RequestOptions): Promise<V3Response>;
  /** Resolves once the socket is open; 'open' is emitted right after. A failure rejects. */
  ws(url: string, options?: V3WebSocketOptions): Promise<CycleTLSWebSocket>;
  webSocket(url: string, options?: V3WebSocketOptions): Promise<CycleTLSWebSocket>;
  sse(url: string, options?: V3SSEOptions): Promise<V3SSEResponse>;
  eventSource(url: string, options?: V3SSEOptions): Promise<V3SSEResponse>;
  /** Settles this client's requests with ERR_CLIENT_CLOSED; later requests reject with it. */
  close(): Promise<void>;
}

// ---- fetch ----

/** fetch's init: WHATWG RequestInit plus this library's request options (profile, proxy, ja3…). */
export interface FetchInit
  extends
    Omit<RequestInit, 'body' | 'headers'>,
    Omit<
      CycleTLSRequestOptions,
      'body' | 'headers' | 'method' | 'signal' | 'url' | 'responseType' | 'rejectOnError' | 'disableRedirect'
    > {
  /** Every WHATWG body (a ReadableStream needs `duplex: 'half'`), or any of the legacy client's. */
  body?: RequestBody | globalThis.Blob | globalThis.ReadableStream | null;
  headers?: Headers | Array<[string, string]> | Record<string, string | ReadonlyArray<string>>;
  duplex?: 'half';
}

/**
 * A fetch bound to a client. Defaults: this library's request options (profile, proxy, cookieJar, ja3,
 * headers, timeout in seconds up to the head…) and its client options (port, maxConnections…).
 */
export interface FetchOptions
  extends
    Omit<CycleTLSRequestOptions, 'body' | 'url' | 'method' | 'signal' | 'responseType' | 'rejectOnError'>,
    Omit<InitOptions, 'timeout' | 'cookieJar' | 'maxResponseBytes' | 'rejectOnError'> {}

/** Node's global Response, plus what the connection sent (as CycleTLSResponse's `fingerprint`). */
export type FetchResponse = Response & { readonly fingerprint: Fingerprint | null };

export interface Fetch {
  /**
   * Resolves to Node's global Response (url, redirected, a web ReadableStream body with back-pressure,
   * `fingerprint`); network failures reject with TypeError whose `cause` is the CycleTLSError; an abort
   * with the signal's reason.
   */
  (input: string | URL | Request, init?: FetchInit): Promise<FetchResponse>;
  /** Closes its client: requests in flight settle, later calls reject (module-level fetch: a new one). */
  close(): Promise<void>;
}

/** fetch on a client shared by the process, made on first use; closed by itself before the process exits. */
export declare const fetch: Fetch;
export declare function createFetch(options?: FetchOptions): Fetch;

/**
 * The default export, also named initCycleTLS: called, the legacy client (rejects with
 * ERR_NATIVE_UNAVAILABLE when no native addon loads, see `nativeBinding()`); with `new`, cycletls v3's
 * client.
 */
export interface InitCycleTLS {
  (initOptions?: InitOptions): Promise<CycleTLSClient>;
  new (options?: CycleTLSOptions): CycleTLS;
}
declare const initCycleTLS: InitCycleTLS;

export { initCycleTLS };
export type { LookupFunction };
export default initCycleTLS;

// The fingerprint echo server: `require('cycletls-native/echo')`.
export type { EchoServer, EchoServerOptions, EchoResponse, EchoRecord, EchoQuicView } from './echo';
