'use strict';
// cycletls's quicFingerprint through the product: a captured Chromium 156 / Firefox ESR 153 QUIC ClientHello
// (test/fixtures/fingerprints/quic) given as quicFingerprint, sent to the echo's live HTTP/3 endpoint
// (startEchoServer({ quic: true })), whose GET /quic answer is that very connection's first flight decoded.
// The view must equal the capture's (the same decoder run on the captured datagrams) field by field, except
// what a browser draws per connection (random, key shares, GREASE values, the ECH payload, the SCID).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const initCycleTLS = require('../..');
const { startEchoServer } = require('../../dist/echo');
const { decodeQuicFirstFlight } = require('../../dist/echo/quic');
const { expectBrowserQuicView } = require('./quic-browsers');
const { readHexLines, QUIC_FIXTURES: RUNS } = require('./quic-helpers');
const { childEnv, start, killAll } = require('../process/spawn');
const { uniquePort } = require('../helpers/servers');

const NGTCP2_RUN = path.join(RUNS, 'run-ngtcp2-chromium156-firefox153');
const CLIENT = path.join(__dirname, '..', 'fixtures', 'scripts', 'h3-client.js');

const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
const FIREFOX_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0';

/** A captured connection: its ClientHello (a handshake message, as hex) and the echo's view of its first flight. */
function capture(run, conn) {
  const datagrams = readHexLines(path.join(run, `conn-${conn}.initial-datagrams.hex`)).map((h) =>
    Buffer.from(h, 'hex'),
  );
  const view = decodeQuicFirstFlight(datagrams);
  expect(view.errors).toEqual([]);
  return { hello: readHexLines(path.join(run, `conn-${conn}.clienthello.hex`))[0], view };
}

/** The hello as a TLS handshake record (content type 22, legacy version 0x0301). */
const asRecord = (message) => `160301${(message.length / 2).toString(16).padStart(4, '0')}${message}`;

/** A handshake message (hex) with extension `id` left out, its lengths fixed. */
function withoutExtension(message, id) {
  const hello = Buffer.from(message, 'hex');
  let at = 4 + 2 + 32;
  at += 1 + hello[at]; // legacy_session_id
  at += 2 + hello.readUInt16BE(at); // cipher_suites
  at += 1 + hello[at]; // legacy_compression_methods
  const kept = [];
  for (let e = at + 2; e < hello.length; e += 4 + hello.readUInt16BE(e + 2))
    if (hello.readUInt16BE(e) !== id) kept.push(hello.subarray(e, e + 4 + hello.readUInt16BE(e + 2)));
  const extensions = Buffer.concat(kept);
  const body = Buffer.concat([
    hello.subarray(4, at),
    Buffer.from([extensions.length >> 8, extensions.length & 255]),
    extensions,
  ]);
  return Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 255]), body]).toString('hex');
}

const isGrease = (id) => (id & 0x0f0f) === 0x0a0a;

/** What of a first-flight view a hello fixes: everything but what is drawn per connection. */
function fixedByHello(view) {
  const tls = view.tls;
  const ids = tls.extension_ids.map((id) => (isGrease(id) ? 'GREASE' : id));
  return {
    ja3: tls.ja3,
    ja3n: tls.ja3n,
    ja4: tls.ja4,
    ja4_r: tls.ja4_r,
    ja4_o: tls.ja4_o,
    ja4_ro: tls.ja4_ro,
    client_hello_version: tls.client_hello_version,
    supported_versions: tls.supported_versions,
    session_id_length: tls.session_id_length,
    ciphers: tls.ciphers,
    extension_ids: ids,
    // Lengths are the hello's but for ECH (a fresh payload) and extension 57 (a GREASE parameter's
    // 1..15 fresh bytes).
    extension_lengths: tls.extension_lengths.filter((_, i) => ![57, 65037].includes(tls.extension_ids[i])),
    curves: tls.curves.map((c) => (c.startsWith('GREASE') ? 'GREASE' : c)),
    key_share: (tls.key_share ?? []).map((k) =>
      typeof k === 'object' ? { ...k, key_exchange: undefined } : k,
    ),
    ec_point_formats: tls.ec_point_formats,
    signature_algorithms: tls.signature_algorithms,
    alpn: tls.alpn,
    sni: tls.sni,
    psk_key_exchange_modes: tls.psk_key_exchange_modes,
    cert_compression: tls.cert_compression,
    alps: tls.alps,
    record_size_limit: tls.record_size_limit,
    delegated_credentials: tls.delegated_credentials,
    padding_length: tls.padding_length,
    trust_anchors_length: tls.trust_anchors_length,
    compression_methods: tls.compression_methods,
    scid_length: view.scid_length,
    // Every transport parameter in its order; its value unless drawn per connection (GREASE, the SCID,
    // version_information's GREASE version).
    transport_parameters: view.transport_parameters.map((p) => {
      if (p.grease) return { id: 'GREASE', id_varint_length: p.id_varint_length };
      if (p.id === '0xf') return { id: p.id, length: p.length };
      if (p.id === '0x11')
        return {
          id: p.id,
          chosen: p.versions.chosen,
          others: p.versions.others.map((v) => (v.grease ? 'GREASE' : v.version)),
        };
      return { id: p.id, id_varint_length: p.id_varint_length, value_hex: p.value_hex };
    }),
  };
}

let client;
let echo;

beforeAll(async () => {
  client = await initCycleTLS();
  echo = await startEchoServer({ quic: true });
}, 60000);

afterAll(async () => {
  killAll();
  await client?.exit();
  await echo?.close();
});

async function quicViewOf(options) {
  const res = await client(`https://localhost:${echo.port}/quic`, {
    // The captured hellos named fp.test.
    serverName: 'fp.test',
    insecureSkipVerify: true,
    responseType: 'json',
    ...options,
  });
  expect(res.status).toBe(200);
  expect(res.protocol).toBe('h3');
  expect(res.data.quic_errors).toEqual([]);
  return res.data.quic;
}

describe.each([
  ['Chromium 156', 1, CHROME_UA, 'chromium'],
  ['Firefox ESR 153', 3, FIREFOX_UA, 'firefox'],
])('the captured %s hello as quicFingerprint', (_, conn, userAgent, browser) => {
  const captured = () => capture(NGTCP2_RUN, conn);

  test('as a handshake message with forceHTTP3: the echo sees the capture field by field', async () => {
    const { hello, view } = captured();
    const ours = await quicViewOf({ quicFingerprint: hello, forceHTTP3: true, userAgent });
    expect(fixedByHello(ours)).toEqual(fixedByHello(view));
    // The rest of the first flight is the user-agent's browser's (the preset the rule picks): the whole
    // view passes the ground truth's checks, as the browser's own connections do.
    expectBrowserQuicView(ours, browser);
  });

  test('as a TLS record, with cycletls\'s "@@" tail, and alone (it implies HTTP/3)', async () => {
    const { hello, view } = captured();
    const ours = await quicViewOf({ quicFingerprint: `${asRecord(hello)}@@505249202a20`, userAgent });
    expect(fixedByHello(ours)).toEqual(fixedByHello(view));
  });
});

test('a quicFingerprint connection is not a preset connection: the pool keys them apart', async () => {
  const { hello } = capture(NGTCP2_RUN, 1);
  const url = `https://localhost:${echo.port}/quic`;
  const base = { serverName: 'fp.test', insecureSkipVerify: true, profile: 'chrome_156' };
  const preset = await client(url, { ...base, forceHTTP3: true });
  const fingerprinted = await client(url, { ...base, quicFingerprint: hello });
  const again = await client(url, { ...base, quicFingerprint: `${hello}@@` });
  expect(fingerprinted.connection.id).not.toBe(preset.connection.id);
  expect(again.connection.id).toBe(fingerprinted.connection.id);
  const keys = client
    .stats()
    .origins.map((o) => o.key)
    .filter((k) => k.includes(`:${echo.port}`) && / h3$/.test(k));
  expect(keys.some((k) => /\|quic=[0-9a-f]{16}\b/.test(k))).toBe(true);
  expect(keys.some((k) => !k.includes('|quic='))).toBe(true);
});

describe('refusals, by name', () => {
  const refusal = async (options) => {
    const outcome = await client(`https://localhost:${echo.port}/quic`, {
      serverName: 'fp.test',
      insecureSkipVerify: true,
      rejectOnError: true,
      ...options,
    }).then(
      () => ({}),
      (error) => ({ error }),
    );
    expect(outcome.error).toBeInstanceOf(initCycleTLS.CycleTLSError);
    return outcome.error;
  };

  test("Firefox's resumed hello (a PSK): ERR_UNSUPPORTED_FINGERPRINT naming it", async () => {
    const resumed = readHexLines(
      path.join(RUNS, 'run-caddy-chromium156-firefox153', 'conn-13.clienthello.hex'),
    )[0];
    const error = await refusal({ quicFingerprint: resumed });
    expect(error.code).toBe('ERR_UNSUPPORTED_FINGERPRINT');
    expect(error.message).toMatch(/quicFingerprint: .*resumption/);
  });

  test('a hello without QUIC transport parameters (a TCP hello): ERR_UNSUPPORTED_FINGERPRINT', async () => {
    // The Chromium hello without extension 57: no longer a QUIC hello.
    const error = await refusal({ quicFingerprint: withoutExtension(capture(NGTCP2_RUN, 1).hello, 57) });
    expect(error.code).toBe('ERR_UNSUPPORTED_FINGERPRINT');
    expect(error.message).toMatch(/quicFingerprint: .*quic_transport_parameters/);
  });

  test('hex that is no ClientHello: ERR_INVALID_OPTION; not hex at all: ERR_INVALID_OPTION at once', async () => {
    const truncated = await refusal({ quicFingerprint: capture(NGTCP2_RUN, 1).hello.slice(0, 200) });
    expect(truncated.code).toBe('ERR_INVALID_OPTION');
    expect(truncated.message).toMatch(/quicFingerprint: /);
    // Not hex: refused by the options' check, before any request.
    await expect(
      client(`https://localhost:${echo.port}/quic`, { quicFingerprint: 'chrome please' }),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
      message: expect.stringMatching(/quicFingerprint/),
    });
  });

  test("with http3 'alt-svc' a bad hello is refused too (never silently TCP)", async () => {
    const resumed = readHexLines(
      path.join(RUNS, 'run-caddy-chromium156-firefox153', 'conn-13.clienthello.hex'),
    )[0];
    const error = await refusal({ quicFingerprint: resumed, http3: 'alt-svc' });
    expect(error.code).toBe('ERR_UNSUPPORTED_FINGERPRINT');
  });
});

test("a second process's quicFingerprint request travels the link and sends the hello from the host", async () => {
  const { hello, view } = capture(NGTCP2_RUN, 3);
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-sock-')); // 0700
  const port = uniquePort();
  const host = await initCycleTLS({ port, socketDir });
  try {
    expect(host.stats().role).toBe('host');
    const child = start(
      process.execPath,
      [
        CLIENT,
        JSON.stringify({
          port,
          url: `https://localhost:${echo.port}/quic`,
          count: 1,
          quicFingerprint: hello,
          userAgent: FIREFOX_UA,
          serverName: 'fp.test',
          insecureSkipVerify: true,
          quicView: true,
        }),
      ],
      { env: childEnv({ CYCLETLS_NATIVE_SOCKET_DIR: socketDir }), timeoutMs: 30000 },
    );
    expect((await child.waitFor(/^READY /)).split(' ')[1]).toBe('client');
    const [result] = JSON.parse((await child.waitFor(/^DONE /, 30000)).slice(5));
    expect(result.protocol).toBe('h3');
    expect(fixedByHello(result.quic)).toEqual(fixedByHello(view));
    expect(host.stats().origins.some((o) => o.key.includes('|quic='))).toBe(true);
  } finally {
    await host.exit();
    fs.rmSync(socketDir, { recursive: true, force: true });
  }
});
