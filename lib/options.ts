// Validation and normalisation of a request's options (lib/init-options.ts does initCycleTLS's),
// before anything reaches native code. A wrong type is a TypeError naming the option; a wrong value
// a RangeError; the caller's object is never mutated.
import { Buffer } from 'node:buffer';

import { isArrayBufferLike, pendingBody, streamingBody } from './body';
import type { CookieJarLike } from './cookies';
import { normalizeDnsServers, normalizeFamily } from './dns-options';
import { normalizeDnsOptions } from './dns';
import type { DnsChoice } from './dns';
import { isGrease } from './echo/names';
import { invalidOption, invalidRange } from './errors';
import { DEFAULT_USER_AGENT, composeHeaders, withBodyLength } from './headers';
import { nativeConstants } from './native';
import {
  isPlainObject,
  notImplemented,
  optBool,
  optCookieJar,
  optInteger,
  optString,
  typeName,
} from './option-checks';
import type { Dict } from './option-checks';
import { normalizeConnectionPolicy } from './connection-policy';
import type { ConnectionPolicy } from './connection-policy';

export type ResponseType = 'json' | 'text' | 'arraybuffer' | 'blob' | 'stream';
export const RESPONSE_TYPES: readonly ResponseType[] = ['json', 'text', 'arraybuffer', 'blob', 'stream'];
export const HTTP_METHODS = [
  'head',
  'get',
  'post',
  'put',
  'delete',
  'trace',
  'options',
  'connect',
  'patch',
] as const;

/** The decoded size a compressed body may reach by default (a gzip bomb's 1000:1 stops here). */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 1024 * 1024 * 1024;

/**
 * The largest body a buffered response (any responseType but 'stream') may have by default, counted
 * after decoding: what lands in memory. Past it the request fails with ERR_BODY_TOO_LARGE.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024 * 1024;

/** cycletls's own default request timeout, in seconds, when `timeout` is absent or 0. */
export const DEFAULT_TIMEOUT_SECONDS = 15;
export const DEFAULT_MAX_REDIRECTS = 10;
/**
 * A year (the engine's bound): longer deadlines are almost certainly unit mistakes (and overflow timer
 * arithmetic).
 */
export function maxTimeoutSeconds(): number {
  return nativeConstants().maxTimeoutMs / 1000;
}
export { DEFAULT_USER_AGENT };

export interface NormalizedRequest {
  method: string;
  url: URL;
  headers: Array<[string, string]>;
  body: Buffer | undefined;
  /**
   * A body read asynchronously (FormData, Blob, form-data, streams, async iterables): `body` is
   * undefined until resolvePendingBody() read it. Its Content-Type is already among the headers.
   */
  pendingBody: (() => Promise<Buffer>) | undefined;
  /**
   * A stream or async iterable sent as it is read (chunked on HTTP/1.1, DATA frames on h2), unless
   * `bufferBody` asked for it to be read first. Once sent it cannot be sent again.
   */
  bodyStream: AsyncIterable<unknown> | undefined;
  /** The caller's Content-Length for a streamed body: the stream must yield exactly this many bytes. */
  declaredLength: number | undefined;
  /** The jar every hop's Set-Cookie goes into and every hop's cookies come from (undefined: none). */
  cookieJar: CookieJarLike | undefined;
  responseType: ResponseType;
  timeoutMs: number;
  /** Per-phase deadlines (ms; undefined = none): connect (DNS + TCP), TLS handshake, waiting for
   * the response head, and the longest gap between body bytes. */
  connectTimeoutMs: number | undefined;
  tlsTimeoutMs: number | undefined;
  headersTimeoutMs: number | undefined;
  bodyIdleTimeoutMs: number | undefined;
  insecureSkipVerify: boolean;
  forceHttp1: boolean;
  /** HTTP/3 (undefined: the client's default, initCycleTLS's `http3`): 'force' from forceHTTP3,
   * protocol 'http3' or http3 'force'. */
  http3: Http3Mode | undefined;
  /** Internal (never a user option; set by the WebSocket layer): the ClientHello of a browser's
   * reconnect with http/1.1 only after an HTTP/2 server could not carry a WebSocket (no RFC 8441).
   * Implies forceHttp1; Firefox presets also leave out compress_certificate there. */
  http1RetryHello?: boolean;
  serverName: string | undefined;
  /** A real Encrypted ClientHello's ECHConfigList, base64 (README "ECH"); undefined: DNS's, or GREASE. */
  echConfigList: string | undefined;
  /** The proxy URL in one spelling (scheme://[user:password@]host[:port], credentials percent-encoded). */
  proxy: string | undefined;
  disableRedirect: boolean;
  maxRedirects: number;
  rejectOnError: boolean | undefined;
  signal: AbortSignal | undefined;
  /** Whether `cookies`/a Cookie header came from the caller (dropped on cross-origin redirects). */
  hasCookies: boolean;
  /** Preset id ('' = the default preset). */
  profile: string;
  /**
   * `headers` are the preset's HTTP/2 defaults merged with the caller's (an https request whose
   * protocol ALPN will choose): should it choose HTTP/1.1, the native writer re-spells them as the
   * browser writes HTTP/1.1. False when HTTP/1.1 was known in advance (the HTTP/1.1 list was merged),
   * with orderAsProvided (exact headers) and with headerOrder (the caller's order stands).
   */
  presetHeaders: boolean;
  ja3: string | undefined;
  ja4r: string | undefined;
  http2Fingerprint: string | undefined;
  /** A captured QUIC ClientHello as hex (cycletls's quicFingerprint), as given. */
  quicFingerprint: string | undefined;
  disableGrease: boolean;
  /** Decode gzip/deflate/br/zstd bodies (default true). */
  decompress: boolean;
  /** Decoded bodies larger than this fail with ERR_PROTOCOL (a decompression bomb); bytes. */
  maxDecompressedBytes: number;
  /**
   * Buffered bodies larger than this (decoded) fail with ERR_BODY_TOO_LARGE; undefined: the client's default.
   */
  maxResponseBytes: number | undefined;
  /** The identity and rotation limits given here (absent: the client's, initCycleTLS's). */
  connection: ConnectionPolicy;
  /** The engine resolver's name servers (c-ares's list; undefined: initCycleTLS's, else the system's). */
  dnsServers: string | undefined;
  /** The address family (0, 4 or 6; undefined: initCycleTLS's, else 0). */
  family: 0 | 4 | 6 | undefined;
  /** Who resolves the host (`lookup`, `dnsOverHttps`); undefined: the client's default. */
  dns: DnsChoice | undefined;
}

/**
 * Which of a preset's default header lists a request starts from: HTTP/2 (https, protocol chosen by
 * ALPN), HTTP/1.1 over TLS (https with forceHTTP1), HTTP/1.1 over plain http:// (no br/zstd, no
 * headers browsers send to secure contexts only). Each is in the browser's order and spelling.
 */
export type PresetHeaderSet = 'http2' | 'http1' | 'http1-plain';

/** The `http3` option (request and initCycleTLS): never, from Alt-Svc like a browser, or always. */
export type Http3Mode = 'off' | 'alt-svc' | 'force';
export const HTTP3_MODES: readonly Http3Mode[] = ['off', 'alt-svc', 'force'];

/** A request's or initCycleTLS's `http3` option; undefined when absent. */
export function normalizeHttp3Mode(v: unknown): Http3Mode | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidOption(`option "http3" must be a string, got ${typeName(v)}`);
  if (!(HTTP3_MODES as readonly string[]).includes(v))
    throw invalidRange(`option "http3" must be one of ${HTTP3_MODES.join(', ')}; got ${JSON.stringify(v)}`);
  return v as Http3Mode;
}

/** What the option layer needs to know about presets: their ids and default headers. */
export interface PresetCatalog {
  has(id: string): boolean;
  /** `set` defaults to 'http2'. */
  headers(id: string, set?: PresetHeaderSet): ReadonlyArray<readonly [string, string]>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FORBIDDEN_VALUE = /[\r\n\0]/;

function headerValue(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') s = String(v);
  else throw invalidOption(`header "${name}" must be a string, number or boolean, got ${typeName(v)}`);
  if (FORBIDDEN_VALUE.test(s)) throw invalidOption(`header "${name}" contains CR, LF or NUL`);
  return s;
}

function normalizeHeaders(raw: unknown): Array<[string, string]> {
  if (raw === undefined || raw === null) return [];
  if (!isPlainObject(raw)) throw invalidOption(`option "headers" must be an object, got ${typeName(raw)}`);
  const out: Array<[string, string]> = [];
  for (const [name, v] of Object.entries(raw)) {
    if (!TOKEN.test(name))
      throw invalidOption(`header name ${JSON.stringify(name)} is not a valid HTTP token`);
    if (Array.isArray(v)) {
      for (const item of v) {
        const s = headerValue(name, item);
        if (s !== undefined) out.push([name, s]);
      }
      continue;
    }
    const s = headerValue(name, v);
    if (s !== undefined) out.push([name, s]);
  }
  return out;
}

const COOKIE_VALUE_FORBIDDEN = /[;\r\n\0]/;

function cookiePair(name: unknown, value: unknown, where: string): string {
  if (typeof name !== 'string' || name === '' || !TOKEN.test(name)) {
    throw invalidOption(`${where}: cookie name must be a non-empty token, got ${JSON.stringify(name)}`);
  }
  let v: string;
  if (typeof value === 'string') v = value;
  else if (typeof value === 'number' || typeof value === 'boolean') v = String(value);
  else if (value === undefined || value === null) v = '';
  else throw invalidOption(`${where}: cookie "${name}" value must be a string, got ${typeName(value)}`);
  if (COOKIE_VALUE_FORBIDDEN.test(v))
    throw invalidOption(`${where}: cookie "${name}" value contains ';', CR, LF or NUL`);
  return `${name}=${v}`;
}

function normalizeCookies(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  const pairs: string[] = [];
  if (Array.isArray(raw)) {
    raw.forEach((c, i) => {
      if (!isPlainObject(c))
        throw invalidOption(`option "cookies[${i}]" must be an object, got ${typeName(c)}`);
      // Attributes (path, domain, expires in any format, maxAge, secure, httpOnly, sameSite) are
      // tolerated: they matter to a cookie jar, not to the Cookie header of this request.
      pairs.push(cookiePair(c.name, c.value, `option "cookies[${i}]"`));
    });
  } else if (isPlainObject(raw)) {
    for (const [name, value] of Object.entries(raw)) pairs.push(cookiePair(name, value, 'option "cookies"'));
  } else {
    throw invalidOption(`option "cookies" must be an array or an object, got ${typeName(raw)}`);
  }
  return pairs.length ? pairs.join('; ') : undefined;
}

interface BodyResult {
  body: Buffer | undefined;
  contentType: string | undefined;
  pending?: () => Promise<Buffer>;
  stream?: AsyncIterable<unknown>;
}

/** What most requests have (read only: the caller destructures it). */
const NO_BODY: Readonly<BodyResult> = Object.freeze({ body: undefined, contentType: undefined });

function normalizeBody(o: Dict): BodyResult {
  const bytes = o.bodyBytes;
  const empty =
    bytes === '' ||
    (bytes instanceof Uint8Array && bytes.byteLength === 0) ||
    (isArrayBufferLike(bytes) && bytes.byteLength === 0);
  if (bytes !== undefined && bytes !== null && !empty) {
    if (typeof bytes === 'string') {
      if (!/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(bytes))
        throw invalidOption('option "bodyBytes" must be base64 text or bytes');
      return { body: Buffer.from(bytes, 'base64'), contentType: undefined };
    }
    if (bytes instanceof Uint8Array)
      return { body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), contentType: undefined };
    if (isArrayBufferLike(bytes)) return { body: Buffer.from(bytes), contentType: undefined };
    throw invalidOption(
      `option "bodyBytes" must be a base64 string, Buffer, Uint8Array or ArrayBuffer, got ${typeName(bytes)}`,
    );
  }
  const b = o.body;
  if (b === undefined || b === null) return NO_BODY;
  if (typeof b === 'string')
    return { body: b.length ? Buffer.from(b, 'utf8') : undefined, contentType: undefined };
  if (b instanceof URLSearchParams) {
    return {
      body: Buffer.from(b.toString(), 'utf8'),
      contentType: 'application/x-www-form-urlencoded;charset=UTF-8',
    };
  }
  if (b instanceof Uint8Array)
    return { body: Buffer.from(b.buffer, b.byteOffset, b.byteLength), contentType: undefined };
  if (isArrayBufferLike(b)) return { body: Buffer.from(b), contentType: undefined };
  if (ArrayBuffer.isView(b))
    return { body: Buffer.from(b.buffer, b.byteOffset, b.byteLength), contentType: undefined };
  if (!optBool(o, 'bufferBody')) {
    const stream = streamingBody(b);
    if (stream) return { body: undefined, contentType: undefined, stream };
  }
  const pending = pendingBody(b);
  if (pending) return { body: undefined, contentType: pending.contentType, pending: pending.read };
  throw invalidOption(
    'option "body" must be a string, URLSearchParams, Buffer, Uint8Array, ArrayBuffer, FormData, Blob, ' +
      `a readable stream or an async iterable, got ${typeName(b)}`,
  );
}

/** A per-phase timeout in seconds (cycletls's unit for `timeout`); undefined/0 = none. In ms. */
function phaseTimeout(o: Dict, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === 0) return undefined;
  if (typeof v !== 'number')
    throw invalidOption(`option "${key}" must be a number of seconds, got ${typeName(v)}`);
  if (!Number.isFinite(v) || v < 0 || v > maxTimeoutSeconds()) {
    throw invalidRange(
      `option "${key}" must be a number of seconds from 0 to ${maxTimeoutSeconds()}, got ${v}`,
    );
  }
  return Math.max(1, Math.round(v * 1000));
}

function normalizeTimeout(v: unknown): number {
  if (v === undefined || v === null || v === 0) return DEFAULT_TIMEOUT_SECONDS * 1000;
  if (typeof v !== 'number')
    throw invalidOption(`option "timeout" must be a number of seconds, got ${typeName(v)}`);
  if (!Number.isFinite(v) || v < 0 || v > maxTimeoutSeconds()) {
    throw invalidRange(
      `option "timeout" must be a number of seconds from 0 to ${maxTimeoutSeconds()}, got ${v}`,
    );
  }
  return Math.max(1, Math.round(v * 1000));
}

function normalizeMethod(m: unknown): string {
  if (m === undefined || m === null || m === '') return 'GET';
  if (typeof m !== 'string') throw invalidOption(`method must be a string, got ${typeName(m)}`);
  if (!TOKEN.test(m)) throw invalidOption(`method ${JSON.stringify(m)} is not a valid HTTP method`);
  return m.toUpperCase();
}

function normalizeUrl(u: unknown): URL {
  if (u instanceof URL) u = u.href;
  if (typeof u !== 'string') throw invalidOption(`url must be a string, got ${typeName(u)}`);
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw invalidOption(`Invalid URL: ${u.length > 200 ? `${u.slice(0, 200)}…` : u}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    if (url.protocol === 'ws:' || url.protocol === 'wss:')
      throw invalidOption(`a ${url.protocol} URL is opened with ws() or webSocket()`);
    throw invalidOption(`url scheme ${url.protocol} is not supported (http: and https: are)`);
  }
  if (url.port === '0') throw invalidRange(`url port must be from 1 to 65535, got 0 (${url.href})`);
  if (url.hostname === '') throw invalidOption(`url has no host: ${url.href}`);
  return url;
}

/** `headerOrder`: header names, put first in this order (lib/headers.ts applies it). */
function normalizeHeaderOrder(order: unknown): string[] | undefined {
  if (order === undefined || order === null) return undefined;
  if (!Array.isArray(order) || !order.every((n) => typeof n === 'string')) {
    throw invalidOption(`option "headerOrder" must be an array of strings, got ${typeName(order)}`);
  }
  return order;
}

const PROXY_SCHEMES = ['http:', 'https:', 'socks4:', 'socks4a:', 'socks5:', 'socks5h:'];

/**
 * The `proxy` option: absent when undefined, null or empty; otherwise a URL with one of the six
 * schemes, a host, an optional port and optional percent-encoded `user:password@`. Returned in one
 * spelling for the engine (which parses it again and decodes the credentials). Error messages never
 * repeat the credentials.
 */
function normalizeProxy(o: Dict): string | undefined {
  const v = optString(o, 'proxy');
  if (v === undefined || v.trim() === '') return undefined;
  const raw = v.trim();
  const shown = raw.replace(/\/\/.*@/, '//…@');
  const bad = (why: string): TypeError =>
    invalidOption(`option "proxy" ${why}, got ${JSON.stringify(shown)}`);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined)
    throw bad('must be a URL such as socks5://host:1080 or http://user:pass@host:8080');
  if (!PROXY_SCHEMES.includes(`${scheme}:`))
    throw bad('must use one of the schemes http, https, socks4, socks4a, socks5, socks5h');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('is not a valid URL');
  }
  const host = url.hostname;
  if (host === '') throw bad('has no host');
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)$/.test(host)) throw bad('has an invalid host');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '')
    throw bad('must not have a path, query or fragment');
  if (url.port === '0') throw bad('has port 0');
  let user: string;
  let password: string;
  try {
    user = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
  } catch {
    throw bad('has malformed percent-encoding in its credentials');
  }
  if (scheme.startsWith('socks5') && (Buffer.byteLength(user) > 255 || Buffer.byteLength(password) > 255)) {
    throw bad('has a user name or password longer than SOCKS5 allows (255 bytes)');
  }
  const credentials = url.username !== '' || url.password !== '' ? `${url.username}:${url.password}@` : '';
  return `${scheme}://${credentials}${host.toLowerCase()}${url.port !== '' ? `:${url.port}` : ''}`;
}

/**
 * `echConfigList`: an ECHConfigList (RFC 9849 §4) in base64, as curl's `--ech ecl:` and a DNS HTTPS record's
 * `ech` parameter carry it. Checked here: the alphabet, and the outer length that frames the list; the
 * engine's TLS stack parses the configs themselves (a malformed one fails the request with ERR_INVALID_OPTION
 * at the TLS stage, as Chrome fails with ERR_INVALID_ECH_CONFIG_LIST).
 */
function optEchConfigList(o: Dict): string | undefined {
  const v = optString(o, 'echConfigList');
  if (v === undefined || v === '') return undefined;
  const bad = (why: string) =>
    invalidRange(`option "echConfigList" must be an ECHConfigList in base64: ${why}`);
  if (v.length > 87384 || !/^[A-Za-z0-9+/]+={0,2}$/.test(v) || v.length % 4 !== 0) throw bad('not base64');
  const bytes = Buffer.from(v, 'base64');
  if (bytes.length < 6 || bytes.readUInt16BE(0) !== bytes.length - 2)
    throw bad('its length prefix does not frame the list');
  return v;
}

/** A fingerprint string option: absent when undefined, null or empty. */
function optFingerprint(o: Dict, key: string, shape: RegExp, what: string): string | undefined {
  const v = optString(o, key);
  if (v === undefined || v.trim() === '') return undefined;
  if (!shape.test(v.trim()))
    throw invalidRange(
      `option "${key}" must be ${what}, got ${JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v)}`,
    );
  return v.trim();
}

/**
 * quicFingerprint's shape: hex (whitespace and ':' between bytes tolerated, an optional 0x), and
 * anything after "@@" (cycletls's captures append the HTTP/2 bytes there). The engine reads the hello.
 */
const QUIC_FINGERPRINT_SHAPE = /^(0x)?[0-9a-f][0-9a-f\s:]*(@@[\s\S]*)?$/i;

/** The alias of the newest Firefox preset (the native preset table resolves it). */
const NEWEST_FIREFOX = 'firefox';

/**
 * The browser family cycletls 2.0.5 reads from a User-Agent (observed): one that mentions Chrome is
 * Chrome's, else one that mentions Firefox (any case) is Firefox's, and everything else is Chrome's.
 */
export function userAgentFamily(userAgent: string): 'chrome' | 'firefox' {
  return !/chrome/i.test(userAgent) && /firefox/i.test(userAgent) ? 'firefox' : 'chrome';
}

/** A GREASE value (0x0a0a), as a JA3 string writes it. */
const JA3_GREASE = '2570';

/**
 * The JA3 string with Chrome's GREASE: when its extensions list no GREASE value, one is put first,
 * where Chrome sends it. JA3 leaves GREASE values out of the fingerprint, so the string still
 * describes the same JA3 (the same hash); the engine reads a GREASE value among the extensions as
 * "GREASE this hello" (ciphers, groups, extensions, versions and key shares, as Chrome does).
 */
export function withGrease(ja3: string): string {
  const fields = ja3.split(',');
  const extensions = fields[2] === '' ? [] : fields[2].split('-');
  if (extensions.some((e) => isGrease(Number(e)))) return ja3;
  fields[2] = [JA3_GREASE, ...extensions].join('-');
  return fields.join(',');
}

export function normalizeRequest(
  urlArg: unknown,
  optionsArg: unknown,
  methodArg: unknown,
  presets?: PresetCatalog,
): NormalizedRequest {
  if (optionsArg !== undefined && optionsArg !== null && !isPlainObject(optionsArg)) {
    throw invalidOption(`request options must be an object, got ${typeName(optionsArg)}`);
  }
  const o: Dict = (optionsArg as Dict | undefined) ?? {};
  // cycletls sends {url, ...options}: an options.url overrides the url argument.
  const url = normalizeUrl(o.url !== undefined && o.url !== null ? o.url : urlArg);
  // cycletls sends {url, ...options, method}: the method argument (which the client's functions
  // always pass, 'get' by default) wins over options.method.
  const optionMethod = o.method !== undefined && o.method !== null ? normalizeMethod(o.method) : undefined;
  const method =
    methodArg !== undefined && methodArg !== null ? normalizeMethod(methodArg) : (optionMethod ?? 'GET');
  if (method === 'CONNECT') throw notImplemented('method CONNECT', 'tunnels are not a request method here');

  const proxy = normalizeProxy(o);
  const protocol = optString(o, 'protocol');
  if (
    protocol !== undefined &&
    protocol !== '' &&
    !['http1', 'http2', 'http3', 'websocket', 'sse'].includes(protocol)
  ) {
    throw invalidRange(
      `option "protocol" must be one of http1, http2, http3, websocket, sse; got ${JSON.stringify(protocol)}`,
    );
  }
  if (protocol === 'websocket' || protocol === 'sse') {
    throw notImplemented(
      `protocol "${protocol}"`,
      protocol === 'sse'
        ? 'use sse() or eventSource(), which parse the event stream'
        : 'use ws() or webSocket(), which speak the protocol',
    );
  }
  // cycletls's forceHTTP3 and protocol 'http3' mean HTTP/3 directly, as http3: 'force' does.
  let http3 = normalizeHttp3Mode(o.http3);
  if (optBool(o, 'forceHTTP3') || protocol === 'http3') {
    if (http3 !== undefined && http3 !== 'force')
      throw invalidOption(
        `forceHTTP3 / protocol "http3" contradict option "http3": ${JSON.stringify(http3)}`,
      );
    http3 = 'force';
  }
  const quicFingerprint = optFingerprint(
    o,
    'quicFingerprint',
    QUIC_FINGERPRINT_SHAPE,
    'a QUIC ClientHello as hex (a TLS record, a handshake message or the hello; "@@..." ignored)',
  );
  if (quicFingerprint !== undefined) {
    // cycletls builds the QUIC hello from it (with forceHTTP3): here it implies HTTP/3 unless the
    // request asks for alt-svc discovery, where it shapes the QUIC connections that discovery makes.
    if (http3 === 'off')
      throw invalidOption('quicFingerprint shapes a QUIC connection: it contradicts http3 "off"');
    http3 ??= 'force';
  }
  optBool(o, 'tls13AutoRetry'); // TLS 1.3 is always offered

  const rt = o.responseType;
  let responseType: ResponseType = 'json';
  if (rt !== undefined && rt !== null) {
    if (typeof rt !== 'string')
      throw invalidOption(`option "responseType" must be a string, got ${typeName(rt)}`);
    if (!(RESPONSE_TYPES as readonly string[]).includes(rt)) {
      throw invalidRange(
        `option "responseType" must be one of ${RESPONSE_TYPES.join(', ')}; got ${JSON.stringify(rt)}`,
      );
    }
    responseType = rt as ResponseType;
  }

  let profile = optString(o, 'profile') ?? '';
  if (profile !== '' && presets && !presets.has(profile)) {
    throw invalidRange(`option "profile" names no preset: ${JSON.stringify(profile)}`);
  }
  let ja3 = optFingerprint(
    o,
    'ja3',
    /^\d+,[\d-]*,[\d-]*,[\d-]*,[\d-]*$/,
    'a JA3 string (version,ciphers,extensions,groups,formats)',
  );
  const ja4r = optFingerprint(
    o,
    'ja4r',
    /^[a-z0-9]{10}_[0-9a-f,]*_[0-9a-f,]*_[0-9a-f,]*$/i,
    'a JA4_r string',
  );
  const http2Fingerprint = optFingerprint(
    o,
    'http2Fingerprint',
    /^[^|]*\|\d+\|[^|]+\|[masp,]+$/,
    'an Akamai HTTP/2 string (SETTINGS|WINDOW_UPDATE|PRIORITY|m,a,s,p)',
  );
  const disableGrease = optBool(o, 'disableGrease') ?? false;
  const exactHeaders = optBool(o, 'orderAsProvided') ?? false;
  const forceHttp1 = (optBool(o, 'forceHTTP1') ?? false) || protocol === 'http1';
  if (forceHttp1 && http3 === 'force') throw invalidOption('forceHTTP1 and HTTP/3 contradict each other');
  if (http3 === 'force' && url.protocol === 'http:')
    throw invalidOption('HTTP/3 needs an https:// URL (QUIC is always encrypted)');
  const callerHeaders = normalizeHeaders(o.headers);
  const userAgent = optString(o, 'userAgent');
  if (userAgent !== undefined && FORBIDDEN_VALUE.test(userAgent))
    throw invalidOption('option "userAgent" contains CR, LF or NUL');
  if (
    profile === '' &&
    http2Fingerprint === undefined &&
    (ja3 !== undefined || ja4r !== undefined || quicFingerprint !== undefined)
  ) {
    // cycletls's user-agent rule: a ClientHello string without a preset takes the rest of its first
    // flight (HTTP/2 framing, header order, GREASE) from the browser family of the User-Agent sent.
    const sent =
      userAgent || callerHeaders.find(([n]) => n.toLowerCase() === 'user-agent')?.[1] || DEFAULT_USER_AGENT;
    if (userAgentFamily(sent) === 'firefox') profile = NEWEST_FIREFOX;
    else if (ja3 !== undefined && !disableGrease) ja3 = withGrease(ja3);
  }
  // With a preset (always, unless orderAsProvided asks for exactly the caller's headers), its
  // default headers are the base: the HTTP/1.1 list when that protocol is certain, else HTTP/2's.
  const headerSet: PresetHeaderSet =
    url.protocol === 'http:' ? 'http1-plain' : forceHttp1 ? 'http1' : 'http2';
  const merged = presets !== undefined && !exactHeaders;
  const cookie = normalizeCookies(o.cookies);
  const { body, contentType, pending, stream } = normalizeBody(o);
  const cookieJar = optCookieJar(o);
  const { headers, declaredLength } = composeHeaders({
    caller: callerHeaders,
    preset: merged ? presets.headers(profile, headerSet) : undefined,
    userAgent,
    cookie,
    contentType,
    body,
    streamed: stream !== undefined,
    order: normalizeHeaderOrder(o.headerOrder),
  });
  const presetHeaders =
    merged && headerSet === 'http2' && (o.headerOrder === undefined || o.headerOrder === null);

  let serverName = optString(o, 'serverName');
  if (serverName === '') serverName = undefined;
  if (
    serverName !== undefined &&
    (!/^[A-Za-z0-9.\-_:]+$/.test(serverName) ||
      serverName.length > 253 ||
      serverName.split('.').some((label) => label.length > 63))
  ) {
    throw invalidRange(`option "serverName" must be a host name, got ${JSON.stringify(serverName)}`);
  }

  const signal = o.signal;
  if (
    signal !== undefined &&
    signal !== null &&
    (typeof signal !== 'object' ||
      typeof (signal as AbortSignal).addEventListener !== 'function' ||
      typeof (signal as AbortSignal).aborted !== 'boolean')
  ) {
    throw invalidOption(`option "signal" must be an AbortSignal, got ${typeName(signal)}`);
  }

  const maxRedirects = o.maxRedirects;
  if (
    maxRedirects !== undefined &&
    maxRedirects !== null &&
    (typeof maxRedirects !== 'number' || !Number.isInteger(maxRedirects) || maxRedirects < 0)
  ) {
    throw invalidOption(
      `option "maxRedirects" must be a non-negative integer, got ${typeName(maxRedirects)}`,
    );
  }

  return {
    method,
    url,
    headers,
    body,
    pendingBody: pending,
    bodyStream: stream,
    declaredLength,
    cookieJar,
    responseType,
    timeoutMs: normalizeTimeout(o.timeout),
    connectTimeoutMs: phaseTimeout(o, 'connectTimeout'),
    tlsTimeoutMs: phaseTimeout(o, 'tlsTimeout'),
    headersTimeoutMs: phaseTimeout(o, 'headersTimeout'),
    bodyIdleTimeoutMs: phaseTimeout(o, 'bodyIdleTimeout'),
    insecureSkipVerify: optBool(o, 'insecureSkipVerify') ?? false,
    forceHttp1,
    http3,
    dnsServers: normalizeDnsServers(o),
    family: normalizeFamily(o),
    serverName,
    echConfigList: optEchConfigList(o),
    proxy,
    disableRedirect: optBool(o, 'disableRedirect') ?? false,
    maxRedirects: (maxRedirects as number | undefined) ?? DEFAULT_MAX_REDIRECTS,
    rejectOnError: optBool(o, 'rejectOnError'),
    signal: (signal as AbortSignal | undefined) ?? undefined,
    hasCookies: cookie !== undefined,
    profile,
    presetHeaders,
    ja3,
    ja4r,
    http2Fingerprint,
    quicFingerprint,
    disableGrease,
    decompress: optBool(o, 'decompress') ?? true,
    maxDecompressedBytes:
      optInteger(o, 'maxDecompressedBytes', 1, Number.MAX_SAFE_INTEGER) ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
    maxResponseBytes: optInteger(o, 'maxResponseBytes', 1, Number.MAX_SAFE_INTEGER),
    connection: normalizeConnectionPolicy(o),
    dns: normalizeDnsOptions(o),
  };
}

/**
 * Reads a pending body (see NormalizedRequest.pendingBody) and returns the request with it, the
 * caller's Content-Length (if any) corrected to its length. Other requests come back unchanged.
 */
export async function resolvePendingBody(req: NormalizedRequest): Promise<NormalizedRequest> {
  if (!req.pendingBody) return req;
  const bytes = await req.pendingBody();
  return {
    ...req,
    headers: withBodyLength(req.headers, bytes.length),
    body: bytes.length ? bytes : undefined,
    pendingBody: undefined,
  };
}
