'use strict';
// Cross-check against an independent implementation: the npm package read-tls-client-hello (devDependency). It reads
// single-record ClientHellos and computes JA3 (md5) and JA4. Where it departs from the FoxIO JA4 specification, the
// last block pins the difference, so a change on either side is noticed.
const { PassThrough } = require('node:stream');
const lib = require('read-tls-client-hello');

const { parseClientHello } = require('../../dist/echo/clienthello');
const { computeJa } = require('../../dist/echo/ja');
const { loadGolden, labelOf, buildClientHello, ext } = require('./helpers');

/** The library reads from a stream and puts the bytes back; give it a stream that stays open. */
async function libParse(bytes) {
  const stream = new PassThrough();
  stream.write(bytes);
  try {
    return await lib.readTlsClientHello(stream);
  } finally {
    stream.destroy();
  }
}

function compareParsed(ours, theirs) {
  expect(ours.legacyVersion).toBe(theirs.version);
  expect(ours.random.equals(theirs.random)).toBe(true);
  expect(ours.sessionId.equals(theirs.sessionId)).toBe(true);
  expect(ours.ciphers.map((c) => c.id)).toEqual(theirs.cipherSuites);
  expect(ours.compressionMethods).toEqual(theirs.compressionMethods);
  expect(ours.extensions.map((e) => e.id)).toEqual(theirs.extensions.map((e) => e.id));
  const data = (id) => lib.getExtensionData(theirs, id);
  const has = (id) => ours.extensions.some((e) => e.id === id);
  if (has(0)) expect(ours.sni).toBe(data(0).serverName);
  if (has(16)) expect(ours.alpn).toEqual(data(16).protocols);
  if (has(10)) expect(ours.groups).toEqual(data(10).groups);
  if (has(11)) expect(ours.pointFormats).toEqual(data(11).formats);
  if (has(13)) expect(ours.signatureAlgorithms).toEqual(data(13).algorithms);
  if (has(43)) expect(ours.supportedVersions).toEqual(data(43).versions);
  if (has(45)) expect(ours.pskModes).toEqual(data(45).modes);
  if (has(51))
    expect(ours.keyShares.map((k) => [k.group, k.length])).toEqual(
      data(51).entries.map((e) => [e.group, e.keyExchangeLength]),
    );
  if (has(27)) expect(ours.certCompression).toEqual(data(27).algorithms);
  if (has(28)) expect(ours.recordSizeLimit).toBe(data(28).recordSizeLimit);
  if (has(21)) expect(ours.paddingLength).toBe(data(21).paddingLength);
}

const golden = loadGolden().filter((r) => r.client_hello_hex);

describe.each(golden.map((r) => [labelOf(r), r]))(
  'read-tls-client-hello agrees on golden %s',
  (_label, rec) => {
    test('JA3 hash, JA4 and the parsed fields', async () => {
      const bytes = Buffer.from(rec.client_hello_hex, 'hex');
      const ours = parseClientHello(bytes);
      const theirs = await libParse(bytes);
      const ja = computeJa(ours);
      expect(ja.ja3_hash).toBe(lib.calculateJa3(theirs));
      expect(ja.ja4).toBe(lib.calculateJa4(theirs));
      compareParsed(ours, theirs);
    });
  },
);

describe('read-tls-client-hello agrees on synthetic ClientHellos', () => {
  const cases = [
    [
      'TLS 1.3, SNI, h2',
      {
        ciphers: [0x1301, 0x1302, 0xc02b],
        extensions: [
          ext.sni('a.test'),
          ext.alpn(['h2', 'http/1.1']),
          ext.supportedVersions([0x0304, 0x0303]),
          ext.sigalgs([0x0403, 0x0804]),
          ext.groups([29, 23]),
          ext.keyShare([[29, 32]]),
        ],
      },
    ],
    ['TLS 1.2 only, one extension', { ciphers: [0xc02f, 0x009c], extensions: [ext.raw(23)] }],
    [
      'GREASE everywhere',
      {
        ciphers: [0x0a0a, 0x1301],
        extensions: [
          ext.raw(0x1a1a),
          ext.groups([0x2a2a, 29]),
          ext.sigalgs([0x3a3a, 0x0403]),
          ext.supportedVersions([0x4a4a, 0x0304]),
          ext.raw(0x5a5a, [0]),
        ],
      },
    ],
    [
      'http/1.1 first, padding, point formats',
      {
        ciphers: [0x1301],
        extensions: [
          ext.alpn(['http/1.1']),
          ext.pointFormats([0, 1, 2]),
          ext.raw(21, Buffer.alloc(50)),
          ext.supportedVersions([0x0304]),
        ],
      },
    ],
    [
      'single-character ALPN, no SNI',
      { ciphers: [0x1301], extensions: [ext.alpn(['x']), ext.supportedVersions([0x0304])] },
    ],
    [
      'compress_certificate and record_size_limit',
      {
        ciphers: [0x1301],
        extensions: [
          ext.raw(27, [4, 0, 2, 0, 3]),
          ext.raw(28, [0x40, 0x01]),
          ext.supportedVersions([0x0304]),
        ],
      },
    ],
    [
      'TLS 1.0 legacy version',
      {
        legacyVersion: 0x0301,
        ciphers: [0x002f, 0x0035],
        extensions: [ext.sni('old.test'), ext.raw(65281, [0])],
      },
    ],
  ];
  test.each(cases)('%s', async (_name, spec) => {
    const bytes = buildClientHello(spec);
    const ours = parseClientHello(bytes);
    const theirs = await libParse(bytes);
    const ja = computeJa(ours);
    expect(ja.ja3_hash).toBe(lib.calculateJa3(theirs));
    expect(ja.ja4).toBe(lib.calculateJa4(theirs));
    compareParsed(ours, theirs);
  });
});

describe('where read-tls-client-hello departs from the FoxIO JA4 specification (we follow the specification)', () => {
  async function both(spec) {
    const bytes = buildClientHello(spec);
    return { ours: computeJa(parseClientHello(bytes)).ja4, theirs: lib.calculateJa4(await libParse(bytes)) };
  }
  test('version: the highest supported_versions entry, not "13" whenever the extension exists', async () => {
    const { ours, theirs } = await both({ extensions: [ext.supportedVersions([0x0303])] });
    expect(ours.slice(0, 3)).toBe('t12');
    expect(theirs.slice(0, 3)).toBe('t13');
  });
  test('ALPN with non-alphanumeric ends: hex nibbles', async () => {
    const { ours, theirs } = await both({ extensions: [ext.alpn([Buffer.from([0x30, 0xab])])] });
    expect(ours.slice(8, 10)).toBe('3b');
    expect(theirs.slice(8, 10)).not.toBe('3b');
  });
  test('cipher count above 99 is capped at 99', async () => {
    const { ours, theirs } = await both({
      ciphers: Array.from({ length: 101 }, (_, i) => 0x0100 + i),
      extensions: [ext.raw(23)],
    });
    expect(ours.slice(4, 6)).toBe('99');
    expect(theirs.slice(4, 7)).toBe('101');
  });
  test('only SNI/ALPN and no signature algorithms: part c is 000000000000, not the hash of an empty string', async () => {
    const { ours, theirs } = await both({ extensions: [ext.sni('a.test'), ext.alpn(['h2'])] });
    expect(ours.endsWith('_000000000000')).toBe(true);
    expect(theirs.endsWith('_e3b0c44298fc')).toBe(true);
  });
  test('a ClientHello without an extensions block (allowed before TLS 1.3): we parse it, the library cannot', async () => {
    const bytes = buildClientHello({ ciphers: [0x002f] });
    expect(computeJa(parseClientHello(bytes)).ja3).toBe('771,47,,,');
    await expect(libParse(bytes)).rejects.toThrow();
  });
});
