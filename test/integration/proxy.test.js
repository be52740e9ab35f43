'use strict';
// Proxies against real local servers: an HTTP proxy (CONNECT and absolute-form, plain and over
// TLS), a SOCKS4/4a/5 server, credentials accepted and refused, a black hole, socks5 vs socks5h
// DNS, malformed URLs, and the pool keeping proxies apart.
const initCycleTLS = require('../..');
const { startServer, uniquePort } = require('../helpers/servers');
const { startHttpProxy, startSocksServer, startBlackHole } = require('../helpers/proxies');

// A name that only the SOCKS server can resolve (no resolver of this machine knows it).
const PROXY_ONLY_NAME = 'only-the-proxy.invalid';

let client;
let https;
let http;
const proxies = {};
beforeAll(async () => {
  client = await initCycleTLS({ port: uniquePort() });
  https = await startServer();
  http = await startServer({ tls: false });
  proxies.http = await startHttpProxy();
  proxies.httpAuth = await startHttpProxy({ auth: { user: 'us@er', pass: 'p:ss w' } });
  proxies.https = await startHttpProxy({ tls: true });
  proxies.socks = await startSocksServer({ hosts: { [PROXY_ONLY_NAME]: '127.0.0.1' } });
  proxies.socksAuth = await startSocksServer({ auth: { user: 'alice', pass: 's3cret' } });
  proxies.blackHole = await startBlackHole();
});
afterAll(async () => {
  await client.exit();
  await Promise.all([https, http, ...Object.values(proxies)].map((s) => s.close()));
});

const last = (log) => log[log.length - 1];

describe('HTTP proxies', () => {
  test('an https target goes through CONNECT, with the TLS handshake end to end with the target', async () => {
    const r = await client.get(https.url('/echo'), { proxy: proxies.http.url() });
    expect(r.status).toBe(200);
    expect(r.data.tls.servername).toBe('localhost'); // the target's own handshake, SNI included
    expect(last(proxies.http.log)).toMatchObject({ method: 'CONNECT', target: `localhost:${https.port}` });
  });

  test('a plain http target goes as an absolute-form request, no CONNECT', async () => {
    const before = proxies.http.log.length;
    const r = await client.get(http.url('/echo?x=1'), { proxy: proxies.http.url() });
    expect(r.status).toBe(200);
    expect(r.data.tls).toBeNull();
    const entry = proxies.http.log[before];
    expect(entry).toMatchObject({ method: 'GET', target: `http://localhost:${http.port}/echo?x=1` });
  });

  test("an https:// proxy: TLS to the proxy, CONNECT inside it, the target's TLS inside that", async () => {
    const r = await client.get(https.url('/echo'), { proxy: proxies.https.url() });
    expect(r.status).toBe(200);
    expect(r.data.tls.servername).toBe('localhost');
    expect(last(proxies.https.log)).toMatchObject({ method: 'CONNECT', target: `localhost:${https.port}` });
    const plain = await client.get(http.url('/echo'), { proxy: proxies.https.url() });
    expect(plain.status).toBe(200);
    expect(last(proxies.https.log).target).toBe(`http://localhost:${http.port}/echo`);
  });

  test('percent-decoded credentials are accepted, for CONNECT and absolute-form', async () => {
    const proxy = proxies.httpAuth.url('us%40er:p%3Ass%20w@');
    const expected = `Basic ${Buffer.from('us@er:p:ss w').toString('base64')}`;
    expect((await client.get(https.url('/echo'), { proxy })).status).toBe(200);
    expect(last(proxies.httpAuth.log)).toMatchObject({ method: 'CONNECT', authorization: expected });
    expect((await client.get(http.url('/echo'), { proxy })).status).toBe(200);
    expect(last(proxies.httpAuth.log)).toMatchObject({ method: 'GET', authorization: expected });
  });

  test("refused credentials → ERR_PROXY with the proxy's status line", async () => {
    for (const cred of ['', 'us%40er:wrong@']) {
      const r = await client.get(https.url('/echo'), { proxy: proxies.httpAuth.url(cred) });
      expect(r.status).toBe(407); // the proxy's own status, as cycletls resolves it
      expect(r.error.code).toBe('ERR_PROXY');
      expect(r.error.stage).toBe('proxy');
      expect(r.error.message).toMatch(/407 Proxy Authentication Required/);
      expect(r.error.message).not.toMatch(/wrong/); // never the password
    }
    // Absolute-form: the proxy's 407 is the response itself, as with any HTTP proxy.
    const plain = await client.get(http.url('/echo'), { proxy: proxies.httpAuth.url() });
    expect(plain.status).toBe(407);
  });

  test('the proxy failing to reach the target → ERR_PROXY with its 502', async () => {
    const r = await client.get('https://127.0.0.1:1/', { proxy: proxies.http.url() });
    expect(r.error.code).toBe('ERR_PROXY');
    expect(r.error.message).toMatch(/502 Bad Gateway/);
  });
});

describe('SOCKS proxies', () => {
  test.each([
    ['socks4', '4', 'ipv4', '127.0.0.1'],
    ['socks4a', '4a', 'name', 'localhost'],
    ['socks5', '5', 'ipv4', '127.0.0.1'],
    ['socks5h', '5', 'name', 'localhost'],
  ])('%s: the target is sent as %s/%s', async (scheme, version, addressType, host) => {
    const r = await client.get(https.url('/echo'), { proxy: proxies.socks.url(scheme) });
    expect(r.status).toBe(200);
    expect(r.data.tls.servername).toBe('localhost');
    expect(last(proxies.socks.log)).toMatchObject({ version, addressType, host, port: https.port });
  });

  test('socks5 resolves locally, socks5h lets the proxy resolve: a name only the proxy knows', async () => {
    const url = `http://${PROXY_ONLY_NAME}:${http.port}/echo`;
    const remote = await client.get(url, { proxy: proxies.socks.url('socks5h') });
    expect(remote.status).toBe(200);
    expect(last(proxies.socks.log)).toMatchObject({ addressType: 'name', host: PROXY_ONLY_NAME });
    const before = proxies.socks.log.length;
    const local = await client.get(url, { proxy: proxies.socks.url('socks5') });
    expect(local.error.code).toBe('ERR_DNS');
    expect(local.error.stage).toBe('dns');
    expect(proxies.socks.log.length).toBe(before); // the proxy never heard of it
    const socks4a = await client.get(url, { proxy: proxies.socks.url('socks4a') });
    expect(socks4a.status).toBe(200);
  });

  test('SOCKS5 username/password: accepted, refused, and required', async () => {
    const ok = await client.get(https.url('/echo'), {
      proxy: proxies.socksAuth.url('socks5h', 'alice:s3cret@'),
    });
    expect(ok.status).toBe(200);
    expect(last(proxies.socksAuth.log)).toMatchObject({ user: 'alice' });
    const wrong = await client.get(https.url('/echo'), {
      proxy: proxies.socksAuth.url('socks5', 'alice:nope@'),
    });
    expect(wrong.error).toMatchObject({ code: 'ERR_PROXY', stage: 'proxy' });
    expect(wrong.error.message).toMatch(/rejected the user name and password/);
    const none = await client.get(https.url('/echo'), { proxy: proxies.socksAuth.url('socks5') });
    expect(none.error.code).toBe('ERR_PROXY');
    expect(none.error.message).toMatch(/requires authentication/);
  });

  test("the proxy failing to reach the target → ERR_PROXY with the SOCKS code's meaning", async () => {
    const r = await client.get('https://127.0.0.1:1/', { proxy: proxies.socks.url('socks5') });
    expect(r.error.code).toBe('ERR_PROXY');
    expect(r.error.message).toMatch(/connection refused/);
    const v4 = await client.get('https://127.0.0.1:1/', { proxy: proxies.socks.url('socks4') });
    expect(v4.error.code).toBe('ERR_PROXY');
    expect(v4.error.message).toMatch(/code 91/);
  });
});

describe('failures and timeouts', () => {
  test.each(['http', 'https', 'socks4', 'socks5h'])(
    'a %s proxy that never answers: the timeout covers the proxy stage',
    async (scheme) => {
      const started = Date.now();
      const r = await client.get(https.url('/echo'), {
        proxy: `${scheme}://127.0.0.1:${proxies.blackHole.port}`,
        timeout: 1,
      });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(r.error.code).toBe('ERR_TIMEOUT');
      expect(r.error.stage).toBe('proxy');
    },
  );

  test('a proxy port nobody listens on → ERR_PROXY at connect', async () => {
    const r = await client.get(https.url('/echo'), { proxy: 'http://127.0.0.1:1' });
    expect(r.status).toBe(502);
    expect(r.error).toMatchObject({ code: 'ERR_PROXY', stage: 'connect' });
  });

  test('a malformed proxy URL rejects that call only, with ERR_INVALID_OPTION', async () => {
    for (const proxy of [
      '127.0.0.1:8080',
      'ftp://127.0.0.1:1',
      'http://',
      'socks5://h:0',
      'http://h/path',
      'http://u:%zz@h:1',
      'socks5://h:99999',
    ]) {
      await expect(client.get(https.url('/echo'), { proxy })).rejects.toMatchObject({
        code: 'ERR_INVALID_OPTION',
      });
    }
    await expect(client.get(https.url('/echo'), { proxy: 'http://user:topsecret@/' })).rejects.toThrow(
      /^(?!.*topsecret)/,
    );
    expect((await client.get(https.url('/echo'), { proxy: proxies.http.url() })).status).toBe(200);
  });
});

describe('the pool keeps proxies apart', () => {
  test('connections are reused through one proxy, never across proxies or credentials', async () => {
    const target = await startServer();
    try {
      const viaHttp = proxies.http.url();
      const a = await client.get(target.url('/echo'), { proxy: viaHttp });
      const b = await client.get(target.url('/echo'), { proxy: viaHttp });
      expect(b.data.connection).toBe(a.data.connection);
      const c = await client.get(target.url('/echo'), { proxy: proxies.socks.url('socks5h') });
      expect(c.data.connection).not.toBe(a.data.connection);
      const d = await client.get(target.url('/echo'));
      expect(d.data.connection).not.toBe(a.data.connection);
      expect(d.data.connection).not.toBe(c.data.connection);
      const e = await client.get(target.url('/echo'), { proxy: proxies.socks.url('socks5h', 'x:y@') });
      expect([a, c, d].map((r) => r.data.connection)).not.toContain(e.data.connection);
      expect(target.stats.connections).toBe(4);
    } finally {
      await target.close();
    }
  });
});
