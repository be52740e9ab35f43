'use strict';
// The echConfigList option end to end (lib -> spec -> the engine's TLS), against Node's TLS server,
// which has no ECH: a real Encrypted ClientHello it cannot read. The outer hello names the config's
// public_name, and the server answers it with a certificate valid for that name. The client takes
// that as an authenticated rejection without retry configs and reconnects without ECH, as Chrome
// does ("secure disable"). The accepted path and the retry configs are in the native suite
// (test/native/engine_ech_test.cc: a BoringSSL server with ECH keys) and against the ECH echo below,
// over TCP and over HTTP/3.
const crypto = require('node:crypto');
const path = require('node:path');
const initCycleTLS = require('../..');
const { echInnerHello, startEchEchoServer } = require('../../dist/echo');
const { parseClientHello } = require('../../dist/echo/clienthello');
const { ja4 } = require('../../dist/echo/ja');
const { startServer, uniquePort } = require('../helpers/servers');

const certDir = path.join(__dirname, '..', 'fixtures', 'certs');
/**
 * The echo's ECH endpoint (native/ech_server): certificate for localhost and ech-public.test; with `quic`, its
 * HTTP/3 side too (native/quic_server, the same keys and answers).
 */
function echEcho(mode, quic = false) {
  return startEchEchoServer({
    mode,
    quic,
    cert: path.join(certDir, 'ech-server.pem'),
    key: path.join(certDir, 'ech-server-key.pem'),
  });
}

/** An ECHConfigList (RFC 9849 §4) of one X25519 / HKDF-SHA256 / AES-128-GCM config. */
function echConfigList(publicName) {
  const u16 = (n) => Buffer.from([n >> 8, n & 0xff]);
  const name = Buffer.from(publicName);
  const contents = Buffer.concat([
    Buffer.from([7]), // config_id
    u16(0x0020), // DHKEM(X25519, HKDF-SHA256)
    u16(32),
    crypto.randomBytes(32), // any 32 bytes are an X25519 public key
    u16(4),
    u16(0x0001), // HKDF-SHA256
    u16(0x0001), // AES-128-GCM
    Buffer.from([32]), // maximum_name_length
    Buffer.from([name.length]),
    name,
    u16(0), // no extensions
  ]);
  const config = Buffer.concat([u16(0xfe0d), u16(contents.length), contents]);
  return Buffer.concat([u16(config.length), config]).toString('base64');
}

/** A GET offering a fresh config for ech-public.test. */
function echGet(url, profile = 'chrome_156') {
  return client.get(url, { profile, echConfigList: echConfigList('ech-public.test') });
}

let client;
let server; // certificate: localhost and ech-public.test
let narrow; // certificate: localhost only
const sni = { server: [], narrow: [] };
beforeAll(async () => {
  client = await initCycleTLS({ port: uniquePort() });
  server = await startServer({ cert: 'ech-server' });
  narrow = await startServer({ cert: 'server' });
  for (const [label, s] of [
    ['server', server],
    ['narrow', narrow],
  ]) {
    s.server.on('secureConnection', (sock) => sni[label].push(sock.servername));
  }
});
afterAll(async () => {
  await client.exit();
  await Promise.all([server.close(), narrow.close()]);
});

test('a server without ECH: the outer hello names public_name, then one reconnect without ECH', async () => {
  sni.server.length = 0;
  const r = await echGet(server.url('/echo'));
  expect(r.status).toBe(200);
  expect(r.data.tls.servername).toBe('localhost');
  expect(sni.server).toEqual(['ech-public.test', 'localhost']);
});

test('a rejection whose certificate does not cover public_name is a certificate error, no retry', async () => {
  sni.narrow.length = 0;
  const r = await echGet(narrow.url('/echo'));
  expect(r.status).toBe(495);
  expect(r.error).toMatchObject({ code: 'ERR_TLS_CERT', stage: 'tls' });
});

test('not base64, or not a framed list → ERR_INVALID_OPTION before anything is sent', async () => {
  for (const echConfigList of ['not base64!', Buffer.from([0, 9, 1]).toString('base64')]) {
    await expect(
      client.get(server.url('/echo'), { echConfigList, rejectOnError: true }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  }
});

test('a framed list whose configs do not parse rejects the call, as Chrome fails it', async () => {
  // By IP: an origin no earlier test left a pooled connection to (an ECH config is not part of a
  // connection's identity, as in Chrome, so a pooled connection would carry the request).
  const call = client.get(`https://127.0.0.1:${narrow.port}/echo`, {
    profile: 'chrome_156',
    echConfigList: Buffer.from([0, 4, 0xfe, 0x0d, 0, 9]).toString('base64'),
  });
  await expect(call).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', stage: 'tls' });
});

test('firefox_153 keeps its ECH GREASE with a config list: the true name in the clear', async () => {
  sni.server.length = 0;
  const r = await echGet(server.url('/echo'), 'firefox_153');
  expect(r.status).toBe(200);
  expect(sni.server).toEqual(['localhost']);
});

describe('against the ECH echo (BoringSSL holding ECH keys)', () => {
  const echoes = [];
  afterAll(() => Promise.all(echoes.map((e) => e.close())));
  const start = (mode) => {
    const e = echEcho(mode);
    echoes.push(e);
    return e;
  };

  test("chrome_156 with the echo's config: accepted, the true name inside, public_name outside", async () => {
    const echo = start('accept');
    const r = await client.get(echo.url('/ech'), {
      profile: 'chrome_156',
      echConfigList: echo.echConfigList,
    });
    expect(r.status).toBe(200);
    const answer = r.data;
    expect(answer.ech).toEqual({ offered: true, accepted: true });
    expect(answer.outerSni).toBe('ech-public.test');
    expect(answer.innerSni).toBe('localhost');
    const inner = echInnerHello(answer);
    const outer = parseClientHello(Buffer.from(answer.outerHello, 'hex'));
    // The inner hello is chrome_156's, with what ECH changes there (README "ECH"): TLS 1.3 suites only,
    // no TLS 1.2-only extensions, no padding. Its JA4: the preset's extension and sigalg hashes
    // change with those, the prefix keeps ALPN h2 and TLS 1.3.
    expect(inner.ja4).toMatch(/^t13d\d{4}h2_/);
    for (const dropped of [23, 65281, 11, 35, 21]) expect(inner.extensions).not.toContain(dropped);
    const outerIds = new Set(outer.extensions.map((e) => e.id));
    for (const id of inner.extensions) expect(outerIds.has(id) || id === 0).toBe(true);
    expect(ja4(outer)).toMatch(/^t13d15\d\dh2_8daaf6152771_/); // chrome_156's cipher hash, outside too
  });

  test('a server with another key: rejected with retry configs, one reconnect, accepted', async () => {
    const echo = start('retry');
    const r = await client.get(echo.url('/retry'), {
      profile: 'chrome_156',
      echConfigList: echo.echConfigList,
    });
    expect(r.status).toBe(200);
    expect(r.data.ech.accepted).toBe(true);
    expect(r.data.innerSni).toBe('localhost');
  });

  test('a server holding no key: secure disable, one reconnect with GREASE', async () => {
    const echo = start('disable');
    const r = await client.get(echo.url('/disable'), {
      profile: 'chrome_156',
      echConfigList: echo.echConfigList,
    });
    expect(r.status).toBe(200);
    expect(r.data.ech).toEqual({ offered: true, accepted: false }); // GREASE: offered, never accepted
    expect(r.data.outerSni).toBe('localhost');
    expect(r.data.innerHello).toBeNull();
  });

  test('a server whose key changes with every connection: the retry is rejected too, ERR_ECH_REJECTED', async () => {
    const echo = start('rotate');
    const r = await client.get(echo.url('/rotate'), {
      profile: 'chrome_156',
      echConfigList: echo.echConfigList,
    });
    expect(r.error).toMatchObject({ code: 'ERR_ECH_REJECTED', stage: 'tls' });
  });

  test('without a config list the hello GREASEs ECH as before', async () => {
    const echo = start('accept');
    const r = await client.get(echo.url('/grease'), { profile: 'chrome_156' });
    expect(r.data.ech).toEqual({ offered: true, accepted: false });
    expect(r.data.outerSni).toBe('localhost');
  });
});

describe('over HTTP/3, against the ECH echo', () => {
  const echoes = [];
  afterAll(() => Promise.all(echoes.map((e) => e.close())));
  const start = (mode) => {
    const e = echEcho(mode, true);
    echoes.push(e);
    return e;
  };
  const h3 = (echo, path, options) => client.get(echo.url(path), { http3: 'force', ...options });

  test("chrome_156 over QUIC with the echo's config: accepted, the true name inside, public_name outside", async () => {
    const echo = start('accept');
    const r = await h3(echo, '/ech', { profile: 'chrome_156', echConfigList: echo.echConfigList });
    expect(r.status).toBe(200);
    expect(r.protocol).toBe('h3');
    const answer = r.data;
    expect(answer.ech).toEqual({ offered: true, accepted: true });
    expect(answer.outerSni).toBe('ech-public.test');
    expect(answer.innerSni).toBe('localhost');
    expect(r.fingerprint.ech).toBe('real');
    // The inner hello is the preset's QUIC hello (ALPN h3, quic_transport_parameters); the outer one
    // keeps its shape: every extension of the inner one is there too (or compressed into it).
    const inner = echInnerHello(answer);
    const outer = parseClientHello(Buffer.from(answer.outerHello, 'hex'));
    expect(inner.ja4).toMatch(/^t13d\d{4}h3_/);
    expect(inner.extensions).toContain(57);
    const outerIds = new Set(outer.extensions.map((e) => e.id));
    for (const id of inner.extensions) expect(outerIds.has(id) || id === 0).toBe(true);
    expect(r.fingerprint.quicJa4).toMatch(/^q13d\d{4}h3_/); // the fingerprint describes the outer hello
  });

  test('a server with another key: rejected with retry configs, a second QUIC connection, accepted', async () => {
    const echo = start('retry');
    const r = await h3(echo, '/retry', { profile: 'chrome_156', echConfigList: echo.echConfigList });
    expect(r.protocol).toBe('h3');
    expect(r.data.ech.accepted).toBe(true);
    expect(r.data.innerSni).toBe('localhost');
    expect(r.fingerprint.ech).toBe('real');
  });

  test('a server whose key changes with every connection: the second QUIC connection is rejected too', async () => {
    const echo = start('rotate');
    const r = await h3(echo, '/rotate', { profile: 'chrome_156', echConfigList: echo.echConfigList });
    expect(r.error).toMatchObject({
      code: 'ERR_ECH_REJECTED',
      stage: 'tls',
      message: expect.stringContaining('again after its retry configs'),
    });
  });

  // GREASE, the true name in the clear: secure disable after the first connection; no config; Firefox.
  test.each([
    ['a server holding no key: secure disable, a second QUIC connection', 'disable', 'chrome_156', true],
    ['without a config list the QUIC hello GREASEs ECH as before', 'accept', 'chrome_156', false],
    ['firefox_153 over QUIC keeps its ECH GREASE with a config list', 'accept', 'firefox_153', true],
  ])('%s', async (_, mode, profile, withConfig) => {
    const echo = start(mode);
    const r = await h3(echo, '/grease', {
      profile,
      ...(withConfig ? { echConfigList: echo.echConfigList } : {}),
    });
    expect(r.protocol).toBe('h3');
    expect(r.data.ech).toEqual({ offered: true, accepted: false });
    expect(r.data.outerSni).toBe('localhost');
    expect(r.data.innerHello).toBeNull();
    expect(r.fingerprint.ech).toBe('grease');
  });
});

test("a redirect to another host drops the config: that host's hello GREASEs ECH", async () => {
  const fresh = await startServer({ cert: 'ech-server' });
  const seen = [];
  fresh.server.on('secureConnection', (sock) => seen.push(sock.servername || null));
  try {
    const to = fresh.url('/echo'); // localhost
    const r = await echGet(`https://127.0.0.1:${fresh.port}/redirect-to?url=${encodeURIComponent(to)}`);
    expect(r.status).toBe(200);
    // 127.0.0.1: the ECH offer (public_name), then secure disable (no SNI for an IP); localhost: one
    // connection, its own name in the clear, no offer to reject.
    expect(seen).toEqual(['ech-public.test', null, 'localhost']);
  } finally {
    await fresh.close();
  }
});
