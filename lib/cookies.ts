// Cookie jars: the caller's (anything shaped like tough-cookie's CookieJar) and, when there is none,
// tough-cookie's own CookieJar for one redirect chain, so a cookie set on one hop is sent on the next
// ones (cycletls lost them: its issue #66). tough-cookie brings RFC 6265 with the public-suffix list:
// a `Domain=co.uk` (or any other public suffix) is refused, as browsers refuse it.
import { CookieJar } from 'tough-cookie';

/**
 * tough-cookie's CookieJar, or anything with the same two methods. Each may return a promise or a
 * value, or (called with a callback as last argument) report through the callback.
 */
export interface CookieJarLike {
  getCookieString(url: string, ...rest: unknown[]): unknown;
  setCookie(cookie: string, url: string, ...rest: unknown[]): unknown;
}

export function isCookieJarLike(v: unknown): v is CookieJarLike {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { getCookieString?: unknown }).getCookieString === 'function' &&
    typeof (v as { setCookie?: unknown }).setCookie === 'function'
  );
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

/**
 * Calls a jar method in its promise form; when that neither returns a promise nor a value (or throws
 * synchronously), calls it again in its callback form (tough-cookie 2.x style).
 */
function callJar(
  jar: CookieJarLike,
  method: 'getCookieString' | 'setCookie',
  args: unknown[],
): Promise<unknown> {
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
export async function jarStore(
  jar: CookieJarLike,
  url: string,
  setCookies: readonly string[],
): Promise<void> {
  for (const c of setCookies) {
    try {
      await callJar(jar, 'setCookie', [c, url, { ignoreError: true }]);
    } catch {
      // ignoreError: a bad cookie never fails the request
    }
  }
}

/**
 * The jar of one redirect chain: tough-cookie's CookieJar in memory, public suffixes refused, and
 * Secure cookies neither set from nor sent to plain http (localhost included: a local http server
 * is not a secure origin here). Expiry is decided here, against a clock the caller may give (tests):
 * Max-Age counts from the cookie's creation (tough-cookie would count from its last use).
 */
export class MemoryCookieJar implements CookieJarLike {
  private readonly jar = new CookieJar(undefined, { allowSecureOnLocal: false });

  /** Parses and stores one Set-Cookie value as received from `url`; false when it is refused. */
  store(setCookie: string, url: string | URL, now = Date.now()): boolean {
    try {
      return this.jar.setCookieSync(setCookie, String(url), { now: new Date(now) }) !== undefined;
    } catch {
      return false;
    }
  }

  /** The Cookie header for `url`: longer paths first, then older cookies first. */
  cookieString(url: string | URL, now = Date.now()): string {
    return this.jar
      .getCookiesSync(String(url), { expire: false, sort: true })
      .filter((c) => {
        const expiry = c.expiryTime(c.creation instanceof Date ? c.creation : undefined);
        if (expiry === undefined || expiry > now) return true;
        this.jar.store.removeCookie(c.domain, c.path, c.key, () => {}); // the memory store is synchronous
        return false;
      })
      .map((c) => c.cookieString())
      .join('; ');
  }

  getCookieString(url: string): Promise<string> {
    return Promise.resolve(this.cookieString(url));
  }

  setCookie(cookie: string, url: string): Promise<boolean> {
    return Promise.resolve(this.store(cookie, url));
  }
}
