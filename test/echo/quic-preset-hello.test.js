'use strict';
// Our own QUIC first flight under the echo server's decoder: the native test
// (build/quic_http3_test, QuicHttp3.*QuicHello*) sends the chrome_156 and firefox_153 presets' first flights
// to a silent UDP peer and writes the first two datagrams out (CTN_QUIC_PRESET_DUMP_DIR); this decodes them
// with lib/echo/quic.ts (the same decoder as GET /quic) and holds the TLS ClientHello inside against the
// ground truth (quic-browsers.js). The whole view of the shaped first flights (the presets' transport shapes:
// parameters, connection ids, packet numbers, Initial sizes and the CRYPTO/PING/PADDING layout), written by the
// QuicFirstFlightLayout tests (CTN_QUIC_SHAPE_DUMP_DIR, many connections each), is held against the browsers'
// at the end (expectBrowserQuicView, as for the captures).
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { decodeQuicFirstFlight } = require('../../dist/echo/quic');
const { expectBrowserQuicView, expectClientHello, FIREFOX } = require('./quic-browsers');

// CTN_QUIC_HTTP3_TEST: the binary of another build tree (the default is build/'s).
const binary = process.env.CTN_QUIC_HTTP3_TEST || path.join(__dirname, '../../build/quic_http3_test');
const dumpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-quic-hello-'));

beforeAll(() => {
  // The native tests are built by the test build (cmake with GoogleTest): without them there is nothing to decode.
  expect(fs.existsSync(binary)).toBe(true);
  execFileSync(binary, ['--gtest_filter=QuicHttp3.*QuicHello*'], {
    env: { ...process.env, CTN_QUIC_PRESET_DUMP_DIR: dumpDir },
    stdio: 'pipe',
  });
  execFileSync(
    binary,
    ['--gtest_filter=QuicFirstFlightLayout.ChromeScrambles*:QuicFirstFlightLayout.FirefoxSlices*'],
    {
      env: { ...process.env, CTN_QUIC_SHAPE_DUMP_DIR: dumpDir },
      stdio: 'pipe',
    },
  );
});

afterAll(() => fs.rmSync(dumpDir, { recursive: true, force: true }));

function viewOf(preset) {
  const lines = fs
    .readFileSync(path.join(dumpDir, `${preset}.hex`), 'utf8')
    .trim()
    .split('\n');
  const view = decodeQuicFirstFlight(lines.map((l) => Buffer.from(l, 'hex')));
  expect(view.errors).toEqual([]);
  return view;
}

test('chrome_156 over QUIC: the ClientHello is Chromium 156s (JA4, JA4_r, JA3N, 12 extensions, ALPS, ECH)', () => {
  expectClientHello(viewOf('chrome_156'), 'chromium');
});

test('firefox_153 over QUIC: the ClientHello is Firefox ESR 153s (JA4, JA4_r, JA3N, 15 extensions, ECH 281)', () => {
  const view = viewOf('firefox_153');
  const tls = view.tls;
  expect(tls).toMatchObject(FIREFOX);
  expect(tls.extension_ids).toHaveLength(15);
  expect(tls.session_id_length).toBe(0);
  expect(tls.ech_length).toBe(281);
  // Shuffled per connection, but quic_transport_parameters and ECH last.
  expect(tls.extension_ids.slice(-2)).toEqual([57, 65037]);
  expect(tls.ciphers.concat(tls.curves).some((n) => n.startsWith('GREASE'))).toBe(false);
  // Not asserted: the hello's length (Firefox's 1882), which follows the transport parameters' (ngtcp2's).
});

// Each connection's datagrams of a CTN_QUIC_SHAPE_DUMP_DIR file (many connections, keyed by the DCID).
function connectionsOf(name) {
  const byDcid = new Map();
  for (const line of fs
    .readFileSync(path.join(dumpDir, `${name}.hex`), 'utf8')
    .trim()
    .split('\n')) {
    const d = Buffer.from(line, 'hex');
    const dcid = d.subarray(6, 6 + d[5]).toString('hex');
    if (!byDcid.has(dcid)) byDcid.set(dcid, []);
    byDcid.get(dcid).push(d);
  }
  return [...byDcid.values()];
}

test.each([
  ['chrome-layout', 'chromium', 24],
  ['firefox-layout', 'firefox', 16],
])(
  '%s: every shaped first flight is, to the echo decoder, a %s one (layout included)',
  (name, browser, n) => {
    const connections = connectionsOf(name);
    expect(connections).toHaveLength(n);
    for (const datagrams of connections) {
      expect(datagrams).toHaveLength(2);
      expectBrowserQuicView(decodeQuicFirstFlight(datagrams), browser);
    }
  },
);
