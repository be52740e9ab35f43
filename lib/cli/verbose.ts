// -v: what went on the wire. The engine reports what the server chose (TLS version, cipher, ALPN) but
// not the bytes it sent, so the first flight is shown by replaying the same request — same profile,
// fingerprint strings, headers, cookies and body, the real host as SNI — to a fingerprint echo server in
// this process (lib/echo.ts, the same parser the fingerprint tests trust), offering it only the protocol
// the real server chose. That gives the JA4, JA3, JA4_r, the Akamai HTTP/2 string, the ALPN offered and
// the request headers in wire order, exactly as this request's spec produces them. Plain http:// has no
// first flight: a local HTTP server records the request head instead.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { startEchoServer } from '../echo';
import type { EchoResponse } from '../echo';

export interface WireView {
  ja4?: string;
  ja4r?: string;
  ja3?: string;
  ja3n?: string;
  akamai?: string;
  alpnOffered?: string[];
  versionsOffered?: string[];
  sni?: string | null;
  /** The request line or HTTP/2 pseudo-headers, then the headers, as [name, value] in wire order. */
  headers: Array<[string, string]>;
  /** The request line (HTTP/1.x) as it was sent. */
  requestLine?: string;
}

/** What the probe needs: the request function of our client and the request as the CLI sends it. */
export interface ProbeRequest {
  url: URL;
  method: string;
  options: Record<string, unknown>;
  /** The Cookie the first hop sends from the jar (read before the request ran). */
  jarCookies: string;
  /** The ALPN the real server chose ('h2', 'http/1.1'), undefined when the request failed before. */
  protocol?: string;
}

type RequestFn = (
  url: string,
  options: Record<string, unknown>,
  method: string,
) => Promise<{ data: unknown }>;

function isIpLiteral(host: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(':');
}

/** The real host[:port] in place of the probe's (Host on HTTP/1.1, :authority on HTTP/2). */
function withRealAuthority(headers: Array<[string, string]>, url: URL): Array<[string, string]> {
  return headers.map(([n, v]) => {
    const lower = n.toLowerCase();
    return lower === 'host' || lower === ':authority' ? [n, url.host] : [n, v];
  });
}

function probeOptions(req: ProbeRequest): Record<string, unknown> {
  const host = req.url.hostname.replace(/^\[|\]$/g, '');
  const options: Record<string, unknown> = {
    ...req.options,
    proxy: undefined,
    disableRedirect: true,
    insecureSkipVerify: true,
    responseType: 'json',
    rejectOnError: true,
    timeout: 10,
    // The cookies the real first hop sent, and nothing stored from the probe.
    cookieJar: { getCookieString: () => req.jarCookies, setCookie: () => undefined },
  };
  if (req.url.protocol === 'https:' && !isIpLiteral(host)) options.serverName = host;
  return options;
}

async function probeTls(request: RequestFn, req: ProbeRequest): Promise<WireView> {
  const alpn = req.protocol === 'h2' || req.protocol === 'http/1.1' ? [req.protocol] : undefined;
  const echo = await startEchoServer({ port: 0, alpn });
  try {
    const path = `${req.url.pathname}${req.url.search}`;
    const res = await request(echo.url(path), probeOptions(req), req.method);
    const d = res.data as EchoResponse;
    const headers = withRealAuthority(d.headers, req.url);
    return {
      ja4: d.tls.ja4,
      ja4r: d.tls.ja4_r,
      ja3: d.tls.ja3,
      ja3n: d.tls.ja3n,
      akamai: d.http2?.akamai_fingerprint,
      alpnOffered: d.tls.alpn,
      versionsOffered: d.tls.supported_versions,
      sni: d.tls.sni,
      headers,
      requestLine: d.http2 ? undefined : `${d.method} ${path} HTTP/1.1`,
    };
  } finally {
    await echo.close();
  }
}

async function probePlain(request: RequestFn, req: ProbeRequest): Promise<WireView> {
  let seen: { line: string; raw: string[] } | undefined;
  const server = http.createServer((inbound, res) => {
    seen = { line: `${inbound.method} ${inbound.url} HTTP/${inbound.httpVersion}`, raw: inbound.rawHeaders };
    inbound.resume();
    inbound.on('end', () => res.end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const path = `${req.url.pathname}${req.url.search}`;
    await request(`http://127.0.0.1:${port}${path}`, probeOptions(req), req.method);
    const headers: Array<[string, string]> = [];
    for (let i = 0; seen && i + 1 < seen.raw.length; i += 2) headers.push([seen.raw[i], seen.raw[i + 1]]);
    return { headers: withRealAuthority(headers, req.url), requestLine: seen?.line };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** What this request puts on the wire; undefined when even the local replay fails (said on stderr). */
export async function probeWire(request: RequestFn, req: ProbeRequest): Promise<WireView> {
  return req.url.protocol === 'https:' ? probeTls(request, req) : probePlain(request, req);
}

/** curl's -v lines about the first flight: ALPN and TLS versions offered, SNI, the fingerprints. */
export function offerLines(view: WireView): string[] {
  const out: string[] = [];
  if (view.ja4) out.push('* First flight (this request replayed to a local echo server, same options):');
  if (view.alpnOffered) out.push(`* ALPN: offers ${view.alpnOffered.join(',')}`);
  if (view.versionsOffered) out.push(`* TLS versions offered: ${view.versionsOffered.join(', ')}`);
  if (view.sni !== undefined) out.push(`* SNI: ${view.sni ?? '(none: IP address)'}`);
  if (view.ja4) out.push(`* JA4: ${view.ja4}`);
  if (view.ja4r) out.push(`* JA4_r: ${view.ja4r}`);
  if (view.ja3) out.push(`* JA3: ${view.ja3}`);
  if (view.ja3n) out.push(`* JA3N: ${view.ja3n}`);
  if (view.akamai) out.push(`* Akamai HTTP/2: ${view.akamai}`);
  return out;
}

/** curl's -v lines of the request head: '>' lines (HTTP/2 pseudo-headers as '* [HTTP/2] [1] [...]'). */
export function requestHeadLines(view: WireView, url: URL, method: string): string[] {
  const out: string[] = [];
  const pseudo = view.headers.filter(([n]) => n.startsWith(':'));
  const regular = view.headers.filter(([n]) => !n.startsWith(':'));
  if (pseudo.length > 0) {
    for (const [n, v] of pseudo) out.push(`* [HTTP/2] [1] [${n}: ${v}]`);
    out.push(`> ${method} ${url.pathname}${url.search} HTTP/2`);
  } else if (view.requestLine) {
    out.push(`> ${view.requestLine}`);
  }
  for (const [n, v] of regular) out.push(`> ${n}: ${v}`);
  out.push('>');
  return out;
}
