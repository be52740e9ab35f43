'use strict';
// Unit tests of lib/cookies.ts: the per-chain memory jar (tough-cookie's, public-suffix list
// included), the adapter for tough-cookie-shaped jars (promise and callback forms) and the merge
// with explicit cookies.
const { domainMatch, pathMatch } = require('tough-cookie');
const { MemoryCookieJar, jarCookieString, jarStore } = require('../../dist/cookies');
const { withJarCookies } = require('../../dist/headers');

const T0 = Date.UTC(2030, 0, 1);

describe('MemoryCookieJar', () => {
  test('host-only cookies go back to that host only, any port, not to subdomains', () => {
    const jar = new MemoryCookieJar();
    expect(jar.store('a=1; Path=/', 'https://example.test:8443/x', T0)).toBe(true);
    expect(jar.cookieString('https://example.test/y', T0)).toBe('a=1');
    expect(jar.cookieString('https://sub.example.test/y', T0)).toBe('');
    expect(jar.cookieString('https://other.test/y', T0)).toBe('');
  });

  test('Domain cookies go to the domain and its subdomains; a foreign or dotless Domain is refused', () => {
    const jar = new MemoryCookieJar();
    expect(jar.store('d=1; Domain=.example.test', 'https://www.example.test/', T0)).toBe(true);
    expect(jar.cookieString('https://example.test/', T0)).toBe('d=1');
    expect(jar.cookieString('https://a.b.example.test/', T0)).toBe('d=1');
    expect(jar.store('x=1; Domain=other.test', 'https://www.example.test/', T0)).toBe(false);
    expect(jar.store('y=1; Domain=test', 'https://www.example.test/', T0)).toBe(false);
    expect(jar.store('l=1; Domain=localhost', 'http://localhost/', T0)).toBe(true);
    expect(jar.cookieString('http://localhost/', T0)).toBe('l=1');
    expect(jar.cookieString('https://notexample.test/', T0)).toBe('');
  });

  test('a Domain that is a public suffix is refused; one below it is a domain cookie', () => {
    const jar = new MemoryCookieJar();
    expect(jar.store('psl=1; Domain=co.uk', 'https://www.example.co.uk/', T0)).toBe(false);
    expect(jar.store('psl=1; Domain=.co.uk', 'https://www.example.co.uk/', T0)).toBe(false);
    expect(jar.store('com=1; Domain=com', 'https://www.example.com/', T0)).toBe(false);
    expect(jar.store('io=1; Domain=github.io', 'https://user.github.io/', T0)).toBe(false);
    expect(jar.store('ok=1; Domain=example.co.uk', 'https://www.example.co.uk/', T0)).toBe(true);
    expect(jar.store('host=1', 'https://www.example.co.uk/', T0)).toBe(true);
    expect(jar.cookieString('https://shop.example.co.uk/', T0)).toBe('ok=1');
    expect(jar.cookieString('https://www.example.co.uk/', T0)).toBe('ok=1; host=1');
    expect(jar.cookieString('https://other.co.uk/', T0)).toBe('');
    expect(jar.cookieString('https://other.github.io/', T0)).toBe('');
  });

  test('path-match, the default path, longer paths first', () => {
    const jar = new MemoryCookieJar();
    jar.store('root=1; Path=/', 'https://h.test/', T0);
    jar.store('deep=2; Path=/a/b', 'https://h.test/', T0);
    jar.store('dflt=3', 'https://h.test/a/page', T0); // default path /a
    expect(jar.cookieString('https://h.test/a/b/c', T0)).toBe('deep=2; dflt=3; root=1');
    expect(jar.cookieString('https://h.test/a/bc', T0)).toBe('dflt=3; root=1');
    expect(jar.cookieString('https://h.test/', T0)).toBe('root=1');
    expect(pathMatch('/a/b', '/a/')).toBe(true);
    expect(pathMatch('/ab', '/a')).toBe(false);
    expect(domainMatch('1.2.3.4', '2.3.4')).toBe(false);
  });

  test('Secure: only sent over https, and not accepted from http', () => {
    const jar = new MemoryCookieJar();
    jar.store('s=1; Secure; HttpOnly; SameSite=Lax', 'https://h.test/', T0);
    expect(jar.cookieString('https://h.test/', T0)).toBe('s=1');
    expect(jar.cookieString('http://h.test/', T0)).toBe('');
    expect(jar.store('t=1; Secure', 'http://h.test/', T0)).toBe(false);
  });

  test('Max-Age wins over Expires; past expiry deletes; an unreadable date leaves a session cookie', () => {
    const jar = new MemoryCookieJar();
    jar.store('m=1; Max-Age=10; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'https://h.test/', T0);
    expect(jar.cookieString('https://h.test/', T0 + 9000)).toBe('m=1');
    expect(jar.cookieString('https://h.test/', T0 + 11000)).toBe('');
    jar.store('e=1; Expires=Mon, 02-Jan-2040 15:04:05 EST', 'https://h.test/', T0);
    jar.store('i=1; Expires=2040-01-02T15:04:05Z', 'https://h.test/', T0);
    jar.store('bad=1; Expires=not a date', 'https://h.test/', T0); // ignored attribute: a session cookie
    expect(jar.cookieString('https://h.test/', T0)).toBe('e=1; i=1; bad=1');
    jar.store('e=gone; Max-Age=0', 'https://h.test/', T0);
    jar.store('i=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'https://h.test/', T0);
    expect(jar.cookieString('https://h.test/', T0)).toBe('bad=1');
  });

  test('same name, domain and path replaces in place; quoted values go back quoted (as browsers send them); junk is refused', () => {
    const jar = new MemoryCookieJar();
    jar.store('a=1', 'https://h.test/', T0);
    jar.store('b=2', 'https://h.test/', T0);
    jar.store('a="3"', 'https://h.test/', T0);
    expect(jar.cookieString('https://h.test/', T0)).toBe('a="3"; b=2');
    expect(jar.store('novalue', 'https://h.test/', T0)).toBe(false);
    expect(jar.store('=x', 'https://h.test/', T0)).toBe(false);
  });

  test('it is itself a promise-form jar', async () => {
    const jar = new MemoryCookieJar();
    await jar.setCookie('p=1; Path=/', 'https://h.test/');
    expect(await jar.getCookieString('https://h.test/')).toBe('p=1');
  });
});

describe('tough-cookie-shaped jars', () => {
  test('promise form', async () => {
    const seen = [];
    const jar = {
      getCookieString: async (url) => `u=${new URL(url).pathname}`,
      setCookie: async (c, url, opts) => {
        seen.push([c, url, opts]);
      },
    };
    expect(await jarCookieString(jar, 'https://h.test/p')).toBe('u=/p');
    await jarStore(jar, 'https://h.test/p', ['a=1', 'b=2']);
    expect(seen).toEqual([
      ['a=1', 'https://h.test/p', { ignoreError: true }],
      ['b=2', 'https://h.test/p', { ignoreError: true }],
    ]);
  });

  test('callback form (no promise returned) is used as a fallback', async () => {
    const store = [];
    const jar = {
      getCookieString(url, cb) {
        if (typeof cb !== 'function') return undefined;
        setImmediate(() => cb(null, store.join('; ')));
      },
      setCookie(c, url, opts, cb) {
        if (typeof cb !== 'function') throw new TypeError('cb required');
        store.push(c);
        setImmediate(() => cb(null));
      },
    };
    await jarStore(jar, 'https://h.test/', ['a=1']);
    expect(await jarCookieString(jar, 'https://h.test/')).toBe('a=1');
  });

  test('a jar that fails never fails the request: no cookies, nothing stored', async () => {
    const jar = {
      getCookieString: () => Promise.reject(new Error('x')),
      setCookie: () => Promise.reject(new Error('invalid cookie')),
    };
    expect(await jarCookieString(jar, 'https://h.test/')).toBe('');
    await expect(jarStore(jar, 'https://h.test/', ['bad'])).resolves.toBeUndefined();
  });
});

describe('withJarCookies', () => {
  test('no Cookie header: one is added at the end', () => {
    expect(withJarCookies([['a', '1']], 'j=1; k=2')).toEqual([
      ['a', '1'],
      ['Cookie', 'j=1; k=2'],
    ]);
  });
  test("explicit cookies win by name, keep their header, name and place; the jar's others follow", () => {
    const h = [
      ['cookie', 'j=mine; x=1'],
      ['b', '2'],
    ];
    expect(withJarCookies(h, 'j=jar; k=2')).toEqual([
      ['cookie', 'j=mine; x=1; k=2'],
      ['b', '2'],
    ]);
    expect(h[0][1]).toBe('j=mine; x=1');
    expect(withJarCookies(h, 'j=jar')).toBe(h);
    expect(withJarCookies(h, '')).toBe(h);
  });
});
