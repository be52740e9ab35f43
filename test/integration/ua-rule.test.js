'use strict';
// cycletls's user-agent rule, seen by the echo server: with `ja3` or `ja4r` and no `profile` (and no
// `http2Fingerprint`), a Firefox user agent gets the newest Firefox preset's HTTP/2 first flight and
// headers and no added GREASE; Chrome's and every other user agent get the newest Chrome preset's,
// with GREASE in the hello even when the JA3 lists none. The JA3 the server sees is the one given.
const crypto = require('node:crypto');
const initCycleTLS = require('../..');
const { startEchoServer } = require('../../dist/echo');
const { uniquePort } = require('../helpers/servers');

const FIREFOX_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0';
const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
// Chrome 120's JA3 (no GREASE listed, as JA3 strings usually are).
const JA3 =
  '771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,0-23-65281-10-11-35-16-5-13-18-51-45-43-27-17513,29-23-24,0';
const JA4R =
  't13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601';

let echo;
const clients = [];
const presets = {};
beforeAll(async () => {
  echo = await startEchoServer();
  for (const id of ['firefox_153', 'chrome_156']) presets[id] = await get({ profile: id });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.exit()));
  await echo.close();
});

/** One request on a fresh engine (a new connection, so a new ClientHello); the echo's record. */
async function get(options) {
  const c = await initCycleTLS({ port: uniquePort() });
  clients.push(c);
  const r = await c.get(`https://localhost:${echo.port}/ua`, { insecureSkipVerify: true, ...options });
  expect(r.status).toBe(200);
  return r.data;
}

const pseudo = (r) => r.headers.filter(([n]) => n.startsWith(':')).map(([n]) => n);
const regular = (r) => r.headers.filter(([n]) => !n.startsWith(':')).map(([n]) => n);
const headersFrame = (r) => r.http2.sent_frames.find((f) => f.frame_type === 'HEADERS');
const greased = (r) =>
  r.tls.ciphers.some((c) => /GREASE/.test(c)) || r.tls.extensions.some((e) => /GREASE/.test(e));
const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');

/** The HTTP/2 first flight and header order of `r` equal those of preset `id`. */
function expectFirstFlightOf(r, id) {
  const want = presets[id];
  expect(r.http2.akamai_fingerprint).toBe(want.http2.akamai_fingerprint);
  expect(pseudo(r)).toEqual(pseudo(want));
  expect(headersFrame(r).priority).toEqual(headersFrame(want).priority);
  expect(headersFrame(r).stream_id).toBe(headersFrame(want).stream_id);
  expect(regular(r)).toEqual(regular(want));
}

test('the presets compared against differ where the rule matters', () => {
  expect(presets.firefox_153.http2.akamai_fingerprint).not.toBe(presets.chrome_156.http2.akamai_fingerprint);
  expect(pseudo(presets.firefox_153)).toEqual([':method', ':path', ':authority', ':scheme']);
});

test("ja3 + a Firefox user agent: Firefox's HTTP/2 first flight and headers, no GREASE, the JA3 as given", async () => {
  const r = await get({ ja3: JA3, userAgent: FIREFOX_UA });
  expectFirstFlightOf(r, 'firefox_153');
  expect(greased(r)).toBe(false);
  expect(r.tls.ja3).toBe(JA3);
  expect(r.tls.ja3_hash).toBe(md5(JA3));
  expect(r.user_agent).toBe(FIREFOX_UA);
});

test("ja3 + a Chrome user agent: Chrome's first flight, GREASE added, the JA3 (and its hash) as given", async () => {
  const r = await get({ ja3: JA3, userAgent: CHROME_UA });
  expectFirstFlightOf(r, 'chrome_156');
  expect(greased(r)).toBe(true);
  expect(r.tls.extension_ids[0] & 0x0f0f).toBe(0x0a0a); // first, where Chrome sends it
  expect(r.tls.ja3).toBe(JA3);
  expect(r.tls.ja3_hash).toBe(md5(JA3));
});

test("ja3 and no user agent: the default (Chrome) user agent, so Chrome's rule; disableGrease still removes GREASE", async () => {
  const r = await get({ ja3: JA3 });
  expect(r.http2.akamai_fingerprint).toBe(presets.chrome_156.http2.akamai_fingerprint);
  expect(greased(r)).toBe(true);
  const plain = await get({ ja3: JA3, disableGrease: true });
  expect(greased(plain)).toBe(false);
  expect(plain.tls.ja3).toBe(JA3);
});

test('a Firefox User-Agent header counts as the option does', async () => {
  const r = await get({ ja3: JA3, headers: { 'User-Agent': FIREFOX_UA } });
  expect(r.http2.akamai_fingerprint).toBe(presets.firefox_153.http2.akamai_fingerprint);
  expect(greased(r)).toBe(false);
});

test('an explicit profile wins over the user agent', async () => {
  const chrome = await get({ ja3: JA3, userAgent: FIREFOX_UA, profile: 'chrome_156' });
  expect(chrome.http2.akamai_fingerprint).toBe(presets.chrome_156.http2.akamai_fingerprint);
  expect(greased(chrome)).toBe(false); // the JA3 lists none, and no rule adds any
  const firefox = await get({ ja3: JA3, userAgent: CHROME_UA, profile: 'firefox_153' });
  expect(firefox.http2.akamai_fingerprint).toBe(presets.firefox_153.http2.akamai_fingerprint);
});

test('an http2Fingerprint wins over the user agent', async () => {
  const h2 = '1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p';
  const r = await get({ ja3: JA3, userAgent: FIREFOX_UA, http2Fingerprint: h2 });
  expect(r.http2.akamai_fingerprint).toBe(h2);
  expect(greased(r)).toBe(false);
  expect(r.tls.ja3).toBe(JA3);
});

test("ja4r + a user agent: Firefox's or Chrome's first flight; the JA4_r as given", async () => {
  const firefox = await get({ ja4r: JA4R, userAgent: FIREFOX_UA });
  expectFirstFlightOf(firefox, 'firefox_153');
  expect(greased(firefox)).toBe(false);
  expect(firefox.tls.ja4_r).toBe(JA4R);
  const chrome = await get({ ja4r: JA4R, userAgent: CHROME_UA });
  expectFirstFlightOf(chrome, 'chrome_156');
  expect(chrome.tls.ja4_r).toBe(JA4R);
});
