'use strict';
// Cookies across redirect hops against local servers: without a jar (a jar for the chain only, the
// fix of cycletls issue #66) and with a tough-cookie-shaped jar, per request and per client.
const initCycleTLS = require('../..');
const { startServer, uniquePort } = require('../helpers/servers');
const { startSocksServer } = require('../helpers/proxies');

let server;
let plain;
let client;

beforeAll(async () => {
  server = await startServer();
  plain = await startServer({ tls: false });
  client = await initCycleTLS({ port: uniquePort() });
});

afterAll(async () => {
  await client.exit();
  await server.close();
  await plain.close();
});

function cookieHeader(r) {
  const raw = r.data.rawHeaders;
  const out = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === 'cookie') out.push(raw[i + 1]);
  return out.length ? out.join(' | ') : undefined;
}

/** /cookie-redirect URL path: each of `set` as a Set-Cookie, then a redirect to `to`. */
function hop(set, to = '/echo') {
  const q = new URLSearchParams();
  for (const s of set) q.append('set', s);
  q.set('to', to);
  return `/cookie-redirect?${q}`;
}

/**
 * A minimal jar shaped like tough-cookie's CookieJar: promise form, or callback form when the last
 * argument is a function. Keeps name=value per host (attributes ignored), which is all these tests need.
 */
class FakeToughJar {
  constructor({ callbackOnly = false } = {}) {
    this.byHost = new Map();
    this.calls = [];
    this.callbackOnly = callbackOnly;
  }
  _get(url) {
    const m = this.byHost.get(new URL(url).hostname);
    return m ? [...m].map(([n, v]) => `${n}=${v}`).join('; ') : '';
  }
  _set(cookie, url, options) {
    this.calls.push({ cookie, url, options });
    const [pair] = cookie.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      if (options && options.ignoreError) return undefined;
      throw new Error(`bad cookie ${cookie}`);
    }
    const host = new URL(url).hostname;
    if (!this.byHost.has(host)) this.byHost.set(host, new Map());
    this.byHost.get(host).set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    return undefined;
  }
  getCookieString(url, ...rest) {
    const cb = typeof rest[rest.length - 1] === 'function' ? rest.pop() : undefined;
    if (!cb) {
      if (this.callbackOnly) return undefined;
      return Promise.resolve(this._get(url));
    }
    setImmediate(() => cb(null, this._get(url)));
    return undefined;
  }
  setCookie(cookie, url, ...rest) {
    const cb = typeof rest[rest.length - 1] === 'function' ? rest.pop() : undefined;
    const options = rest[0];
    if (!cb) {
      if (this.callbackOnly) throw new TypeError('callback required');
      return new Promise((resolve, reject) => {
        try {
          resolve(this._set(cookie, url, options));
        } catch (e) {
          reject(e);
        }
      });
    }
    let err = null;
    try {
      this._set(cookie, url, options);
    } catch (e) {
      err = e;
    }
    setImmediate(() => cb(err));
    return undefined;
  }
}

describe('without a jar', () => {
  test('a cookie set on hop 1 is sent on hop 2 (cycletls issue #66)', async () => {
    const r = await client.get(server.url(hop(['s1=v1; Path=/; HttpOnly'])));
    expect(r.status).toBe(200);
    expect(r.redirects).toBe(1);
    expect(r.finalUrl).toBe(server.url('/echo'));
    expect(cookieHeader(r)).toBe('s1=v1');
  });

  test('cookies accumulate over a chain of hops; later hops replace or delete them', async () => {
    const third = hop(['b=replaced; Path=/', 'gone=; Max-Age=0; Path=/'], '/echo');
    const second = hop(['b=2; Path=/', 'c=3; Path=/'], third);
    const r = await client.get(server.url(hop(['a=1; Path=/', 'gone=x; Path=/'], second)));
    expect(r.redirects).toBe(3);
    expect(cookieHeader(r)).toBe('a=1; b=replaced; c=3');
  });

  test("the chain's jar ends with the chain: the next request sends nothing", async () => {
    await client.get(server.url(hop(['once=1; Path=/'])));
    const r = await client.get(server.url('/echo'));
    expect(cookieHeader(r)).toBeUndefined();
  });

  test('explicit cookies win by name and keep their header; the jar adds the others', async () => {
    const r = await client.get(server.url(hop(['a=fromServer; Path=/', 'b=2; Path=/'])), {
      cookies: { a: 'mine' },
    });
    expect(cookieHeader(r)).toBe('a=mine; b=2');
  });

  test('Path, Secure and host-only are honoured across hosts and schemes', async () => {
    // https://localhost sets three cookies, then redirects to http://127.0.0.1 (another host) and
    // back to http://localhost (same host, plain http: no Secure cookie).
    const back = `http://localhost:${plain.port}/echo`;
    const via = `http://127.0.0.1:${plain.port}${hop(['ip=1; Path=/'], back)}`;
    const r = await client.get(
      server.url(hop(['host=1; Path=/', 'sec=1; Path=/; Secure', 'other=1; Path=/elsewhere'], via)),
    );
    expect(r.finalUrl).toBe(back);
    expect(r.redirects).toBe(2);
    expect(cookieHeader(r)).toBe('host=1');
    const atIp = await client.get(via, { disableRedirect: true });
    expect(atIp.status).toBe(302);
  });

  test('a streamed response gets its cookies too', async () => {
    const r = await client.get(server.url(hop(['st=1; Path=/'])), { responseType: 'stream' });
    const body = JSON.parse(await r.text());
    const raw = body.rawHeaders;
    expect(raw[raw.findIndex((n, i) => i % 2 === 0 && n === 'Cookie') + 1]).toBe('st=1');
  });
});

describe('with a cookieJar', () => {
  test('per request: hop cookies go into the jar, come back on hop 2 and on later requests', async () => {
    const jar = new FakeToughJar();
    const r = await client.get(server.url(hop(['j1=v1; Path=/'])), { cookieJar: jar });
    expect(cookieHeader(r)).toBe('j1=v1');
    expect(jar.calls).toEqual([
      { cookie: 'j1=v1; Path=/', url: server.url(hop(['j1=v1; Path=/'])), options: { ignoreError: true } },
    ]);
    const again = await client.get(server.url('/echo'), { cookieJar: jar });
    expect(cookieHeader(again)).toBe('j1=v1');
    const without = await client.get(server.url('/echo'));
    expect(cookieHeader(without)).toBeUndefined();
  });

  test("every response's Set-Cookie goes in, also without redirects and with disableRedirect", async () => {
    const jar = new FakeToughJar();
    await client.get(server.url('/set-cookie'), { cookieJar: jar });
    await client.get(server.url(hop(['dr=1'])), { cookieJar: jar, disableRedirect: true });
    expect(jar._get(server.url('/'))).toBe('c1=v1; c2=v2; dr=1');
  });

  test("explicit cookies win by name over the jar's", async () => {
    const jar = new FakeToughJar();
    await jar.setCookie('a=jar', server.url('/'));
    await jar.setCookie('b=jar', server.url('/'));
    const r = await client.get(server.url('/echo'), { cookieJar: jar, headers: { Cookie: 'a=header' } });
    expect(cookieHeader(r)).toBe('a=header; b=jar');
  });

  test('a callback-only jar works', async () => {
    const jar = new FakeToughJar({ callbackOnly: true });
    const r = await client.get(server.url(hop(['cb=1; Path=/'])), { cookieJar: jar });
    expect(cookieHeader(r)).toBe('cb=1');
  });

  test('a bad cookie or a failing jar never fails the request', async () => {
    const broken = {
      getCookieString: () => Promise.reject(new Error('store down')),
      setCookie: () => Promise.reject(new Error('invalid cookie')),
    };
    const r = await client.get(server.url(hop(['bad'])), { cookieJar: broken });
    expect(r.status).toBe(200);
    expect(cookieHeader(r)).toBeUndefined();
  });

  test("the client's jar (init option) is the default; a request's jar replaces it", async () => {
    const shared = new FakeToughJar();
    const c = await initCycleTLS({ port: uniquePort(), cookieJar: shared });
    try {
      await c.get(server.url('/set-cookie'));
      expect(cookieHeader(await c.get(server.url('/echo')))).toBe('c1=v1; c2=v2');
      const own = new FakeToughJar();
      expect(cookieHeader(await c.get(server.url('/echo'), { cookieJar: own }))).toBeUndefined();
    } finally {
      await c.exit();
    }
  });

  test('a cookieJar without the two methods is refused at once', async () => {
    await expect(client.get(server.url('/echo'), { cookieJar: {} })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  });
});

describe("the chain's jar knows public suffixes (tough-cookie)", () => {
  // Real names of the public-suffix list, resolved to 127.0.0.1 by a SOCKS5 proxy only (socks5h: the
  // name goes to the proxy), so a chain can cross www.example.co.uk, shop.example.co.uk, other.co.uk.
  const NAMES = [
    'www.example.co.uk',
    'shop.example.co.uk',
    'other.co.uk',
    'user.github.io',
    'other.github.io',
  ];
  let socks;
  const via = () => ({ proxy: `socks5h://127.0.0.1:${socks.port}`, insecureSkipVerify: true });
  const at = (srv, name, path) => `${srv === server ? 'https' : 'http'}://${name}:${srv.port}${path}`;

  beforeAll(async () => {
    socks = await startSocksServer({ hosts: Object.fromEntries(NAMES.map((n) => [n, '127.0.0.1'])) });
  });
  afterAll(() => socks.close());

  test('Domain=co.uk is refused; Domain=example.co.uk reaches a sibling host; a host-only cookie does not', async () => {
    const to = at(plain, 'shop.example.co.uk', '/echo');
    const r = await client.get(
      at(
        plain,
        'www.example.co.uk',
        hop(
          [
            'psl=1; Domain=co.uk; Path=/',
            'dotted=1; Domain=.co.uk; Path=/',
            'dom=1; Domain=example.co.uk; Path=/',
            'host=1; Path=/',
          ],
          to,
        ),
      ),
      via(),
    );
    expect(r.finalUrl).toBe(to);
    expect(cookieHeader(r)).toBe('dom=1');
  });

  test('a public-suffix cookie never reaches another site under that suffix', async () => {
    for (const [from, to, domain] of [
      ['www.example.co.uk', 'other.co.uk', 'co.uk'],
      ['user.github.io', 'other.github.io', 'github.io'],
    ]) {
      const r = await client.get(
        at(plain, from, hop([`psl=1; Domain=${domain}; Path=/`], at(plain, to, '/echo'))),
        via(),
      );
      expect(r.status).toBe(200);
      expect(cookieHeader(r)).toBeUndefined();
    }
  });

  test('Secure: set over https, not sent over http on the way, sent again over https', async () => {
    const last = at(server, 'shop.example.co.uk', '/echo');
    const middle = at(plain, 'shop.example.co.uk', hop([], last));
    // The http hop's view: no Secure cookie.
    const plainHop = await client.get(
      at(
        server,
        'www.example.co.uk',
        hop(
          ['sec=1; Domain=example.co.uk; Path=/; Secure', 'open=1; Domain=example.co.uk; Path=/'],
          at(plain, 'shop.example.co.uk', '/echo'),
        ),
      ),
      via(),
    );
    expect(cookieHeader(plainHop)).toBe('open=1');
    const r = await client.get(
      at(
        server,
        'www.example.co.uk',
        hop(['sec=1; Domain=example.co.uk; Path=/; Secure', 'open=1; Domain=example.co.uk; Path=/'], middle),
      ),
      via(),
    );
    expect(r.finalUrl).toBe(last);
    expect(r.redirects).toBe(2);
    expect(cookieHeader(r)).toBe('sec=1; open=1');
  });
});
