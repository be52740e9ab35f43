// The opening handshake of RFC 6455 §4 over HTTP/1.1: the upgrade request's headers in the order
// and spelling each browser family sends them, and the validation of the server's 101 answer.
//
// Sources for the orders (public captures and source; none was re-captured here):
// - Chrome: Chromium's net/websockets/websocket_handshake_stream_base.cc (AddVectorHeaders: the
//   Sec-WebSocket-Extensions line, then Sec-WebSocket-Protocol, both after Sec-WebSocket-Key); a
//   Chrome 103 capture in a public repository's notes (Host, Connection, Pragma, Cache-Control,
//   User-Agent, Upgrade, Origin, Sec-WebSocket-Version, Accept-Encoding, Accept-Language, Cookie,
//   Sec-WebSocket-Key, Sec-WebSocket-Extensions), consistent with older captures (whatwg/html#852,
//   Chrome 49; php-toolkit/php-librarys and gdut17/websocket READMEs, Chrome 58/65, where
//   User-Agent still stood after Sec-WebSocket-Version); a 2025 HAR-based note (Chrome 150) that
//   Chrome sends no Accept, no Sec-Fetch-* and no client hints on a WebSocket upgrade. Where custom
//   headers go is unverifiable (a page cannot set any): they are put where Chrome puts the cookies.
// - Firefox: raw headers in zeromq/jszmq#18 (Firefox 84: Sec-WebSocket-Protocol between Origin and
//   Sec-WebSocket-Extensions, DNT after Sec-WebSocket-Key, Cookie after Connection). The order,
//   spelling and values are checked byte for byte against Firefox ESR 153 captured on this machine
//   (../shared/fingerprints/websocket: `Connection: Upgrade`, `Sec-Fetch-Storage-Access: none` after
//   Sec-WebSocket-Key for a cross-site or `null` origin; over HTTP/2 (RFC 8441) the same list less
//   Host, Sec-WebSocket-Key, Connection and Upgrade, lower-cased, which the engine derives).
// - Safari: NOT established. Old WebKit source (WebSocketHandshake.cpp) is no longer what Safari
//   uses (since Safari 15 the NSURLSession WebSocket, with standard permessage-deflate), and no
//   capture of it was found. Chrome's order is used, with Safari's Accept-Encoding.
import { createHash, randomBytes } from 'node:crypto';

import { invalidOption } from '../errors';
import { deflateOffer, handshakeFailure, parseDeflateResponse } from './deflate';
import type { NegotiatedDeflate } from './deflate';

export type BrowserFamily = 'chrome' | 'firefox' | 'safari';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A fresh Sec-WebSocket-Key: 16 random bytes, base64. */
export function createKey(): string {
  return randomBytes(16).toString('base64');
}

/** The Sec-WebSocket-Accept the server must answer `key` with. */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

export interface HandshakeOptions {
  key: string;
  userAgent?: string;
  /** Default: the target's own origin, as for a page on the same host (https for wss, http for ws). */
  origin?: string;
  protocols?: string[];
  perMessageDeflate: boolean;
  acceptLanguage?: string;
  /** The caller's headers, [name, value] in the caller's order. */
  extra: Array<[string, string]>;
}

/**
 * A header of a family's list: its spelling, and its value (undefined: not sent unless the caller gives one).
 */
type Slot = [name: string, value: string | undefined];
/** Where the caller's unknown headers go. */
const EXTRA = '\0extra';

/** Headers the protocol owns: a caller's value would break the handshake or the framing. */
const OWNED = new Set([
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
]);

const FORBIDDEN_VALUE = /[\r\n\0]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function defaultOrigin(url: URL): string {
  return `${url.protocol === 'wss:' ? 'https:' : 'http:'}//${url.host}`;
}

/**
 * The last two labels, or three under a two-letter country code's short second level (co.uk, com.au); an IP
 * is its own site.
 */
function approximateSite(host: string): string {
  if (/^[\d.]+$/.test(host) || host.includes(':')) return host;
  const labels = host.split('.');
  const n =
    labels.length >= 3 && labels[labels.length - 1].length === 2 && labels[labels.length - 2].length <= 3
      ? 3
      : 2;
  return labels.slice(-n).join('.');
}

/**
 * Sec-Fetch-Site as Firefox computes it for the request's origin against the target's. same-site
 * is approximated without the public suffix list (see approximateSite); a caller who knows better
 * sets Sec-Fetch-Site.
 */
function fetchSite(origin: string, url: URL): string {
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return 'cross-site';
  }
  const target = new URL(defaultOrigin(url));
  if (o.origin === target.origin) return 'same-origin';
  if (o.protocol === target.protocol && approximateSite(o.hostname) === approximateSite(target.hostname))
    return 'same-site';
  return 'cross-site';
}

/** Firefox sends Sec-Fetch-* only to potentially trustworthy origins: TLS, or the local host. */
function trustworthy(url: URL): boolean {
  return (
    url.protocol === 'wss:' ||
    url.hostname === 'localhost' ||
    url.hostname.endsWith('.localhost') ||
    /^127\./.test(url.hostname) ||
    url.hostname === '[::1]'
  );
}

function chromeSlots(
  url: URL,
  o: HandshakeOptions,
  origin: string,
  protocols: string | undefined,
  safari: boolean,
): Slot[] {
  return [
    ['Host', url.host],
    ['Connection', 'Upgrade'],
    ['Pragma', 'no-cache'],
    ['Cache-Control', 'no-cache'],
    ['User-Agent', o.userAgent],
    ['Upgrade', 'websocket'],
    ['Origin', origin],
    ['Sec-WebSocket-Version', '13'],
    // Unverified for Safari: its usual Accept-Encoding for fetches.
    ['Accept-Encoding', safari ? 'gzip, deflate, br' : 'gzip, deflate, br, zstd'],
    ['Accept-Language', o.acceptLanguage ?? 'en-US,en;q=0.9'],
    ['Cookie', undefined],
    [EXTRA, undefined],
    ['Sec-WebSocket-Key', o.key],
    ['Sec-WebSocket-Extensions', o.perMessageDeflate ? deflateOffer(true) : undefined],
    ['Sec-WebSocket-Protocol', protocols],
  ];
}

function firefoxSlots(url: URL, o: HandshakeOptions, origin: string, protocols: string | undefined): Slot[] {
  const site = fetchSite(origin, url);
  const fetchMetadata: Slot[] = trustworthy(url)
    ? [
        ['Sec-Fetch-Dest', 'empty'],
        ['Sec-Fetch-Mode', 'websocket'],
        ['Sec-Fetch-Site', site],
      ]
    : [];
  // Firefox says a cross-site socket (an `Origin: null` data: page included) has no storage access.
  const storageAccess = trustworthy(url) && site === 'cross-site' ? 'none' : undefined;
  return [
    ['Host', url.host],
    ['User-Agent', o.userAgent],
    ['Accept', '*/*'],
    ['Accept-Language', o.acceptLanguage ?? 'en-US,en;q=0.5'],
    ['Accept-Encoding', 'gzip, deflate, br, zstd'],
    ['Sec-WebSocket-Version', '13'],
    ['Origin', origin],
    ['Sec-WebSocket-Protocol', protocols],
    ['Sec-WebSocket-Extensions', o.perMessageDeflate ? deflateOffer(false) : undefined],
    ['Sec-WebSocket-Key', o.key],
    ['Sec-Fetch-Storage-Access', storageAccess],
    // Where Firefox's own optional headers (DNT, Sec-GPC) appear in captures.
    [EXTRA, undefined],
    ['Connection', 'Upgrade'],
    ['Cookie', undefined],
    ...fetchMetadata,
    ['Pragma', 'no-cache'],
    ['Cache-Control', 'no-cache'],
    ['Upgrade', 'websocket'],
  ];
}

/**
 * The subprotocols offered: `protocols`, or those of a Sec-WebSocket-Protocol among the caller's
 * headers (how cycletls callers set them). verifyHandshake must be given the same list.
 */
export function offeredProtocols(opts: Pick<HandshakeOptions, 'protocols' | 'extra'>): string[] {
  const fromHeaders = opts.extra
    .filter(([n]) => n.toLowerCase() === 'sec-websocket-protocol')
    .flatMap(([, v]) => v.split(','))
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const given = opts.protocols ?? [];
  if (given.length > 0 && fromHeaders.length > 0) {
    throw invalidOption('subprotocols given both as "protocols" and as a Sec-WebSocket-Protocol header');
  }
  const out = given.length > 0 ? given : fromHeaders;
  for (const p of out) {
    if (typeof p !== 'string' || !TOKEN.test(p))
      throw invalidOption(`invalid WebSocket subprotocol ${JSON.stringify(p)}`);
  }
  if (new Set(out).size !== out.length) throw invalidOption('duplicate WebSocket subprotocol');
  return out;
}

/**
 * The upgrade request's headers, Host first (host[:port], the port only when not the scheme's
 * default), in the family's order and spelling. A caller's header of a name on the list (any case)
 * sets that header's value in its place, in the browser's spelling; Cookie goes in the browser's
 * cookie place; other caller headers go together, in the caller's order, where the family's
 * optional headers go (Chrome/Safari: just before Sec-WebSocket-Key; Firefox: just after it).
 * Upgrade, Connection and the Sec-WebSocket-Key/-Version/-Extensions headers belong to the protocol:
 * a caller's value for one of them is an error (perMessageDeflate and protocols set them).
 */
export function handshakeHeaders(
  family: BrowserFamily,
  url: URL,
  opts: HandshakeOptions,
): Array<[string, string]> {
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
    throw invalidOption(`a WebSocket URL must be ws: or wss:, got ${url.protocol}`);
  const protocols = offeredProtocols(opts);
  const protocolValue = protocols.length > 0 ? protocols.join(', ') : undefined;
  const origin = opts.origin ?? defaultOrigin(url);
  const slots =
    family === 'firefox'
      ? firefoxSlots(url, opts, origin, protocolValue)
      : chromeSlots(url, opts, origin, protocolValue, family === 'safari');
  const index = new Map(slots.map(([name], i) => [name.toLowerCase(), i]));
  const extras: Array<[string, string]> = [];
  const given = new Set<string>();
  for (const [name, value] of opts.extra) {
    if (!TOKEN.test(name))
      throw invalidOption(`header name ${JSON.stringify(name)} is not a valid HTTP token`);
    if (FORBIDDEN_VALUE.test(value)) throw invalidOption(`header "${name}" contains CR, LF or NUL`);
    const lower = name.toLowerCase();
    if (OWNED.has(lower)) throw invalidOption(`header "${name}" is set by the WebSocket handshake itself`);
    if (lower === 'sec-websocket-protocol') continue; // taken by offeredProtocols
    const i = index.get(lower);
    if (i === undefined) {
      extras.push([name, value]);
      continue;
    }
    // Repeated names are joined as one line, as a browser sends them.
    const previous = given.has(lower) ? slots[i][1] : undefined;
    slots[i][1] = previous === undefined ? value : `${previous}${lower === 'cookie' ? '; ' : ', '}${value}`;
    given.add(lower);
  }
  const out: Array<[string, string]> = [];
  for (const [name, value] of slots) {
    if (name === EXTRA) out.push(...extras);
    else if (value !== undefined) out.push([name, value]);
  }
  return out;
}

export interface VerifyOptions {
  key: string;
  protocols?: string[];
  perMessageDeflate: boolean;
  /** The family whose request was sent: Firefox's offer has no client_max_window_bits. Default chrome. */
  family?: BrowserFamily;
  /**
   * The answer to an HTTP/2 extended CONNECT (RFC 8441 §5): 200, no Upgrade, Connection or
   * Sec-WebSocket-Accept.
   */
  overHttp2?: boolean;
}

export interface HandshakeResult {
  /** The subprotocol the server chose, '' for none. */
  protocol: string;
  /** The server's Sec-WebSocket-Extensions, '' for none. */
  extensions: string;
  /** The negotiated permessage-deflate parameters, when the server accepted compression. */
  deflate?: NegotiatedDeflate;
}

/**
 * Checks the server's answer to the upgrade (RFC 6455 §4.1, RFC 7692 §7.1) and throws a
 * CycleTLSError ERR_PROTOCOL (stage 'headers') on the first problem. A server that chooses no
 * subprotocol although some were offered is accepted (protocol ''), as RFC 6455 allows; browsers
 * fail that case, which is left to the caller.
 */
export function verifyHandshake(status: number, rawHeaders: string[], opts: VerifyOptions): HandshakeResult {
  if (opts.overHttp2) {
    if (status !== 200) throw handshakeFailure(`expected status 200 to the extended CONNECT, got ${status}`);
  } else if (status !== 101) {
    throw handshakeFailure(`expected status 101 Switching Protocols, got ${status}`);
  }
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const list = headers.get(name);
    if (list) list.push(rawHeaders[i + 1]);
    else headers.set(name, [rawHeaders[i + 1]]);
  }
  if (!opts.overHttp2) verifyUpgradeAnswer(headers, opts.key);
  return negotiated(headers, opts);
}

/** RFC 6455 §4.1's checks of a 101: Upgrade, Connection, Sec-WebSocket-Accept. */
function verifyUpgradeAnswer(headers: Map<string, string[]>, key: string): void {
  const upgrade = headers.get('upgrade');
  if (!upgrade || upgrade.length !== 1 || upgrade[0].trim().toLowerCase() !== 'websocket') {
    throw handshakeFailure(
      `Upgrade must be "websocket", got ${upgrade ? JSON.stringify(upgrade.join(', ')) : 'none'}`,
    );
  }
  const connection = headers.get('connection') ?? [];
  if (!connection.flatMap((v) => v.split(',')).some((t) => t.trim().toLowerCase() === 'upgrade')) {
    throw handshakeFailure(
      'Connection must contain "upgrade", ' +
        `got ${connection.length ? JSON.stringify(connection.join(', ')) : 'none'}`,
    );
  }
  const accept = headers.get('sec-websocket-accept');
  if (!accept) throw handshakeFailure('no Sec-WebSocket-Accept');
  if (accept.length !== 1 || accept[0].trim() !== acceptFor(key)) {
    throw handshakeFailure(`wrong Sec-WebSocket-Accept ${JSON.stringify(accept.join(', '))}`);
  }
}

/** The subprotocol and extensions the server chose, checked against the offer. */
function negotiated(headers: Map<string, string[]>, opts: VerifyOptions): HandshakeResult {
  let protocol = '';
  const chosen = headers.get('sec-websocket-protocol');
  if (chosen) {
    const offered = opts.protocols ?? [];
    if (chosen.length !== 1) throw handshakeFailure('more than one Sec-WebSocket-Protocol');
    protocol = chosen[0].trim();
    if (!offered.includes(protocol)) {
      throw handshakeFailure(
        offered.length === 0
          ? `the server chose subprotocol ${JSON.stringify(protocol)}, but none was offered`
          : `the server chose subprotocol ${JSON.stringify(protocol)}, which was not offered`,
      );
    }
  }
  const extensions = (headers.get('sec-websocket-extensions') ?? []).join(', ');
  let deflate: NegotiatedDeflate | undefined;
  if (extensions.trim() !== '') {
    if (!opts.perMessageDeflate)
      throw handshakeFailure(
        `the server accepted extensions that were not offered: ${JSON.stringify(extensions)}`,
      );
    deflate = parseDeflateResponse(extensions, (opts.family ?? 'chrome') !== 'firefox');
  }
  const out: HandshakeResult = { protocol, extensions };
  if (deflate) out.deflate = deflate;
  return out;
}
