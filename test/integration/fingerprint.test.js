'use strict';
// Our presets and fingerprint strings against the golden captures of real browsers
// (shared/fingerprints: Debian's Chromium 156 and Firefox ESR 153), as seen by the shipped echo
// server: JA4, JA3N, the Akamai HTTP/2 string, HEADERS priority and header order must be equal.
// Every preset against the values its sources establish (fixtures/fingerprints/presets.json), over
// HTTP/2, HTTP/1.1 (ALPN's choice and forceHTTP1) and plain http://.
const fs = require('node:fs');
const path = require('node:path');
const initCycleTLS = require('../..');
const { startEchoServer } = require('../../dist/echo');
const { uniquePort } = require('../helpers/servers');

const goldenFile = path.join(__dirname, '..', 'fixtures', 'fingerprints', 'requests.jsonl');
const golden = fs
  .readFileSync(goldenFile, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
const byPath = (p) => golden.find((r) => r.path === p);

let echo;
let client;
const clients = [];
beforeAll(async () => {
  echo = await startEchoServer();
  client = await initCycleTLS({ port: uniquePort() });
});
afterAll(async () => {
  await client.exit();
  await Promise.all(clients.map((c) => c.exit()));
  await echo.close();
});

// A fresh engine per call: a new connection, so a new ClientHello.
async function freshClient() {
  const c = await initCycleTLS({ port: uniquePort() });
  clients.push(c);
  return c;
}

const url = () => `https://localhost:${echo.port}/fp`;
const opts = (extra) => ({ insecureSkipVerify: true, ...extra });
const names = (headers) => headers.map(([n]) => n);

describe('chrome_156 (the default) equals Chromium 156', () => {
  const g = byPath('/chromium-headed') || byPath('/chromium-1');
  let r;
  beforeAll(async () => {
    r = (await client.get(url(), opts())).data;
  });

  test('JA4 and JA3N', () => {
    expect(r.tls.ja4).toBe(g.tls.ja4);
    expect(r.tls.ja3n).toBe(g.tls.ja3n);
    expect(r.tls.ja3n_hash).toBe(g.tls.ja3n_hash);
  });
  test('the Akamai HTTP/2 string and the HEADERS priority', () => {
    expect(r.http2.akamai_fingerprint).toBe(g.http2.akamai_fingerprint);
    const frame = (f) => f.frame_type === 'HEADERS';
    expect(r.http2.sent_frames.find(frame).priority).toEqual(g.http2.sent_frames.find(frame).priority);
    expect(r.http2.sent_frames.map((f) => f.frame_type).slice(0, 3)).toEqual([
      'SETTINGS',
      'WINDOW_UPDATE',
      'HEADERS',
    ]);
  });
  test('header order (and every value but the path and host)', () => {
    const ours = r.headers.map(([n, v]) => `${n}: ${v}`);
    const theirs = g.headers;
    expect(names(r.headers)).toEqual(theirs.map((h) => h.slice(0, h.indexOf(':', 1))));
    const differ = ours.filter((h, i) => h !== theirs[i]).map((h) => h.slice(0, h.indexOf(':', 1)));
    expect(differ).toEqual([':authority', ':path']);
  });
  test('signature_algorithms starts with GREASE, as Chrome ≥ 152 sends', () => {
    expect(r.tls.extensions).toContain('signature_algorithms (13)');
    expect(r.tls.ja4_r.split('_')[3]).toBe(g.tls.ja4_r.split('_')[3]);
  });
});

test('Chrome shuffles its extensions per connection: the JA3 changes, the JA4 does not', async () => {
  const seen = [];
  for (let i = 0; i < 4; i++) seen.push((await (await freshClient()).get(url(), opts())).data.tls);
  expect(new Set(seen.map((t) => t.ja4)).size).toBe(1);
  expect(new Set(seen.map((t) => t.ja3_hash)).size).toBeGreaterThan(1);
  expect(new Set(seen.map((t) => t.ja3n_hash)).size).toBe(1);
});

describe('firefox_153 equals Firefox ESR 153', () => {
  const g = byPath('/firefox-headed') || byPath('/firefox-1');
  let r;
  beforeAll(async () => {
    r = (await client.get(url(), opts({ profile: 'firefox_153' }))).data;
  });

  test('JA3 (no shuffling: the full string), JA4 and JA3N', () => {
    expect(r.tls.ja3).toBe(g.tls.ja3);
    expect(r.tls.ja3_hash).toBe(g.tls.ja3_hash);
    expect(r.tls.ja4).toBe(g.tls.ja4);
    expect(r.tls.ja3n).toBe(g.tls.ja3n);
  });
  test('record_size_limit, delegated credentials and three key shares', () => {
    expect(r.tls.record_size_limit).toBe(16385);
    expect(r.tls.delegated_credentials).toEqual(g.tls.delegated_credentials);
    expect(r.tls.key_share.map((k) => k.split(' len')[0])).toEqual(
      g.tls.key_share.map((k) => k.split(' len')[0]),
    );
  });
  test('the Akamai string, stream 3, weight 42 and the stream WINDOW_UPDATE', () => {
    expect(r.http2.akamai_fingerprint).toBe(g.http2.akamai_fingerprint);
    const types = r.http2.sent_frames.map((f) => `${f.frame_type}:${f.stream_id}`);
    expect(types.slice(0, 2)).toEqual(['SETTINGS:0', 'WINDOW_UPDATE:0']);
    const headers = r.http2.sent_frames.find((f) => f.frame_type === 'HEADERS');
    expect(headers.stream_id).toBe(3);
    expect(headers.priority).toEqual({ exclusive: 0, depends_on: 0, weight: 42 });
    expect(types).toContain('WINDOW_UPDATE:3');
  });
  test('header order', () => {
    expect(names(r.headers)).toEqual(g.headers.map((h) => h.slice(0, h.indexOf(':', 1))));
  });
});

describe('JA3 strings come back with the same JA3 hash', () => {
  const md5 = (s) => require('node:crypto').createHash('md5').update(s).digest('hex');
  const strings = [
    ['Chromium 156, connection 1', byPath('/chromium-1').ja3],
    ['Chromium 156, connection 2', byPath('/chromium-2').ja3],
    ['Firefox ESR 153', byPath('/firefox-1').ja3],
    [
      'Safari 17 (macOS)',
      '771,4865-4866-4867-49196-49195-52393-49200-49199-52392-49162-49161-49172-49171-157-156-53-47-49160-49170-10,0-23-65281-10-11-16-5-13-18-51-45-43-27-21,29-23-24-25,0',
    ],
    [
      'Chrome 120 (old ALPS, no PQ)',
      '771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,0-23-65281-10-11-35-16-5-13-18-51-45-43-27-17513,29-23-24,0',
    ],
    [
      'Firefox 115 (no PQ, no cert compression)',
      '771,4865-4867-4866-49195-49199-52393-52392-49196-49200-49162-49161-49171-49172-156-157-47-53,0-23-65281-10-11-35-16-5-34-51-43-13-45-28-65037,29-23-24-25-256-257,0',
    ],
    [
      'minimal TLS 1.3 with TLS 1.2 fallback',
      '771,4865-4866-4867-49195-49199,0-23-65281-10-11-13-16-43-45-51,29-23,0',
    ],
    [
      'TLS 1.3 only (no ec_point_formats: an empty last field)',
      '771,4865-4866-4867,0-10-13-16-43-45-51,29-23,',
    ],
    [
      'TLS 1.2 only (Chrome-like)',
      '771,49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,0-23-65281-10-11-35-16-5-13-18,29-23-24,0',
    ],
    [
      'TLS 1.2 only, CBC-SHA256 and 3DES',
      '771,49199-49195-49191-49187-49172-49171-60-47-10,0-23-65281-10-11-13-16,23-24,0',
    ],
    ['TLS 1.3, P-256 first', '771,4867-4865-4866-49195-49199,0-23-65281-10-11-13-16-43-45-51,23-29,0'],
  ];
  test.each(strings)('%s', async (_name, ja3) => {
    const r = (await (await freshClient()).get(url(), opts({ ja3 }))).data;
    expect(r.tls.ja3).toBe(ja3);
    expect(r.tls.ja3_hash).toBe(md5(ja3));
  });

  test('a JA3 whose extensions include supported_versions negotiates TLS 1.3 (cycletls: 1.2)', async () => {
    const r = (await (await freshClient()).get(url(), opts({ ja3: strings[2][1] }))).data;
    expect(r.tls_version).toBe('TLSv1.3');
  });

  // What can be sent but not negotiated (DHE, curl's and Node's strings) is in advertised-only.test.js.
  test.each([
    [
      'point formats without ec_point_formats',
      '771,4865-4866-4867,0-23-65281-10-13-16-43-45-51,29-23,0',
      /ec_point_formats \(extension 11\) is not/,
    ],
    [
      'early_data without a session',
      '771,4865-4866-4867-49195,0-23-65281-10-11-13-16-43-45-51-42,29-23,0',
      /early_data \(42\)/,
    ],
  ])('%s is refused, naming what cannot be sent', async (_name, ja3, why) => {
    await expect(client.get(url(), opts({ ja3 }))).rejects.toMatchObject({
      code: 'ERR_UNSUPPORTED_FINGERPRINT',
      message: expect.stringMatching(why),
    });
  });
});

describe('Akamai HTTP/2 strings are reproduced exactly', () => {
  test.each([
    ['Chrome', '1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p'],
    ['Firefox ESR 153', '1:65536;2:0;4:131072;5:16384|12517377|0|m,p,a,s'],
    [
      'old Firefox, with PRIORITY frames',
      '1:65536;4:131072;5:16384|12517377|3:0:0:201,5:0:0:101,7:0:0:1,9:0:7:1,11:0:3:1,13:0:0:241|m,p,a,s',
    ],
    ['Safari', '2:0;3:100;4:2097152;9:1|10420225|0|m,s,a,p'],
  ])('%s', async (_name, akamai) => {
    const r = (await (await freshClient()).get(url(), opts({ http2Fingerprint: akamai }))).data;
    expect(r.http2.akamai_fingerprint).toBe(akamai);
  });
});

test('disableGrease takes GREASE out of the hello', async () => {
  const r = (await (await freshClient()).get(url(), opts({ disableGrease: true }))).data;
  expect(r.tls.ciphers.some((c) => /GREASE/.test(c))).toBe(false);
  expect(r.tls.ja4).toBe(byPath('/chromium-1').tls.ja4); // JA4 ignores GREASE
});

test('forceHTTP1 offers only http/1.1, so ALPS (an h2 setting) goes too', async () => {
  const r = (await (await freshClient()).get(url(), opts({ forceHTTP1: true }))).data;
  expect(r.http_version).toBe('HTTP/1.1');
  expect(r.tls.ja4.slice(0, 10)).toBe('t13d1516h1');
  expect(r.tls.alps).toBeNull();
});

describe('safari_26 (public facts; no Safari runs on Linux to capture)', () => {
  // The JA4 and Akamai string that wreq-js's safari_26 emulation was measured to send here
  // (shared notes, peers.md §3): our preset must produce the same.
  let r;
  beforeAll(async () => {
    r = (await (await freshClient()).get(url(), opts({ profile: 'safari' }))).data;
  });
  test('JA4, cipher order (TLS 1.3: 1302, 1303, 1301) and the duplicate signature algorithm', () => {
    expect(r.tls.ja4).toBe('t13d2013h2_a09f3c656075_7f0f34a4126d');
    expect(r.tls.ja3.split(',')[1]).toBe(
      '4866-4867-4865-49196-49195-52393-49200-49199-52392-49162-49161-49172-49171-157-156-53-47-49160-49170-10',
    );
    expect(r.tls.ja3.split(',')[2]).toBe('0-23-65281-10-11-16-5-13-18-51-45-43-27');
  });
  test('the Akamai string, and no HEADERS priority', () => {
    expect(r.http2.akamai_fingerprint).toBe('2:0;3:100;4:2097152;9:1|10420225|0|m,s,a,p');
    expect(r.http2.sent_frames.find((f) => f.frame_type === 'HEADERS').priority).toBeFalsy();
  });
  test("pseudo-headers m,s,a,p then Safari's headers (Safari 18 and later: sec-fetch-dest first)", () => {
    expect(names(r.headers).slice(0, 5)).toEqual([
      ':method',
      ':scheme',
      ':authority',
      ':path',
      'sec-fetch-dest',
    ]);
  });
});

// Every preset against the values established for it from its sources (fixture presets.json, which
// names them per preset; native/profiles/profile.cc says what is unverified).
const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'fingerprints', 'presets.json'), 'utf8'),
);
const presetIds = Object.keys(fixture.presets);
const lines = (headers) => headers.map(([n, v]) => `${n}: ${v}`);
const withHost = (want, host) => want.map((l) => l.replace('{host}', host));

describe.each(presetIds)('preset %s equals its sources', (id) => {
  const want = fixture.presets[id];
  let r;
  beforeAll(async () => {
    r = (await client.get(url(), opts({ profile: id }))).data;
  });

  test('JA4, and the full JA3 where the browser keeps its extension order', () => {
    expect(r.tls.ja4).toBe(want.ja4);
    if (want.ja3) expect(r.tls.ja3).toBe(want.ja3);
  });
  test('the Akamai string and the HEADERS priority', () => {
    expect(r.http2.akamai_fingerprint).toBe(want.akamai);
    const headers = r.http2.sent_frames.find((f) => f.frame_type === 'HEADERS');
    if (want.headers_priority) expect(headers.priority).toEqual(want.headers_priority);
    else expect(headers.priority).toBeFalsy();
  });
  test('the header lines after the pseudo-headers: order, names and values', () => {
    expect(lines(r.headers).filter((l) => !l.startsWith(':'))).toEqual(want.headers);
  });
});

test('aliases name the newest preset of each family', () => {
  const { loadAddon } = require('../../dist/native');
  const addon = loadAddon();
  for (const [alias, target] of Object.entries(fixture.aliases)) {
    expect(addon.info.profiles).toContain(alias);
    expect(addon.profileHeaders(alias)).toEqual(addon.profileHeaders(target));
  }
  expect(addon.info.profiles).toEqual(expect.arrayContaining(presetIds));
});

describe("HTTP/1.1: the browser's header lines, in its order and spelling", () => {
  const http = require('node:http');
  let h1echo;
  let plain;
  beforeAll(async () => {
    h1echo = await startEchoServer({ alpn: ['http/1.1'] });
    // Plain http:// (the echo server is TLS-only): answers with the raw header lines it received.
    plain = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.rawHeaders));
    });
    await new Promise((resolve) => plain.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await h1echo.close();
    await new Promise((resolve) => plain.close(resolve));
  });
  const h1url = () => `https://localhost:${h1echo.port}/fp`;
  const plainUrl = () => `http://127.0.0.1:${plain.address().port}/`;
  const pairs = (raw) => raw.reduce((out, v, i) => (i % 2 ? out : [...out, [v, raw[i + 1]]]), []);

  test.each(presetIds)('%s over https when ALPN picks HTTP/1.1 (re-spelled natively)', async (id) => {
    const r = (await client.get(h1url(), opts({ profile: id }))).data;
    expect(r.http_version).toBe('HTTP/1.1');
    expect(lines(r.headers)).toEqual(withHost(fixture.presets[id].http1, `localhost:${h1echo.port}`));
  });

  test.each(presetIds)('%s with forceHTTP1 (merged onto the HTTP/1.1 list up front)', async (id) => {
    const r = (await client.get(url(), opts({ profile: id, forceHTTP1: true }))).data;
    expect(r.http_version).toBe('HTTP/1.1');
    expect(lines(r.headers)).toEqual(withHost(fixture.presets[id].http1, `localhost:${echo.port}`));
  });

  test.each(presetIds)('%s over plain http:// (no br/zstd, no secure-context headers)', async (id) => {
    const raw = (await client.get(plainUrl(), { profile: id })).data;
    expect(lines(pairs(raw))).toEqual(
      withHost(fixture.presets[id].http1_plain, `127.0.0.1:${plain.address().port}`),
    );
  });

  // The caller's headers: a userAgent changes only that value, a header of the caller's keeps its
  // spelling in the preset's place, an extra one follows; the same on both paths.
  const custom = {
    profile: 'chrome_131',
    userAgent: 'ua/1',
    headers: { 'ACCEPT-LANGUAGE': 'de', 'X-Extra': '1' },
  };
  const customLines = (host) => [
    ...withHost(fixture.presets.chrome_131.http1, host).map((l) => {
      if (l.startsWith('User-Agent: ')) return 'User-Agent: ua/1';
      if (l.startsWith('Accept-Language: ')) return 'ACCEPT-LANGUAGE: de';
      return l;
    }),
    'X-Extra: 1',
  ];
  test('caller headers over HTTP/1.1 when ALPN picks it', async () => {
    const r = (await client.get(h1url(), opts(custom))).data;
    expect(lines(r.headers)).toEqual(customLines(`localhost:${h1echo.port}`));
  });
  test('caller headers over HTTP/1.1 with forceHTTP1', async () => {
    const r = (await client.get(url(), opts({ ...custom, forceHTTP1: true }))).data;
    expect(lines(r.headers)).toEqual(customLines(`localhost:${echo.port}`));
  });

  test("orderAsProvided: exactly the caller's headers on HTTP/1.1 too (nothing re-spelled or added)", async () => {
    const exact = {
      profile: 'firefox_153',
      orderAsProvided: true,
      userAgent: 'ua/2',
      headers: { accept: 'x/y', 'x-a': '1' },
    };
    const want = (host) => [`Host: ${host}`, 'accept: x/y', 'x-a: 1', 'User-Agent: ua/2'];
    const viaAlpn = (await client.get(h1url(), opts(exact))).data;
    expect(lines(viaAlpn.headers)).toEqual(want(`localhost:${h1echo.port}`));
    const forced = (await client.get(url(), opts({ ...exact, forceHTTP1: true }))).data;
    expect(lines(forced.headers)).toEqual(want(`localhost:${echo.port}`));
  });

  test("headerOrder is the caller's order on HTTP/1.1 too", async () => {
    const ordered = { profile: 'chrome_131', headerOrder: ['accept-language', 'user-agent'] };
    const r = (await client.get(h1url(), opts(ordered))).data;
    expect(names(r.headers).slice(0, 3)).toEqual(['Host', 'accept-language', 'user-agent']);
  });
});
