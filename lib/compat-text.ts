// The text cycletls 2.0.5 puts in `data` when a request fails, rebuilt from our error's facts.
//
// cycletls hands Go's error to the caller as "<summary>-> \n<Go error>": the Go error is
// net/http's `<Method> "<url>": <cause>`, the summary is "Request returned a Syscall Error: …"
// (connection, DNS, certificate, handshake and proxy failures), "Request timeout: deadline
// exceeded" (timeouts) or empty (the server closed the connection). A failure after the response
// head (a stalled or truncated body) is the summary alone. Callers match on these texts, so they
// are reproduced exactly wherever we know the facts Go prints; where Go prints something the
// engine cannot know (the DNS server that answered, the local port of a connection), the closest
// true text stands in and the comment says so. Each shape
// below was observed with cycletls 2.0.5 against local servers.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

import { compatStatus } from './errors';
import type { CycleTLSError } from './errors';

/** What the text is made of besides the error itself: the failing hop's request. */
export interface FailedRequest {
  method: string;
  /** The URL of the hop that failed (after redirects). */
  url: string;
  /** The proxy URL as normalized (scheme://[user:password@]host[:port]), if any. */
  proxy?: string;
}

const SYSCALL = 'Request returned a Syscall Error: ';
const TIMEOUT = 'Request timeout: deadline exceeded';
const CLIENT_TIMEOUT = '(Client.Timeout exceeded while awaiting headers)';

/** Go's url.Error names the method with only its first letter in upper case ("Get", "Post"). */
function goMethod(method: string): string {
  return method.charAt(0).toUpperCase() + method.slice(1).toLowerCase();
}

/** Go's %q of an ASCII string (a serialized URL is ASCII): JSON's quoting agrees with it there. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** host:port as Go's dialer prints it: IPv6 in brackets, the scheme's default port filled in. */
function hostPort(url: URL, defaultPort: number): string {
  return `${url.hostname}:${url.port || defaultPort}`;
}

function schemePort(scheme: string): number {
  switch (scheme) {
    case 'https:':
      return 443;
    case 'http:':
      return 80;
    default:
      return 1080; // socks4, socks4a, socks5, socks5h
  }
}

let resolverAddress: string | undefined;

/**
 * The DNS server Go names in "lookup <host> on <server>: no such host": the first nameserver of
 * /etc/resolv.conf (Go's resolver asks it first; Go falls back to 127.0.0.1:53 without one). The
 * engine resolves through the system (getaddrinfo) and does not learn which server answered: this
 * is the best equivalent, not a fact.
 */
function dnsServer(): string {
  if (resolverAddress !== undefined) return resolverAddress;
  let server = '127.0.0.1:53';
  try {
    const conf = readFileSync('/etc/resolv.conf', 'latin1');
    const ip = /^\s*nameserver\s+(\S+)/m.exec(conf)?.[1];
    if (ip) server = ip.includes(':') ? `[${ip.replace(/%.*$/, '')}]:53` : `${ip}:53`;
  } catch {
    // No resolv.conf: Go's default stands.
  }
  resolverAddress = server;
  return server;
}

/** strerror's text as Go's syscall errors print it ("Connection refused" → "connection refused"). */
function syscallText(reason: string): string {
  return reason.charAt(0).toLowerCase() + reason.slice(1);
}

/** What follows "failed: " in the engine's "connect to … failed: <reason>" messages. */
function connectReason(message: string): string {
  const m = /failed: (.*?)(?: \(proxy [^)]*\))?$/.exec(message);
  return syscallText(m?.[1] ?? 'connection failed');
}

/** The address the engine tried first, when its message names one after the host name. */
function dialedAddress(message: string): string | undefined {
  return /^connect to (?:the proxy )?\S+ \((\S+)\) failed: /.exec(message)?.[1];
}

/** Go's names of TLS alerts ("remote error: tls: handshake failure"), by BoringSSL's reason name. */
const ALERTS: Record<string, string> = {
  CLOSE_NOTIFY: 'close notify',
  UNEXPECTED_MESSAGE: 'unexpected message',
  BAD_RECORD_MAC: 'bad record MAC',
  DECRYPTION_FAILED: 'decryption failed',
  RECORD_OVERFLOW: 'record overflow',
  DECOMPRESSION_FAILURE: 'decompression failure',
  HANDSHAKE_FAILURE: 'handshake failure',
  BAD_CERTIFICATE: 'bad certificate',
  UNSUPPORTED_CERTIFICATE: 'unsupported certificate',
  CERTIFICATE_REVOKED: 'revoked certificate',
  CERTIFICATE_EXPIRED: 'expired certificate',
  CERTIFICATE_UNKNOWN: 'unknown certificate',
  ILLEGAL_PARAMETER: 'illegal parameter',
  UNKNOWN_CA: 'unknown certificate authority',
  ACCESS_DENIED: 'access denied',
  DECODE_ERROR: 'error decoding message',
  DECRYPT_ERROR: 'error decrypting message',
  EXPORT_RESTRICTION: 'export restriction',
  PROTOCOL_VERSION: 'protocol version not supported',
  INSUFFICIENT_SECURITY: 'insufficient security level',
  INTERNAL_ERROR: 'internal error',
  INAPPROPRIATE_FALLBACK: 'inappropriate fallback',
  USER_CANCELLED: 'user canceled',
  NO_RENEGOTIATION: 'no renegotiation',
  MISSING_EXTENSION: 'missing extension',
  UNSUPPORTED_EXTENSION: 'unsupported extension',
  CERTIFICATE_UNOBTAINABLE: 'certificate unobtainable',
  UNRECOGNIZED_NAME: 'unrecognized name',
  BAD_CERTIFICATE_STATUS_RESPONSE: 'bad certificate status response',
  BAD_CERTIFICATE_HASH_VALUE: 'bad certificate hash value',
  UNKNOWN_PSK_IDENTITY: 'unknown PSK identity',
  CERTIFICATE_REQUIRED: 'certificate required',
  NO_APPLICATION_PROTOCOL: 'no application protocol',
  ECH_REQUIRED: 'encrypted client hello required',
};

/**
 * Go's text for a failed handshake, from the engine's "TLS handshake failed: <BoringSSL error>":
 * an alert from the server is "remote error: tls: <alert>", a peer that does not speak TLS is
 * "tls: first record does not look like a TLS handshake", a peer that hangs up is "EOF". Other
 * local failures have no Go counterpart: BoringSSL's reason, spelled as Go's tls errors are.
 */
function handshakeCause(message: string): string {
  const reason = /:([A-Z0-9_]+)\s*$/.exec(message)?.[1];
  if (reason === undefined) {
    return /end of file|stream truncated|closed|reset/i.test(message)
      ? 'EOF'
      : `tls: ${message.replace(/^TLS handshake failed: /, '')}`;
  }
  const alert = /^(?:SSLV3|TLSV1|TLSV1_3)_ALERT_(.+)$/.exec(reason)?.[1];
  if (alert !== undefined)
    return `remote error: tls: ${ALERTS[alert] ?? alert.toLowerCase().replace(/_/g, ' ')}`;
  if (reason === 'WRONG_VERSION_NUMBER' || reason === 'HTTP_REQUEST' || reason === 'HTTPS_PROXY_REQUEST') {
    return 'tls: first record does not look like a TLS handshake';
  }
  return `tls: ${reason.toLowerCase().replace(/_/g, ' ')}`;
}

/** Go's RFC 3339 in UTC, to the second (time.Time's String in x509's validity errors). */
function goTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Go's x509 text for a certificate that did not verify, from the engine's "certificate
 * verification failed: <reason>[ (facts)]". Go checks the validity period, then the name, then
 * the chain; BoringSSL reports one reason, so a certificate wrong on two counts may be described
 * by another of them than Go would pick.
 */
function certificateCause(message: string, url: URL): string {
  const reason = message.replace(/^certificate verification failed: /, '');
  const facts = /\(([^()]*)\)\s*$/.exec(reason)?.[1] ?? '';
  if (/expired|not yet valid/i.test(reason)) {
    // Go: "current time <now> is after <notAfter>" (or "is before <notBefore>"). The bound is
    // printed when the engine names it ("not after <time>"); otherwise only the current time.
    const bound = /^not (?:after|before) (\S+)$/.exec(facts)?.[1];
    const side = /not yet valid/i.test(reason) ? 'before' : 'after';
    const when = `current time ${goTime(new Date())}${bound ? ` is ${side} ${bound}` : ''}`;
    return `x509: certificate has expired or is not yet valid: ${when}`;
  }
  if (/self[- ]signed|issuer|unable to verify|untrusted/i.test(reason))
    return 'x509: certificate signed by unknown authority';
  if (/mismatch/i.test(reason)) {
    // Go: "certificate is valid for <its DNS names (or, for an IP host, its IP addresses)>, not
    // <host>", from the names the engine lists ("certificate names: DNS:a, IP:1.2.3.4").
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const listed = /^certificate names: (.*)$/.exec(facts)?.[1];
    if (listed === undefined) return `x509: certificate is not valid for ${host}`;
    const ipHost = isIP(host) !== 0;
    const names = listed
      .split(', ')
      .filter((n) => n.startsWith(ipHost ? 'IP:' : 'DNS:'))
      .map((n) => n.replace(/^(?:IP|DNS):/, ''));
    if (ipHost && names.length === 0)
      return `x509: cannot validate certificate for ${host} because it doesn't contain any IP SANs`;
    if (names.length === 0)
      return `x509: certificate is not valid for any names, but wanted to match ${host}`;
    return `x509: certificate is valid for ${names.join(', ')}, not ${host}`;
  }
  return `x509: ${reason.replace(/\s*\([^()]*\)\s*$/, '')}`;
}

/** Go's SOCKS client reply texts ("unknown error <reply>"), by SOCKS5 reply code. */
const SOCKS5_REPLIES: Record<number, string> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

/**
 * A proxy failure as Go describes it. Go dials an HTTP proxy itself ("dial tcp <proxy>: …") and
 * reports a refused tunnel as "Proxy responded with non 200 code: <status> StatusCode:<n>"; its
 * SOCKS5 client wraps everything in "socks connect tcp <proxy>-><target>: …".
 * Returns [summary cause, detail cause]; the summary is undefined when it is the detail.
 */
function proxyCause(
  err: CycleTLSError,
  proxyUrl: URL | undefined,
  target: string,
): [string | undefined, string] {
  const message = err.message.replace(/ \(proxy [^)]*\)$/, '');
  const scheme = proxyUrl?.protocol ?? 'http:';
  const proxy = proxyUrl ? hostPort(proxyUrl, schemePort(scheme)) : '';
  const socks5 = scheme.startsWith('socks5');
  const socks = (cause: string): string =>
    socks5 ? `socks connect tcp ${proxy}->${target}: ${cause}` : cause;
  if (err.stage === 'dns') {
    const host = /proxy host (\S+) failed/.exec(message)?.[1] ?? proxyUrl?.hostname ?? '';
    const lookup = `lookup ${host} on ${dnsServer()}: no such host`;
    return [lookup, `dial tcp: ${lookup}`];
  }
  if (err.stage === 'connect')
    return [
      undefined,
      socks(`dial tcp ${dialedAddress(message) ?? proxy}: connect: ${connectReason(message)}`),
    ];
  const status = /refused CONNECT \S+: HTTP\/\d(?:\.\d)? (\d{3})(?: ([^(]*?))?\s*(?:\(|$)/.exec(message);
  if (status) {
    const line = status[2] ? `${status[1]} ${status[2]}` : status[1];
    return [undefined, `Proxy responded with non 200 code: ${line} StatusCode:${status[1]}`];
  }
  if (/rejected the user name and password/.test(message)) {
    const cause = socks('username/password authentication failed');
    return [cause, cause];
  }
  if (/accepts none of the offered authentication methods|requires authentication/.test(message)) {
    const cause = socks('no acceptable authentication methods');
    return [cause, cause];
  }
  const code = /could not connect to \S+: code (\d+)/.exec(message)?.[1];
  if (code !== undefined) {
    const reply = SOCKS5_REPLIES[Number(code)] ?? `unknown code: ${code}`;
    return [undefined, socks(`unknown error ${reply}`)];
  }
  if (/closed the connection/.test(message)) return [undefined, socks('EOF')];
  return [undefined, socks(message)];
}

/**
 * The timeout's Go text, by where the deadline passed. Go names the dial when it was dialing
 * ("dial tcp <addr>: i/o timeout"), the pool wait on plain http ("request canceled while waiting
 * for connection") and otherwise the wait for the head. cycletls 2.0.5 never times out a TLS
 * handshake or a silent HTTP proxy (the request hangs); those get the head-wait text.
 */
function timeoutCause(err: CycleTLSError, url: URL, proxyUrl: URL | undefined, target: string): string {
  const stage = err.stage;
  const dialing = err.code === 'ERR_CONNECT_TIMEOUT' || stage === 'dns' || stage === 'connect';
  if (proxyUrl?.protocol.startsWith('socks5')) {
    const proxy = hostPort(proxyUrl, schemePort(proxyUrl.protocol));
    // Go also prints the local end of the connection ("read tcp <local>-><proxy>"), which we do
    // not know: the proxy's address alone is Go's spelling without a source address.
    if (dialing) return `socks connect tcp ${proxy}->${target}: dial tcp ${proxy}: i/o timeout`;
    if (stage === 'proxy')
      return `socks connect tcp ${proxy}->${target}: read tcp ${proxy}: i/o timeout ${CLIENT_TIMEOUT}`;
  }
  if (dialing) {
    if (!proxyUrl && url.protocol === 'http:')
      return `net/http: request canceled while waiting for connection ${CLIENT_TIMEOUT}`;
    const addr = proxyUrl ? hostPort(proxyUrl, schemePort(proxyUrl.protocol)) : target;
    return `dial tcp ${addr}: i/o timeout ${CLIENT_TIMEOUT}`;
  }
  if (stage === 'queue') return `net/http: request canceled while waiting for connection ${CLIENT_TIMEOUT}`;
  return `net/http: request canceled ${CLIENT_TIMEOUT}`;
}

function parseUrl(s: string | undefined): URL | undefined {
  if (s === undefined) return undefined;
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

/**
 * The status cycletls 2.0.5 resolves a failure with. By code (compatStatus), except for proxies,
 * where Go's parseError reads more from the text: a refused CONNECT carries "StatusCode:<n>" and
 * resolves with the proxy's own status (407, 403, …), and a SOCKS5 proxy refusing the credentials
 * is a dial error (421), not a refused connection.
 */
export function cycletlsStatus(err: CycleTLSError): number {
  if (err.code === 'ERR_PROXY') {
    const refused = /refused CONNECT \S+: HTTP\/\d(?:\.\d)? (\d{3})/.exec(err.message);
    if (refused) return Number(refused[1]);
    if (/rejected the user name and password/.test(err.message)) return 421;
  }
  return compatStatus(err.code);
}

/**
 * `data` of a failed request as cycletls 2.0.5 writes it. Codes cycletls never produces (a queue
 * limit, an abort, a size limit, a vanished host process…) keep our own message.
 */
export function cycletlsErrorText(err: CycleTLSError, req: FailedRequest): string {
  const url = parseUrl(req.url);
  if (!url) return err.message;
  const proxyUrl = parseUrl(req.proxy);
  const target = hostPort(url, schemePort(url.protocol));
  const hop = `${goMethod(req.method)} ${goQuote(url.href)}: `;
  const both = (summary: string, cause: string): string => `${summary}-> \n${hop}${cause}`;
  const syscall = (cause: string): string => both(`${SYSCALL}${hop}${cause}`, cause);
  // After the head, cycletls sends its summary alone: the timeout's, or nothing.
  if (err.stage === 'body' && err.code !== 'ERR_BODY_TOO_LARGE')
    return err.code === 'ERR_TIMEOUT' ? TIMEOUT : '';
  switch (err.code) {
    case 'ERR_TIMEOUT':
    case 'ERR_CONNECT_TIMEOUT':
      return both(TIMEOUT, timeoutCause(err, url, proxyUrl, target));
    case 'ERR_DNS': {
      // Go: "lookup <host> on <DNS server>: no such host" (see dnsServer); a name that resolves
      // to no usable address (SOCKS4 wants IPv4) is Go's "no suitable address found". The engine's
      // resolver says NXDOMAIN or NODATA where Go says "no such host".
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const lookup = /no IPv4 address/.test(err.message)
        ? `lookup ${host}: no suitable address found`
        : /NXDOMAIN|NODATA|not found \(authoritative\)|not known|no such host/i.test(err.message)
          ? `lookup ${host} on ${dnsServer()}: no such host`
          : `lookup ${host} on ${dnsServer()}: server misbehaving`;
      return both(`${SYSCALL}${lookup}`, `dial tcp: ${lookup}`);
    }
    case 'ERR_CONNECT_REFUSED':
    case 'ERR_CONNECT':
      // Go prints the address it dialed: for a host name, the one it resolved to, which the
      // engine's message gives after the name ("connect to localhost:8443 (127.0.0.1:8443) failed").
      return syscall(
        `dial tcp ${dialedAddress(err.message) ?? target}: connect: ${connectReason(err.message)}`,
      );
    case 'ERR_TLS_CERT':
      return syscall(
        'uTlsConn.Handshake() error: tls: failed to verify certificate: ' +
          certificateCause(err.message, url),
      );
    case 'ERR_TLS_HANDSHAKE':
      return syscall(`uTlsConn.Handshake() error: ${handshakeCause(err.message)}`);
    case 'ERR_CONNECTION_CLOSED':
      // Go's "EOF" (summary empty). A reset reads "read: connection reset by peer" in Go; the
      // engine reports both as the server closing the connection, so both read as EOF here.
      return `-> \n${hop}EOF`;
    case 'ERR_PROTOCOL': // Go words each malformed response its own way: ours stands in its place
    case 'ERR_TOO_MANY_REDIRECTS': // ours is Go's: "stopped after 10 redirects"
      return `-> \n${hop}${err.message}`;
    case 'ERR_PROXY': {
      const [summary, cause] = proxyCause(err, proxyUrl, target);
      return both(`${SYSCALL}${summary ?? `${hop}${cause}`}`, cause);
    }
    default:
      return err.message;
  }
}
