'use strict';
// Beyond the first handshake: the encrypted_client_hello GREASE of every preset, and the hellos of
// resumed connections, against the WebSocket captures of Chromium 156 and Firefox ESR 153
// (test/fixtures/fingerprints/resumed.json, from shared/fingerprints/websocket). The client is the
// engine itself, so that one engine (one TLS session cache) makes the fresh and the resumed
// connection; the shipped echo server (HTTP/1.1 only, Connection: close) is the observer and issues
// TLS 1.3 tickets, as the capture's Node server did.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { startEchoServer } = require('../../dist/echo');
const { loadAddon } = require('../../dist/native');
const { parseClientHello, summarizeClientHello } = require('../../dist/echo/clienthello');
const { computeJa } = require('../../dist/echo/ja');
const { unfold } = require('../helpers/events');

const fixtureDir = path.join(__dirname, '..', 'fixtures', 'fingerprints');
const captures = JSON.parse(fs.readFileSync(path.join(fixtureDir, 'resumed.json'), 'utf8')).records;
const capture = (tag) => captures.find((r) => r.tag === tag);
const navigation = fs
  .readFileSync(path.join(fixtureDir, 'requests.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
const presets = JSON.parse(fs.readFileSync(path.join(fixtureDir, 'presets.json'), 'utf8')).presets;

const GREASE = (id) => (id & 0x0f0f) === 0x0a0a && id >> 8 === (id & 0xff);
const PSK = 41;

/** The capture's ClientHello the way the echo server reports one. */
function describeCapture(tag) {
  const hello = parseClientHello(Buffer.from(capture(tag).client_hello_hex, 'hex'));
  return { ...computeJa(hello), ...summarizeClientHello(hello) };
}

/** Extension ids in wire order, each GREASE value written as 'G'. */
const order = (tls) => tls.extension_ids.map((id) => (GREASE(id) ? 'G' : id));
const length = (tls, id) => tls.extension_lengths[tls.extension_ids.indexOf(id)];

/**
 * NSS's GREASE ECH payload length for a hello (tls13_MaybeGreaseEch, NSS before Firefox 155), modelled
 * here from the hello's own bytes and independently of the engine: the EncodedClientHelloInner NSS
 * would encrypt — version, random and empty session id, the cipher suites and compression methods,
 * the extensions' length, the inner ECH (5), supported_versions (TLS 1.3 only: 7), server_name and
 * pre_shared_key copied whole, ech_outer_extensions naming every other extension but those NSS
 * leaves out of a TLS 1.3 inner hello (11, 23, 35, 65281) — the name padded to 100 bytes, rounded up
 * to 31 modulo 32, plus the 16-byte AEAD tag.
 */
function nssPayloadLength(tls, pskLength = undefined) {
  let inner = 2 + 32 + 1 + (2 + 2 * tls.ciphers.length) + (1 + tls.compression_methods.length) + 2 + 5 + 7;
  let compressed = 0;
  tls.extension_ids.forEach((id, i) => {
    if (id === 0) inner += 4 + tls.extension_lengths[i];
    else if (id === PSK) inner += 4 + (pskLength ?? tls.extension_lengths[i]);
    else if (![11, 23, 35, 65281, 43, 65037].includes(id)) compressed += 1;
  });
  inner += 4 + 1 + 2 * compressed;
  inner += Math.max(0, 100 - (tls.sni ? tls.sni.length : 0));
  inner += (31 + 32 - (inner % 32)) % 32;
  return inner + 16;
}

/** JA4's third part from a JA4_r string (sorted extensions without SNI/ALPN, then the sigalgs). */
const ja4c = (ja4r) => {
  const [, , exts, sigalgs] = ja4r.split('_');
  return crypto.createHash('sha256').update(`${exts}_${sigalgs}`).digest('hex').slice(0, 12);
};

let echo;
const engines = [];
beforeAll(async () => {
  echo = await startEchoServer({ alpn: ['http/1.1'] });
});
afterAll(async () => {
  await Promise.all(engines.map((e) => new Promise((resolve) => e.close(resolve))));
  await echo.close();
});

/**
 * An engine of our own; `sessions: false` keeps no TLS sessions, so each connection is fresh. get()
 * sends one request on a new connection (Connection: close) and returns what the echo server saw.
 */
function newEngine({ sessions = true } = {}) {
  const { NativeEngine } = loadAddon();
  const waiting = new Map();
  const engine = new NativeEngine(
    (batch) => {
      for (const e of unfold(batch)) {
        const w = waiting.get(e.id);
        if (!w) continue;
        if (e.type === 1) w.chunks.push(e.data);
        if (e.type === 2) {
          waiting.delete(e.id);
          w.resolve(JSON.parse(Buffer.concat(w.chunks).toString('utf8')));
        }
        if (e.type === 3) {
          waiting.delete(e.id);
          w.reject(Object.assign(new Error(e.message), { code: e.code }));
        }
      }
    },
    sessions ? {} : { maxTlsSessions: 0 },
  );
  engines.push(engine);
  let next = 1;
  return {
    get(profile, extra = {}) {
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { chunks: [], resolve, reject });
        engine.request(id, {
          method: 'GET',
          tls: true,
          host: 'localhost',
          port: echo.port,
          target: `/${profile}`,
          headers: ['Connection', 'close'],
          insecureSkipVerify: true,
          forceHttp1: false,
          wholeBody: true,
          decompress: false,
          timeoutMs: 10_000,
          profile,
          ...extra,
        });
      });
    },
  };
}

describe('encrypted_client_hello GREASE, per preset, on fresh connections', () => {
  const ids = Object.keys(presets);
  const chromium = ids.filter((id) => /^(chrome|edge)_/.test(id));
  const firefox = ids.filter((id) => id.startsWith('firefox_'));
  const safari = ids.filter((id) => id.startsWith('safari_'));

  test.each(chromium)("%s: BoringSSL's (Chrome's) sizes, drawn per connection", async (id) => {
    const client = newEngine({ sessions: false });
    const lengths = new Set();
    for (let i = 0; i < 12; i++) {
      // four sizes: 12 draws alike are 1 in 4 million
      const { tls } = await client.get(id);
      expect(tls.resumption).toBe(false);
      expect([186, 218, 250, 282]).toContain(tls.ech_length);
      expect(tls.ech).toMatchObject({
        kdf_id: 1,
        aead_id: 1,
        enc_length: 32,
        payload_length: tls.ech_length - 42,
      });
      lengths.add(tls.ech_length);
    }
    expect(lengths.size).toBeGreaterThan(1);
  });

  test.each(firefox)("%s: NSS's size, the same on every fresh connection", async (id) => {
    const client = newEngine({ sessions: false });
    const aeads = new Set();
    for (let i = 0; i < 16; i++) {
      const { tls } = await client.get(id);
      expect(tls.resumption).toBe(false);
      expect(tls.ech).toMatchObject({ kdf_id: 1, enc_length: 32, payload_length: nssPayloadLength(tls) });
      expect([1, 3]).toContain(tls.ech.aead_id);
      aeads.add(tls.ech.aead_id);
      if (id === 'firefox_153') expect(tls.ech_length).toBe(281);
    }
    // NSS draws AES-128-GCM or ChaCha20-Poly1305 on one random bit: 16 draws alike are 1 in 32768.
    expect(aeads.size).toBe(2);
  });

  test('firefox_153 equals the capture: 281 bytes, HKDF-SHA256, a 32-byte enc, a 239-byte payload', async () => {
    const g = describeCapture('firefox-1-1');
    expect(g.ech).toMatchObject({ length: 281, kdf_id: 1, enc_length: 32, payload_length: 239 });
    expect(nssPayloadLength(g)).toBe(239);
    const { tls } = await newEngine({ sessions: false }).get('firefox_153');
    expect(tls.ech).toMatchObject({ length: 281, kdf_id: 1, enc_length: 32, payload_length: 239 });
  });

  test.each(safari)('%s: no encrypted_client_hello (Safari sends none)', async (id) => {
    const { tls } = await newEngine({ sessions: false }).get(id);
    expect(tls.ech_length).toBeNull();
    expect(tls.ech).toBeNull();
  });
});

describe("resumed hellos equal the browsers'", () => {
  /** A fresh connection and then a resumed one of the same engine. */
  async function pair(profile, extra = {}) {
    const client = newEngine();
    const fresh = (await client.get(profile, extra)).tls;
    const resumed = (await client.get(profile, extra)).tls;
    return { fresh, resumed };
  }
  const checkPsk = (tls) => {
    expect(tls.resumption).toBe(true);
    expect(tls.negotiated.resumed).toBe(true);
    expect(tls.early_data).toBe(false); // no 0-RTT over TCP
    expect(tls.psk_key_exchange_modes).toEqual([1]); // psk_dhe_ke
    expect(tls.pre_shared_key.identities).toHaveLength(1);
    expect(tls.pre_shared_key.identities[0].identity_length).toBeGreaterThan(0);
    expect(typeof tls.pre_shared_key.identities[0].obfuscated_ticket_age).toBe('number');
    // The binder is as long as the hash of the resumed session's suite (the server's choice).
    expect(tls.pre_shared_key.binder_lengths).toEqual([/SHA384$/.test(tls.negotiated.cipher) ? 48 : 32]);
    expect(tls.extension_ids[tls.extension_ids.length - 1]).toBe(PSK);
  };

  test('the captures themselves: what the rules below are read from', () => {
    for (const tag of [
      'chromium-1-2',
      'chromium-same-1',
      'firefox-1-2',
      'firefox-localhost-2',
      'firefox-h2nocp-1',
    ]) {
      const g = describeCapture(tag);
      expect(g.ja4).toBe(capture(tag).ja4);
      expect(g.ja3n_hash).toBe(capture(tag).ja3n_hash);
      expect(g.resumption).toBe(true);
      expect(g.early_data).toBe(false);
      expect(g.psk_key_exchange_modes).toEqual([1]);
      expect(g.pre_shared_key.identities.map((i) => i.identity_length)).toEqual([240]);
      expect(g.pre_shared_key.binder_lengths).toEqual([48]);
    }
    expect(describeCapture('firefox-1-2').ech_length).toBe(601);
    expect(describeCapture('firefox-h2nocp-1').ech_length).toBe(601);
    expect(nssPayloadLength(describeCapture('firefox-1-2'))).toBe(559);
    expect(nssPayloadLength(describeCapture('firefox-h2nocp-1'))).toBe(559);
  });

  test('firefox_153: session_ticket dropped, pre_shared_key added, 601-byte ECH GREASE', async () => {
    const g = describeCapture('firefox-1-2');
    const { fresh, resumed } = await pair('firefox_153');
    expect(fresh.resumption).toBe(false);
    expect(fresh.ja4).toBe(capture('firefox-1-1').ja4);
    checkPsk(resumed);
    expect(resumed.ja4).toBe('t13d1617h2_86a278354501_e6dcd7ae0a9e');
    expect(resumed.ja4).toBe(g.ja4);
    expect(resumed.ja3n_hash).toBe('c312d66254ef4d76d1395d74ba07816d');
    expect(resumed.ja3).toBe(g.ja3); // NSS keeps its order: the full JA3 too
    expect(order(resumed)).toEqual(order(g));
    expect(resumed.ech.payload_length).toBe(nssPayloadLength(resumed));
    // NSS's size follows the pre_shared_key (the server's ticket and suite): with the capture's
    // (a 240-byte ticket, a SHA-384 binder: 303 bytes) this hello's size is the capture's 601.
    expect(length(g, PSK)).toBe(299);
    expect(nssPayloadLength(resumed, length(g, PSK)) + 42).toBe(601);
  });

  test('chrome_156 navigation: the fresh hello plus pre_shared_key last, session_ticket kept', async () => {
    const nav = navigation.find((r) => r.path === '/chromium-headed' || r.path === '/chromium-1');
    const { fresh, resumed } = await pair('chrome_156');
    expect(fresh.ja4).toBe(nav.tls.ja4);
    checkPsk(resumed);
    expect(resumed.extension_ids).toContain(35);
    const real = (ids) => ids.filter((id) => !GREASE(id)).sort((x, y) => x - y);
    expect(real(resumed.extension_ids)).toEqual(real([...fresh.extension_ids, PSK]));
    expect(order(resumed)[0]).toBe('G');
    expect(order(resumed).slice(-2)).toEqual(['G', PSK]); // as in every Chromium capture
    // JA4 of Chromium's navigation hello with 0029 added (its resumed WebSocket hello shows the rule).
    const [a, ciphers, exts, sigalgs] = nav.tls.ja4_r.split('_');
    const withPsk = [...exts.split(','), '0029'].sort().join(',');
    expect(resumed.ja4_r).toBe([a.replace('1517', '1518'), ciphers, withPsk, sigalgs].join('_'));
    expect(resumed.ja4).toBe(`t13d1518h2_8daaf6152771_${ja4c(resumed.ja4_r)}`);
    expect([186, 218, 250, 282]).toContain(resumed.ech_length);
  });

  test('chrome_156 WebSocket (http/1.1 only, no ALPS): t13d1517h1_8daaf6152771_c4a234726a38', async () => {
    const g = describeCapture('chromium-1-2');
    const { fresh, resumed } = await pair('chrome_156', { forceHttp1: true });
    expect(fresh.ja4).toBe(capture('chromium-1-1').ja4);
    checkPsk(resumed);
    expect(resumed.ja4).toBe('t13d1517h1_8daaf6152771_c4a234726a38');
    expect(resumed.ja4).toBe(g.ja4);
    expect(resumed.ja3n_hash).toBe('7ba7e6930b132dd5369fb20afdd372da');
    expect(resumed.ja3n_hash).toBe(g.ja3n_hash);
    expect(order(resumed).slice(-2)).toEqual(['G', PSK]);
    expect(resumed.alpn).toEqual(['http/1.1']);
    expect(resumed.alps).toBeNull();
  });

  test("firefox_153 WebSocket reconnect (http1RetryHello): resumes the h2 connection's session, no 0023, no 001b", async () => {
    const g = describeCapture('firefox-h2nocp-1');
    const client = newEngine();
    const first = (await client.get('firefox_153')).tls; // offers h2, as Firefox's WebSocket does
    expect(first.alpn).toEqual(['h2', 'http/1.1']);
    const retry = (await client.get('firefox_153', { http1RetryHello: true })).tls;
    checkPsk(retry);
    expect(retry.ja4).toBe('t13d1616h1_86a278354501_e6d2851837fd');
    expect(retry.ja4).toBe(g.ja4);
    expect(retry.ja3n_hash).toBe(g.ja3n_hash);
    expect(retry.ja3).toBe(g.ja3);
    expect(order(retry)).toEqual(order(g));
    expect(retry.alpn).toEqual(['http/1.1']);
    expect(retry.cert_compression).toEqual([]);
    expect(retry.ech.payload_length).toBe(nssPayloadLength(retry));
    expect(nssPayloadLength(retry, length(g, PSK)) + 42).toBe(601);
  });

  test('chrome_156 ignores http1RetryHello beyond http/1.1 only (Chrome never reconnects that way)', async () => {
    const client = newEngine({ sessions: false });
    const forced = (await client.get('chrome_156', { forceHttp1: true })).tls;
    const retry = (await client.get('chrome_156', { http1RetryHello: true })).tls;
    expect(retry.ja4).toBe(forced.ja4);
    expect(retry.cert_compression).toEqual(forced.cert_compression);
  });
});
