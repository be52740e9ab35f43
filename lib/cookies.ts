// Cookie jars: the caller's (anything shaped like tough-cookie's CookieJar) and, when there is none,
// a small in-memory jar that lives for one redirect chain, so a cookie set on one hop is sent on the
// next ones (cycletls lost them: its issue #66). The memory jar is a subset of RFC 6265: host-only
// and Domain cookies with domain-match, Path with path-match, Secure only over https (and only set
// from https), Max-Age before Expires, any date format Date.parse reads. No public-suffix list.

/**
 * tough-cookie's CookieJar, or anything with the same two methods. Each may return a promise or a
 * value, or (called with a callback as last argument) report through the callback.
 */
export interface CookieJarLike {
  getCookieString(url: string, ...rest: unknown[]): unknown;
  setCookie(cookie: string, url: string, ...rest: unknown[]): unknown;
}

export function isCookieJarLike(v: unknown): v is CookieJarLike {
  return typeof v === 'object' && v !== null &&
    typeof (v as { getCookieString?: unknown }).getCookieString === 'function' &&
    typeof (v as { setCookie?: unknown }).setCookie === 'function';
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Calls a jar method in its promise form; when that neither returns a promise nor a value (or throws
 * synchronously), calls it again in its callback form (tough-cookie 2.x style).
 */
function callJar(jar: CookieJarLike, method: 'getCookieString' | 'setCookie', args: unknown[]): Promise<unknown> {
  const fn = jar[method] as (...a: unknown[]) => unknown;
  let first: unknown;
  try {
    first = fn.apply(jar, args);
  } catch {
    first = undefined;
  }
  if (isThenable(first)) return Promise.resolve(first);
  if (first !== undefined) return Promise.resolve(first);
  return new Promise((resolve, reject) => {
    try {
      fn.apply(jar, [...args, (err: unknown, value: unknown) => (err ? reject(err) : resolve(value))]);
    } catch (err) {
      reject(err);
    }
  });
}

/** The jar's Cookie header for `url` ('' when none). A failing jar gives ''. */
export async function jarCookieString(jar: CookieJarLike, url: string): Promise<string> {
  try {
    const v = await callJar(jar, 'getCookieString', [url]);
    return typeof v === 'string' ? v : '';
  } catch {
    return '';
  }
}

/** Stores every Set-Cookie value; a cookie the jar refuses is skipped (never fails the request). */
export async function jarStore(jar: CookieJarLike, url: string, setCookies: readonly string[]): Promise<void> {
  for (const c of setCookies) {
    try {
      await callJar(jar, 'setCookie', [c, url, { ignoreError: true }]);
    } catch {
      // ignoreError: a bad cookie never fails the request
    }
  }
}

interface StoredCookie {
  name: string;
  value: string;
  domain: string;
  hostOnly: boolean;
  path: string;
  secure: boolean;
  /** Epoch ms; Infinity for a session cookie. */
  expires: number;
  created: number;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function canonicalHost(url: URL): string {
  const h = url.hostname.toLowerCase();
  return h.startsWith('[') ? h.slice(1, -1) : h;
}

export function domainMatch(host: string, domain: string): boolean {
  if (host === domain) return true;
  return host.endsWith(`.${domain}`) && !IPV4.test(host) && !host.includes(':');
}

export function pathMatch(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function defaultPath(url: URL): string {
  const p = url.pathname;
  if (!p.startsWith('/')) return '/';
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** An RFC 6265 subset in memory; also usable as a `cookieJar` (it has the two methods). */
export class MemoryCookieJar implements CookieJarLike {
  private cookies: StoredCookie[] = [];
  private seq = 0;

  /** Parses and stores one Set-Cookie value as received from `url`; false when it is refused. */
  store(setCookie: string, url: string | URL, now = Date.now()): boolean {
    const u = typeof url === 'string' ? new URL(url) : url;
    const parts = setCookie.split(';');
    const pair = parts[0];
    const eq = pair.indexOf('=');
    if (eq < 0) return false;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (name === '' || /[\s\x00-\x1f\x7f]/.test(name)) return false;
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (/[;\x00-\x08\x0a-\x1f\x7f]/.test(value)) return false;
    const host = canonicalHost(u);
    let domain: string | undefined;
    let path: string | undefined;
    let secure = false;
    let maxAge: number | undefined;
    let expires: number | undefined;
    for (const attr of parts.slice(1)) {
      const i = attr.indexOf('=');
      const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
      const val = i < 0 ? '' : attr.slice(i + 1).trim();
      if (key === 'domain') {
        const d = val.replace(/^\./, '').toLowerCase();
        if (d !== '') domain = d;
      } else if (key === 'path') {
        path = val.startsWith('/') ? val : undefined;
      } else if (key === 'secure') {
        secure = true;
      } else if (key === 'max-age') {
        if (/^-?\d+$/.test(val)) maxAge = Number(val);
      } else if (key === 'expires') {
        let t = Date.parse(val);
        if (Number.isNaN(t)) t = Date.parse(val.replace(/-/g, ' ')); // Wdy, DD-Mon-YYYY ...
        if (!Number.isNaN(t)) expires = t;
      }
    }
    let hostOnly = true;
    if (domain !== undefined) {
      if (!domainMatch(host, domain)) return false;
      // Without a public-suffix list: a dotless Domain only for that very host (e.g. localhost).
      if (!domain.includes('.') && domain !== host) return false;
      hostOnly = false;
    } else {
      domain = host;
    }
    if (secure && u.protocol !== 'https:') return false;
    let expiry = Infinity;
    if (maxAge !== undefined) expiry = maxAge <= 0 ? -Infinity : now + maxAge * 1000;
    else if (expires !== undefined) expiry = expires;
    const cookiePath = path ?? defaultPath(u);
    const i = this.cookies.findIndex((c) => c.name === name && c.domain === domain && c.path === cookiePath);
    const created = i >= 0 ? this.cookies[i].created : this.seq++;
    if (i >= 0) this.cookies.splice(i, 1);
    if (expiry <= now) return true; // an expiry in the past deletes
    this.cookies.push({ name, value, domain, hostOnly, path: cookiePath, secure, expires: expiry, created });
    return true;
  }

  /** The Cookie header for `url`: longer paths first, then older cookies first. */
  cookieString(url: string | URL, now = Date.now()): string {
    const u = typeof url === 'string' ? new URL(url) : url;
    const host = canonicalHost(u);
    const path = u.pathname || '/';
    this.cookies = this.cookies.filter((c) => c.expires > now);
    return this.cookies
      .filter((c) => (c.hostOnly ? host === c.domain : domainMatch(host, c.domain)) && pathMatch(path, c.path) &&
        (!c.secure || u.protocol === 'https:'))
      .sort((a, b) => b.path.length - a.path.length || a.created - b.created)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  getCookieString(url: string): Promise<string> {
    return Promise.resolve(this.cookieString(url));
  }

  setCookie(cookie: string, url: string): Promise<boolean> {
    return Promise.resolve(this.store(cookie, url));
  }
}

/** The names in a Cookie header value. */
function cookieNames(header: string): Set<string> {
  const names = new Set<string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (name !== '') names.add(name);
  }
  return names;
}

/**
 * The headers of one hop with the jar's cookies added: the explicit Cookie header (from `cookies`
 * or `headers`) keeps its place and wins by name; the jar's other cookies follow it.
 */
export function withJarCookies(headers: Array<[string, string]>, jarCookies: string): Array<[string, string]> {
  if (jarCookies === '') return headers;
  const i = headers.findIndex(([n]) => n.toLowerCase() === 'cookie');
  if (i < 0) return [...headers, ['Cookie', jarCookies]];
  const explicit = cookieNames(headers[i][1]);
  const extra = jarCookies.split(';').map((p) => p.trim()).filter((p) => {
    if (p === '') return false;
    const eq = p.indexOf('=');
    return !explicit.has((eq < 0 ? p : p.slice(0, eq)).trim());
  });
  if (extra.length === 0) return headers;
  const out = headers.slice();
  out[i] = [headers[i][0], headers[i][1] === '' ? extra.join('; ') : `${headers[i][1]}; ${extra.join('; ')}`];
  return out;
}
