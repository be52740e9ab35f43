'use strict';
// cycletls-native/crawlee: Crawlee's HttpCrawler crawling a small local HTTPS site with our client
// (every page, the preset's headers server-side, cookies across pages and redirect hops, a proxy per
// request through the suite's real proxies), and the client's own contract (sendRequest's response
// types, stream back-pressure, redirects, got-style errors). Crawlee's storage lives in a temp dir;
// nothing leaves 127.0.0.1.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { once } = require('node:events');
const { spawn } = require('node:child_process');
const { startServer } = require('../helpers/servers');
const { startHttpProxy, startSocksServer } = require('../helpers/proxies');

const storageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-crawlee-'));

const root = path.resolve(__dirname, '..', '..');
const { CycleTLSHttpClient, TimeoutError, HTTPError, MaxRedirectsError, ParseError } = require(
  path.join(root, 'dist', 'crawlee.js'),
);
const CRAWL = path.join(__dirname, '..', 'fixtures', 'crawlee', 'crawl.js');

const PAGES = ['/', '/page/1', '/page/2', '/page/3', '/page/4', '/go'];

/** The site: / sets a cookie and links to four pages and /go (a 302 that sets another cookie). */
function siteHandler(seen) {
  return (req, res) => {
    const url = new URL(req.url, 'https://localhost');
    seen.push({ path: url.pathname, headers: req.headers, rawHeaders: req.rawHeaders });
    const page = (links) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(`<html><body>${links.map((l) => `<a href="${l}">${l}</a>`).join(' ')}</body></html>`);
    };
    if (url.pathname === '/') {
      res.setHeader('set-cookie', 'sid=abc; Path=/');
      return page(['/page/1', '/page/2', '/go']);
    }
    if (url.pathname === '/go') {
      res.statusCode = 302;
      res.setHeader('location', '/page/4');
      res.setHeader('set-cookie', 'hop=1; Path=/');
      return res.end();
    }
    const m = /^\/page\/(\d)$/.exec(url.pathname);
    if (m) return page([`/page/${(Number(m[1]) % 4) + 1}`, '/']);
    if (url.pathname === '/json') {
      res.setHeader('content-type', 'application/json');
      return res.end(req.headers['x-bad'] ? '{nope' : JSON.stringify({ ok: true, method: req.method }));
    }
    if (url.pathname === '/latin1') return res.end(Buffer.from('caf\xe9', 'latin1'));
    if (url.pathname === '/missing') {
      res.statusCode = 404;
      return res.end('no');
    }
    if (url.pathname === '/loop') {
      res.statusCode = 302;
      res.setHeader('location', '/loop');
      return res.end();
    }
    if (url.pathname === '/ftp') {
      res.statusCode = 302;
      res.setHeader('location', 'ftp://localhost/file');
      return res.end();
    }
    if (url.pathname === '/post-redirect') {
      res.statusCode = 302;
      res.setHeader('location', '/json');
      return res.end();
    }
    if (url.pathname === '/stall') return; // never answers
    if (url.pathname === '/big') {
      // 64 MiB, written as fast as the client takes it: how far the server got shows the read-ahead.
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let left = 1024;
      res.setHeader('content-length', String(chunk.length * left));
      const pump = () => {
        while (left > 0) {
          left--;
          res.bytesSent = (res.bytesSent ?? 0) + chunk.length;
          if (!res.write(chunk)) return res.once('drain', pump);
        }
        res.end();
      };
      bigResponses.push(res);
      return pump();
    }
    res.statusCode = 404;
    res.end();
  };
}
const bigResponses = [];

/** Links of an HTML body, resolved against the page. */
function links(body, base) {
  return [...String(body).matchAll(/href="([^"]+)"/g)].map((m) => new URL(m[1], base).href);
}

let site;
let seen;
beforeAll(async () => {
  seen = [];
  site = await startServer({ handler: siteHandler(seen) });
});
afterAll(async () => {
  await site.close();
  fs.rmSync(storageDir, { recursive: true, force: true });
});

/** One crawl of the site from / in a child process (test/fixtures/crawlee/crawl.js). */
async function crawl(options) {
  const child = spawn(process.execPath, [CRAWL, JSON.stringify({ start: site.url('/'), ...options })], {
    env: {
      ...process.env,
      CRAWLEE_LOG_LEVEL: 'OFF',
      CRAWLEE_STORAGE_DIR: fs.mkdtempSync(path.join(storageDir, 'run-')),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const [code] = await once(child, 'close');
  expect(err).toBe('');
  expect(code).toBe(0);
  const result = JSON.parse(out);
  expect(result.failures).toEqual([]);
  return result;
}

describe('HttpCrawler with CycleTLSHttpClient', () => {
  test('crawls every page with the preset headers, keeping cookies across pages and redirect hops', async () => {
    seen.length = 0;
    {
      const { visited, stats } = await crawl({}); // default profile: the newest Chrome preset
      expect(stats.requestsFailed).toBe(0);
      expect(new Set(visited.map((v) => new URL(v.url).pathname))).toEqual(new Set(PAGES));
      expect(visited.find((v) => v.url.endsWith('/go')).loadedUrl).toBe(site.url('/page/4'));
      expect(new Set(seen.map((s) => s.path))).toEqual(new Set(PAGES));
      for (const s of seen) {
        expect(s.headers['user-agent']).toMatch(/Chrome\/\d+/);
        expect(s.headers['sec-ch-ua']).toMatch(/Chromium/);
        expect(s.headers['accept-language']).toBeDefined();
        // Chrome's HTTP/1.1 order: Host, Connection, then the client hints before User-Agent
        const names = s.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
        expect(names.indexOf('sec-ch-ua')).toBeLessThan(names.indexOf('user-agent'));
        if (s.path !== '/') expect(s.headers.cookie).toMatch(/(^|; )sid=abc(;|$)/);
      }
      // the cookie the redirect hop set reached its target, and the session kept it
      const target = seen.find((s) => s.path === '/page/4' && s.headers.cookie?.includes('hop=1'));
      expect(target).toBeDefined();
    }
  });

  test('a profile option changes what the server sees', async () => {
    seen.length = 0;
    {
      const { stats } = await crawl({ profile: 'firefox' });
      expect(stats.requestsFinished).toBe(PAGES.length);
      for (const s of seen) {
        expect(s.headers['user-agent']).toMatch(/Firefox\/\d+/);
        expect(s.headers['sec-ch-ua']).toBeUndefined();
      }
    }
  });

  test("Crawlee's proxy configuration sends each request through the proxy it picked", async () => {
    seen.length = 0;
    const proxies = [await startHttpProxy(), await startHttpProxy()];
    const before = site.stats.connections;
    try {
      const proxyUrls = proxies.map((p) => p.url());
      const { visited, stats } = await crawl({ proxyUrls, useSessionPool: false });
      expect(stats.requestsFailed).toBe(0);
      expect(new Set(visited.map((v) => new URL(v.url).pathname))).toEqual(new Set(PAGES));
      // Crawlee rotates the proxy per request: both were used
      expect(new Set(visited.map((v) => v.proxy))).toEqual(new Set(proxies.map((p) => p.url())));
      // every connection the site accepted came through a proxy's tunnel to it
      const tunnels = proxies.flatMap((p) => p.log);
      for (const t of tunnels) {
        expect(t.method).toBe('CONNECT');
        expect(t.target).toBe(`localhost:${site.port}`);
      }
      expect(tunnels.length).toBeGreaterThanOrEqual(2);
      expect(site.stats.connections - before).toBe(tunnels.length);
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
  });
});

/** A POST of a small body whose answer is read as JSON. */
const postForJson = (p) => ({ url: site.url(p), method: 'POST', body: 'x', responseType: 'json' });

describe('CycleTLSHttpClient (Crawlee BaseHttpClient contract)', () => {
  let client;
  beforeAll(() => {
    client = new CycleTLSHttpClient();
  });
  afterAll(() => client.close());

  test('sendRequest: text by default, json, buffer, encoding; Node-style headers', async () => {
    const text = await client.sendRequest({ url: site.url('/page/1') });
    expect(text.statusCode).toBe(200);
    expect(text.body).toMatch(/<a href="\/page\/2">/);
    expect(text.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(text.url).toBe(site.url('/page/1'));
    expect(text.complete).toBe(true);
    expect(text.redirectUrls).toEqual([]);
    const json = await client.sendRequest(postForJson('/json'));
    expect(json.body).toEqual({ ok: true, method: 'POST' });
    const buf = await client.sendRequest({ url: site.url('/latin1'), responseType: 'buffer' });
    expect(Buffer.isBuffer(buf.body)).toBe(true);
    expect(buf.body).toEqual(Buffer.from('caf\xe9', 'latin1'));
    const latin = await client.sendRequest({ url: site.url('/latin1'), encoding: 'latin1' });
    expect(latin.body).toBe('café');
    const cookie = await client.sendRequest({ url: site.url('/') });
    expect(cookie.headers['set-cookie']).toEqual(['sid=abc; Path=/']);
    await expect(
      client.sendRequest({ url: site.url('/json'), headers: { 'x-bad': '1' }, responseType: 'json' }),
    ).rejects.toBeInstanceOf(ParseError);
  });

  test('redirects: followed with redirectUrls, 302 turns POST into GET, followRedirect and maxRedirects', async () => {
    const r = await client.sendRequest({ url: site.url('/go') });
    expect(r.url).toBe(site.url('/page/4'));
    expect(r.redirectUrls.map(String)).toEqual([site.url('/page/4')]);
    const post = await client.sendRequest(postForJson('/post-redirect'));
    expect(post.body).toEqual({ ok: true, method: 'GET' });
    const stop = await client.sendRequest({ url: site.url('/go'), followRedirect: false });
    expect(stop.statusCode).toBe(302);
    expect(stop.headers.location).toBe('/page/4');
    const asked = [];
    const fn = await client.sendRequest({
      url: site.url('/go'),
      followRedirect: (res) => (asked.push(res.statusCode), false),
    });
    expect(asked).toEqual([302]);
    expect(fn.statusCode).toBe(302);
    const err = await client.sendRequest({ url: site.url('/loop'), maxRedirects: 3 }).catch((e) => e);
    expect(err).toBeInstanceOf(MaxRedirectsError);
    expect(err.code).toBe('ERR_TOO_MANY_REDIRECTS');
    const ftp = await client.sendRequest({ url: site.url('/ftp') }).catch((e) => e);
    expect(ftp.name).toBe('RequestError');
    expect(ftp.code).toBe('ERR_PROTOCOL');
    expect(ftp.message).toBe('cannot follow a redirect to ftp:');
  });

  test("a cookie jar (Crawlee's session) supplies and stores cookies on every hop", async () => {
    const { CookieJar } = require('tough-cookie');
    const jar = new CookieJar();
    await client.sendRequest({ url: site.url('/'), cookieJar: jar });
    seen.length = 0;
    await client.sendRequest({ url: site.url('/go'), cookieJar: jar });
    expect(seen.map((s) => [s.path, s.headers.cookie])).toEqual([
      ['/go', 'sid=abc'],
      ['/page/4', 'sid=abc; hop=1'],
    ]);
  });

  test('stream: the onRedirect handler sees each hop and may set the next headers', async () => {
    seen.length = 0;
    const hops = [];
    const res = await client.stream({ url: site.url('/go') }, (redirectResponse, updated) => {
      hops.push([redirectResponse.statusCode, redirectResponse.headers['set-cookie'], String(updated.url)]);
      updated.headers.Cookie = 'from=handler';
    });
    expect(hops).toEqual([[302, ['hop=1; Path=/'], site.url('/page/4')]]);
    expect(seen[1].headers.cookie).toBe('from=handler');
    let body = '';
    for await (const chunk of res.stream) body += chunk;
    expect(body).toMatch(/page\/1/);
    expect(res.complete).toBe(true);
    expect(res.downloadProgress.percent).toBe(1);
    expect(res.downloadProgress.transferred).toBe(Buffer.byteLength(body));
  });

  test('stream: back-pressure reaches the server, and destroying the stream cancels the request', async () => {
    bigResponses.length = 0;
    const res = await client.stream({ url: site.url('/big') });
    const total = 64 * 1024 * 1024;
    expect(res.downloadProgress.total).toBe(total);
    // Read one chunk, then stop reading: the engine stops reading ahead, so the server stalls.
    const first = await new Promise((resolve) => res.stream.once('data', resolve));
    res.stream.pause();
    let sent = -1;
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 40));
      const now = bigResponses[0].bytesSent;
      if (now === sent) break; // settled: the server is blocked on its socket
      sent = now;
    }
    expect(first.length).toBeGreaterThan(0);
    expect(bigResponses[0].bytesSent).toBeLessThan(total / 2);
    res.stream.destroy();
    await once(bigResponses[0], 'close');
  });

  test('errors as Crawlee expects them: HTTPError, TimeoutError, proxy failures it rotates on', async () => {
    const notFound = await client.sendRequest({ url: site.url('/missing') });
    expect(notFound.statusCode).toBe(404); // got-scraping's default: no throw
    const http = await client
      .sendRequest({ url: site.url('/missing'), throwHttpErrors: true })
      .catch((e) => e);
    expect(http).toBeInstanceOf(HTTPError);
    expect(http.message).toBe('Response code 404 (Not Found)');
    expect(http.response.statusCode).toBe(404);
    const timeout = await client
      .sendRequest({ url: site.url('/stall'), timeout: { request: 300 } })
      .catch((e) => e);
    expect(timeout).toBeInstanceOf(TimeoutError);
    expect(timeout.name).toBe('TimeoutError');
    expect(timeout.code).toBe('ETIMEDOUT');
    expect(timeout.cause.code).toBe('ERR_TIMEOUT');
    // a proxy that refuses: the message carries what Crawlee's ROTATE_PROXY_ERRORS look for
    const { closedPort } = require('../helpers/servers');
    const port = await closedPort();
    const refused = await client
      .sendRequest({ url: site.url('/'), proxyUrl: `http://127.0.0.1:${port}` })
      .catch((e) => e);
    const { ROTATE_PROXY_ERRORS } = require('@crawlee/utils');
    expect(ROTATE_PROXY_ERRORS.some((s) => refused.message.includes(s))).toBe(true);
    expect(refused.cause.code).toMatch(/^ERR_(PROXY|CONNECT_REFUSED)$/);
  });

  test("got's per-phase timeouts, an AbortSignal, and a SOCKS5 proxyUrl", async () => {
    const headers = await client
      .sendRequest({ url: site.url('/stall'), timeout: { response: 300 } })
      .catch((e) => e);
    expect(headers).toBeInstanceOf(TimeoutError);
    expect(headers.cause.stage).toBe('headers');
    const controller = new AbortController();
    const pending = client
      .sendRequest({ url: site.url('/stall'), signal: controller.signal })
      .catch((e) => e);
    setTimeout(() => controller.abort(), 50);
    const aborted = await pending;
    expect(aborted.name).toBe('AbortError');
    expect(aborted.cause.code).toBe('ERR_ABORTED');
    const socks = await startSocksServer();
    try {
      const r = await client.sendRequest({
        url: site.url('/page/2'),
        proxyUrl: `socks5://127.0.0.1:${socks.port}`,
      });
      expect(r.statusCode).toBe(200);
      expect(socks.log.map((e) => [e.version, e.port])).toEqual([['5', site.port]]);
    } finally {
      await socks.close();
    }
  });

  test('bad options fail at construction with ERR_INVALID_OPTION', () => {
    expect(() => new CycleTLSHttpClient({ maxRedirects: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
    expect(() => new CycleTLSHttpClient({ profile: 7 })).toThrow(/profile/);
    expect(() => new CycleTLSHttpClient('chrome')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
  });
});
