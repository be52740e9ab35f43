'use strict';
// The golden captures (test/fixtures/fingerprints/requests.jsonl: real Chromium, Firefox, curl and Node ClientHellos) are
// the oracle: for every record, our parser and JA3/JA3N/JA4 code must reproduce what was stored.
const {
  parseClientHello,
  scanClientHello,
  summarizeClientHello,
  ClientHelloError,
} = require('../../dist/echo/clienthello');
const { computeJa, ja4Alpn } = require('../../dist/echo/ja');
const { loadGolden, labelOf, refragment, buildClientHello, ext } = require('./helpers');

const golden = loadGolden().filter((r) => r.client_hello_hex);
const JA_FIELDS = ['ja3', 'ja3_hash', 'ja3n', 'ja3n_hash', 'ja4', 'ja4_r', 'ja4_o', 'ja4_ro'];
// Parsed fields stored with each capture that our summary also produces.
const SUMMARY_FIELDS = [
  'record_version',
  'client_hello_version',
  'supported_versions',
  'client_hello_length',
  'client_hello_records',
  'session_id_length',
  'ciphers',
  'extensions',
  'extension_ids',
  'extension_lengths',
  'small_unparsed_extension_data',
  'curves',
  'key_share',
  'ec_point_formats',
  'signature_algorithms',
  'alpn',
  'sni',
  'psk_key_exchange_modes',
  'cert_compression',
  'alps',
  'record_size_limit',
  'delegated_credentials',
  'ech_length',
  'padding_length',
  'parse_errors',
];

test('the golden file has the captures this suite relies on', () => {
  expect(golden.length).toBeGreaterThanOrEqual(25);
  const paths = new Set(golden.map((r) => r.path));
  for (const p of [
    '/chromium-1',
    '/firefox-1',
    '/curl-default',
    '/node-https',
    '/node-http2',
    '/chromium-ip-literal',
  ])
    expect(paths).toContain(p);
});

describe.each(golden.map((r) => [labelOf(r), r]))('golden %s', (_label, rec) => {
  const hello = parseClientHello(Buffer.from(rec.client_hello_hex, 'hex'));

  test('JA3, JA3N, JA4, JA4_r, JA4_o, JA4_ro equal the stored values', () => {
    const ja = computeJa(hello);
    const stored = Object.fromEntries(JA_FIELDS.map((k) => [k, rec.tls[k]]));
    expect(ja).toEqual(stored);
    // top-level copies in the record agree too
    expect(ja.ja3_hash).toBe(rec.ja3_hash);
    expect(ja.ja4).toBe(rec.ja4);
  });

  test('the parsed ClientHello matches the stored fields', () => {
    const summary = summarizeClientHello(hello);
    for (const k of SUMMARY_FIELDS)
      expect({ field: k, value: summary[k] }).toEqual({ field: k, value: rec.tls[k] });
  });

  test('structured fields are consistent with the raw extension list', () => {
    expect(hello.raw.toString('hex')).toBe(rec.client_hello_hex);
    expect(hello.legacyVersion).toBe(771);
    expect(hello.sessionId.length).toBe(32);
    const ids = hello.extensions.map((e) => e.id);
    expect(ids).toEqual(rec.tls.extension_ids);
    expect(hello.extensions.filter((e) => e.grease).every((e) => (e.id & 0x0f0f) === 0x0a0a)).toBe(true);
    expect(hello.ciphers.filter((c) => c.grease).length).toBe(
      rec.tls.ciphers.filter((c) => c.startsWith('GREASE')).length,
    );
    expect(hello.trustAnchorsLength).toBe(
      ids.includes(0xca34) ? rec.tls.extension_lengths[ids.indexOf(0xca34)] : null,
    );
    expect(hello.sessionTicketLength).toBe(ids.includes(35) ? 0 : null);
  });

  test('the same bytes cut into many records parse to the same fingerprints', () => {
    const raw = Buffer.from(rec.client_hello_hex, 'hex');
    for (const size of [1, 7, 100, 512]) {
      const cut = refragment(raw, size);
      const h = parseClientHello(cut);
      expect(h.recordCount).toBe(Math.ceil(hello.length / size));
      expect(computeJa(h)).toEqual(computeJa(hello));
      expect(scanClientHello(cut)).toEqual({
        status: 'complete',
        length: cut.length,
        records: h.recordCount,
      });
    }
  });

  test('scanClientHello says incomplete for every proper prefix and complete at the end', () => {
    const raw = Buffer.from(rec.client_hello_hex, 'hex');
    for (let i = 0; i < raw.length; i++) {
      const s = scanClientHello(raw.subarray(0, i));
      if (s.status !== 'incomplete') throw new Error(`prefix ${i}: ${JSON.stringify(s)}`);
    }
    expect(scanClientHello(raw)).toEqual({ status: 'complete', length: raw.length, records: 1 });
    // trailing bytes (the client's next flight) are not part of the hello
    expect(scanClientHello(Buffer.concat([raw, Buffer.from([0x14, 3, 3, 0, 1, 1])]))).toEqual({
      status: 'complete',
      length: raw.length,
      records: 1,
    });
  });
});

describe('stated facts of the captures (fingerprints/README.md)', () => {
  const byPath = (p) => golden.find((r) => r.path === p);
  test('Chromium: JA4 and JA3N are stable across connections, JA3 is not', () => {
    const chromium = golden.filter((r) =>
      computeJa(parseClientHello(Buffer.from(r.client_hello_hex, 'hex'))).ja4.startsWith('t13d1517h2'),
    );
    expect(chromium.length).toBeGreaterThanOrEqual(8);
    const jas = chromium.map((r) => computeJa(parseClientHello(Buffer.from(r.client_hello_hex, 'hex'))));
    expect(new Set(jas.map((j) => j.ja4))).toEqual(new Set(['t13d1517h2_8daaf6152771_cb7bf5808d99']));
    expect(new Set(jas.map((j) => j.ja3n_hash))).toEqual(new Set(['bd4930bd9b000ee684830e44bab76fdf']));
    expect(new Set(jas.map((j) => j.ja3_hash)).size).toBeGreaterThan(4);
  });
  test('Chromium on an IP literal sends no SNI: JA4 "i", one extension fewer', () => {
    const ja = computeJa(
      parseClientHello(Buffer.from(byPath('/chromium-ip-literal').client_hello_hex, 'hex')),
    );
    expect(ja.ja4).toBe('t13i1516h2_8daaf6152771_cb7bf5808d99');
    expect(ja.ja3n_hash).toBe('3a1fa25737348931cccd305b3d0dfdc6');
  });
  test('Node https.get offers no ALPN ("00"), http2.connect offers h2', () => {
    expect(computeJa(parseClientHello(Buffer.from(byPath('/node-https').client_hello_hex, 'hex'))).ja4).toBe(
      't13d591000_a33745022dd6_1f22a2ca17c4',
    );
    expect(computeJa(parseClientHello(Buffer.from(byPath('/node-http2').client_hello_hex, 'hex'))).ja4).toBe(
      't13d5911h2_a33745022dd6_1f22a2ca17c4',
    );
  });
  test('Chromium: GREASE, ALPS h2 under 17613, trust anchors 186 bytes, ECH GREASE, ML-KEM key share', () => {
    const h = parseClientHello(Buffer.from(byPath('/chromium-1').client_hello_hex, 'hex'));
    expect(h.ciphers[0].grease).toBe(true);
    expect(h.extensions[0].grease && h.extensions[h.extensions.length - 1].grease).toBe(true);
    expect(h.alps).toEqual({ codepoint: 17613, protocols: ['h2'] });
    expect(h.trustAnchorsLength).toBe(186);
    expect([186, 218, 250, 282]).toContain(h.echLength);
    expect(h.keyShares.map((k) => [k.group, k.length]).slice(1)).toEqual([
      [4588, 1216],
      [29, 32],
    ]);
    expect(h.paddingLength).toBeNull();
  });
  test('Firefox: record_size_limit 16385, delegated credentials, three key shares, no GREASE', () => {
    const h = parseClientHello(Buffer.from(byPath('/firefox-1').client_hello_hex, 'hex'));
    expect(h.recordSizeLimit).toBe(16385);
    expect(h.delegatedCredentials).toEqual([0x0403, 0x0503, 0x0603, 0x0203]);
    expect(h.keyShares.map((k) => k.length)).toEqual([1216, 32, 65]);
    expect(h.certCompression).toEqual([1, 2, 3]);
    expect(h.length).toBe(1885);
    expect(h.ciphers.some((c) => c.grease) || h.extensions.some((e) => e.grease)).toBe(false);
  });
  test('curl: padding extension pads the ClientHello to 512 bytes', () => {
    const h = parseClientHello(Buffer.from(byPath('/curl-default').client_hello_hex, 'hex'));
    expect(h.length).toBe(512);
    expect(h.paddingLength).toBe(182);
    expect(h.supportedVersions).toEqual([0x0304, 0x0303, 0x0302, 0x0301]);
  });
});

describe('JA4 edge cases from the FoxIO specification', () => {
  const base = (extensions, opts = {}) =>
    parseClientHello(buildClientHello({ ciphers: [0x1301, 0x1302], extensions, ...opts }));
  test.each([
    [['h2'], 'h2'],
    [['http/1.1'], 'h1'],
    [['h'], 'hh'],
    [[''], '00'],
    [[], '00'],
    [[Buffer.from([0xab])], 'ab'],
    [[Buffer.from([0xab, 0xcd])], 'ad'],
    [[Buffer.from([0x30, 0xab])], '3b'],
    [[Buffer.from([0x30, 0x31, 0xab, 0xcd])], '3d'],
    [[Buffer.from([0x30, 0xab, 0xcd, 0x31])], '01'],
  ])('ALPN %j → %s', (protocols, expected) => {
    expect(ja4Alpn(base([ext.alpn(protocols)]))).toBe(expected);
  });
  test('no ALPN extension → 00; TLS version from legacy_version without supported_versions', () => {
    const ja = computeJa(base([ext.sni('a.test'), ext.sigalgs([0x0403])], { legacyVersion: 0x0303 }));
    expect(ja.ja4.startsWith('t12d020200_')).toBe(true);
  });
  test('highest non-GREASE supported version wins; unknown versions give 00', () => {
    expect(computeJa(base([ext.supportedVersions([0x1a1a, 0x0303, 0x0304])])).ja4.slice(0, 3)).toBe('t13');
    expect(computeJa(base([ext.supportedVersions([0x7f1c])])).ja4.slice(0, 3)).toBe('t00');
    expect(computeJa(base([], { legacyVersion: 0x0301 })).ja4.slice(0, 3)).toBe('t10');
    expect(computeJa(base([], { legacyVersion: 0x0300 })).ja4.slice(0, 3)).toBe('ts3');
  });
  test('no signature algorithms: no trailing underscore; no extensions: 000000000000', () => {
    const withExt = computeJa(base([ext.raw(23)]));
    expect(withExt.ja4_r).toBe('t12i020100_1301,1302_0017');
    const none = computeJa(base([]));
    expect(none.ja4).toBe('t12i020000_62ed6f6ca7ad_000000000000');
    expect(none.ja4_r).toBe('t12i020000_1301,1302_');
    const noCiphers = computeJa(
      parseClientHello(buildClientHello({ ciphers: [], extensions: [ext.raw(23)] })),
    );
    expect(noCiphers.ja4.split('_')[1]).toBe('000000000000');
  });
  test('SNI and ALPN are counted but left out of the sorted extension hash; JA4_o keeps them in wire order', () => {
    const h = base([ext.alpn(['h2']), ext.raw(23), ext.sni('x.test'), ext.sigalgs([0x0804, 0x0403])]);
    const ja = computeJa(h);
    expect(ja.ja4_r).toBe('t12d0204h2_1301,1302_000d,0017_0804,0403');
    expect(ja.ja4_ro).toBe('t12d0204h2_1301,1302_0010,0017,0000,000d_0804,0403');
  });
  test('counts are capped at 99 and GREASE is ignored everywhere', () => {
    const ciphers = Array.from({ length: 120 }, (_, i) => 0x0100 + i).concat([0x0a0a]);
    const ja = computeJa(
      parseClientHello(
        buildClientHello({
          ciphers,
          extensions: [ext.raw(0x1a1a), ext.groups([0x2a2a, 29]), ext.sigalgs([0x3a3a, 0x0403])],
        }),
      ),
    );
    expect(ja.ja4.slice(0, 10)).toBe('t12i990200');
    expect(ja.ja3.split(',')[2]).toBe('10-13');
    expect(ja.ja3.split(',')[3]).toBe('29');
    expect(ja.ja4_r.endsWith('_000a,000d_0403')).toBe(true);
  });
});

describe('malformed input', () => {
  const good = buildClientHello({ extensions: [ext.sni('a.test')] });
  test.each([
    ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\n\r\n'), 'ERR_NOT_TLS'],
    ['an alert record', Buffer.from([21, 3, 3, 0, 2, 2, 40]), 'ERR_NOT_TLS'],
    ['a ServerHello', Buffer.from([22, 3, 3, 0, 4, 2, 0, 0, 0]), 'ERR_NOT_TLS'],
    ['SSLv2-style record version', Buffer.from([22, 2, 0, 0, 4, 1, 0, 0, 0]), 'ERR_NOT_TLS'],
    ['a truncated hello', good.subarray(0, good.length - 3), 'ERR_INCOMPLETE'],
    ['an empty buffer', Buffer.alloc(0), 'ERR_INCOMPLETE'],
  ])('%s → ClientHelloError %s', (_name, bytes, code) => {
    let err;
    try {
      parseClientHello(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ClientHelloError);
    expect(err.code).toBe(code);
  });
  test('a corrupt vector length inside the hello is ERR_MALFORMED', () => {
    const bad = Buffer.from(good);
    bad[5 + 4 + 2 + 32] = 200; // session_id length longer than the message
    expect(() => parseClientHello(bad)).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED' }));
  });
  test('a malformed extension body is reported in parse_errors, the rest still parses', () => {
    const h = parseClientHello(
      buildClientHello({ extensions: [ext.raw(10, [0, 5, 0]), ext.sni('ok.test')] }),
    );
    expect(h.sni).toBe('ok.test');
    expect(h.parseErrors.length).toBe(1);
    expect(h.parseErrors[0]).toMatch(/^supported_groups \(10\)/);
    expect(computeJa(h).ja3).toBe('771,4865,10-0,,');
  });
  test('scanClientHello rejects records that are too large, and hellos over the size limit', () => {
    expect(scanClientHello(Buffer.from([22, 3, 1, 0xff, 0xff]))).toMatchObject({
      status: 'invalid',
      code: 'ERR_MALFORMED',
    });
    expect(scanClientHello(Buffer.from([22, 3, 1, 0, 4, 1, 0x10, 0, 0]), 4096)).toMatchObject({
      status: 'invalid',
      code: 'ERR_TOO_LARGE',
    });
  });
  test('a bare handshake message (no record header) parses too', () => {
    const h = parseClientHello(good.subarray(5));
    expect(h.recordVersion).toBeNull();
    expect(h.recordCount).toBe(0);
    expect(h.sni).toBe('a.test');
  });
});
