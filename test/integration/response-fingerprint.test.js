'use strict';
// response.fingerprint: what the connection a response came over sent, computed by the engine from
// the bytes that went out (native/fingerprint), held equal to what the shipped echo server computed
// from the bytes it received (lib/echo: JA3, JA3N, JA4, JA4_r, the Akamai HTTP/2 string, the QUIC
// hello's JA4) for that very connection: over HTTP/1.1, HTTP/2 and HTTP/3, for several presets
// (chrome_156 permutes its extensions, so JA3 differs per connection: only one connection's own pair
// is compared), on a resumed connection, and for a request from another process sharing the port.
const path = require('node:path');
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const initCycleTLS = require('../..');
const { startEchoServer } = require('../../dist/echo');
const { uniquePort } = require('../helpers/servers');
const { childEnv, start, killAll } = require('../process/spawn');

const PRESETS = ['chrome_156', 'firefox_153', 'safari_18', 'chrome_133', 'firefox_128'];
const ECH = 65037;

let echo;
let quicEcho;
let client;
beforeAll(async () => {
  echo = await startEchoServer();
  quicEcho = await startEchoServer({ quic: true });
  client = await initCycleTLS({ port: uniquePort() });
}, 60000);
afterAll(async () => {
  killAll();
  await client.exit();
  await echo.close();
  await quicEcho.close();
});

const get = (url, extra) => client.get(url, { insecureSkipVerify: true, responseType: 'json', ...extra });

/** What the echo server saw of the connection's hello, in response.fingerprint's names. */
function echoSaw(tls) {
  return { ja3: tls.ja3, ja3n: tls.ja3n, ja4: tls.ja4, ja4r: tls.ja4_r };
}

function expectEqualToEcho(res, tls) {
  const f = res.fingerprint;
  expect(f).not.toBeNull();
  expect({ ja3: f.ja3, ja3n: f.ja3n, ja4: f.ja4, ja4r: f.ja4r }).toEqual(echoSaw(tls));
  expect(f.ech).toBe(tls.extension_ids.includes(ECH) ? 'grease' : 'none');
  expect(f.resumed).toBe(res.connection.tlsResumed);
}

describe.each(PRESETS)('%s', (profile) => {
  test('HTTP/2: the hello and the Akamai string the echo server saw on that connection', async () => {
    const res = await get(`https://localhost:${echo.port}/fp`, { profile });
    expect(res.protocol).toBe('h2');
    expectEqualToEcho(res, res.data.tls);
    expect(res.fingerprint.akamai).toBe(res.data.http2.akamai_fingerprint);
    expect(res.fingerprint.quicJa4).toBeUndefined();
    expect(res.fingerprint.ja4).toMatch(/^t13d\d{4}h2_/);
  });

  test('HTTP/1.1 (forceHTTP1): the hello, no Akamai string', async () => {
    const res = await get(`https://localhost:${echo.port}/fp`, { profile, forceHTTP1: true });
    expect(res.protocol).toBe('http/1.1');
    expectEqualToEcho(res, res.data.tls);
    expect(res.fingerprint.akamai).toBeUndefined();
  });
});

test('the browsers send ECH GREASE, and say so', async () => {
  for (const profile of ['chrome_156', 'firefox_153']) {
    const res = await get(`https://localhost:${echo.port}/fp`, { profile });
    expect(res.fingerprint.ech).toBe('grease');
  }
});

describe.each(['chrome_156', 'firefox_153'])('%s over HTTP/3 (forceHTTP3)', (profile) => {
  test("quicJa4 and the hello's strings equal the echo's view of the QUIC first flight", async () => {
    const res = await get(`https://localhost:${quicEcho.port}/quic`, {
      profile,
      forceHTTP3: true,
      serverName: 'fp.test',
    });
    expect(res.protocol).toBe('h3');
    const tls = res.data.quic.tls;
    expectEqualToEcho(res, tls);
    expect(res.fingerprint.quicJa4).toBe(res.data.ja4);
    expect(res.fingerprint.ja4).toMatch(/^q13d/);
    expect(res.fingerprint.akamai).toBeUndefined();
  });
});

test('the responses of a reused connection share one fingerprint object', async () => {
  const c = await initCycleTLS({ port: uniquePort() });
  try {
    const url = `https://localhost:${echo.port}/fp`;
    // The first responses of the new connection each decode their own (equal) one; later ones share.
    const [a, b] = await Promise.all([1, 2].map(() => c.get(url, { insecureSkipVerify: true })));
    expect(b.connection.id).toBe(a.connection.id);
    expect(b.fingerprint).toEqual(a.fingerprint);
    expect(Object.isFrozen(a.fingerprint)).toBe(true);
    const d = await c.get(url, { insecureSkipVerify: true });
    const e = await c.get(url, { insecureSkipVerify: true });
    expect([d.connection.reused, e.connection.reused]).toEqual([true, true]);
    expect(e.connection.id).toBe(a.connection.id);
    expect(e.fingerprint).toBe(d.fingerprint);
    expect(d.fingerprint).toEqual(a.fingerprint);
    expect(Object.isFrozen(d.fingerprint)).toBe(true);
  } finally {
    await c.exit();
  }
});

test('a resumed connection: resumed true, as tlsResumed, and its hello offers pre_shared_key', async () => {
  const c = await initCycleTLS({ port: uniquePort() });
  try {
    const url = `https://localhost:${echo.port}/fp`;
    const opts = { profile: 'firefox_153', forceHTTP1: true, insecureSkipVerify: true, responseType: 'json' };
    const first = await c.get(url, { ...opts, headers: { Connection: 'close' } });
    expect(first.fingerprint.resumed).toBe(false);
    const second = await c.get(url, opts);
    expect(second.connection.id).not.toBe(first.connection.id);
    expect(second.connection.tlsResumed).toBe(true);
    expect(second.fingerprint.resumed).toBe(true);
    expectEqualToEcho(second, second.data.tls);
    expect(second.fingerprint.ja4r.split('_')[2].split(',')).toContain('0029');
  } finally {
    await c.exit();
  }
});

test('plain http://: no TLS, no fingerprint', async () => {
  const server = http.createServer((req, res) => res.end('ok'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const res = await client.get(`http://127.0.0.1:${server.address().port}/`);
    expect(res.status).toBe(200);
    expect(res.fingerprint).toBeNull();
  } finally {
    server.close();
  }
});

test('a request from another process sharing the port gets the fingerprint over the link', async () => {
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-sock-'));
  const port = uniquePort();
  const host = await initCycleTLS({ port, socketDir });
  try {
    expect(host.stats().role).toBe('host');
    const child = start(
      process.execPath,
      [
        path.join(__dirname, '..', 'fixtures', 'scripts', 'fingerprint-client.js'),
        JSON.stringify({ port, url: `https://localhost:${echo.port}/fp`, profile: 'firefox_153', count: 3 }),
      ],
      { env: childEnv({ CYCLETLS_NATIVE_SOCKET_DIR: socketDir }), timeoutMs: 30000 },
    );
    expect((await child.waitFor(/^READY /)).split(' ')[1]).toBe('client');
    const out = JSON.parse((await child.waitFor(/^DONE /, 30000)).slice(5));
    expect(out).toHaveLength(3);
    // The host names the fingerprint in full once per link and connection, then as "the one before".
    for (const r of out) {
      expect(r.connection.id).toBe(out[0].connection.id);
      const { ja3, ja3n, ja4, ja4r, akamai } = r.fingerprint;
      expect({ ja3, ja3n, ja4, ja4r, akamai }).toEqual(r.echo);
      expect(r.fingerprint.ech).toBe('grease');
      expect(r.fingerprint.resumed).toBe(r.connection.tlsResumed);
    }
  } finally {
    await host.exit();
    fs.rmSync(socketDir, { recursive: true, force: true });
  }
});

describe('the other doors', () => {
  test('fetch: Response.fingerprint, equal to what the echo server saw', async () => {
    const { createFetch } = require('../..');
    const f = createFetch({ port: uniquePort(), insecureSkipVerify: true });
    try {
      const res = await f(`https://localhost:${echo.port}/fp`, { profile: 'firefox_153' });
      const seen = await res.json();
      expect(res.fingerprint.ja4).toBe(seen.tls.ja4);
      expect(res.fingerprint.akamai).toBe(seen.http2.akamai_fingerprint);
    } finally {
      await f.close();
    }
  });

  test("cycletls v3's client: response.fingerprint", async () => {
    const { CycleTLS } = require('../..');
    const v3 = new CycleTLS({ port: uniquePort() });
    try {
      const res = await v3.get(`https://localhost:${echo.port}/fp`, {
        profile: 'chrome_156',
        insecureSkipVerify: true,
      });
      const seen = await res.json();
      expect(res.fingerprint.ja3).toBe(seen.tls.ja3);
      expect(res.fingerprint.ja4r).toBe(seen.tls.ja4_r);
    } finally {
      await v3.close();
    }
  });
});
