'use strict';
// Our own QUIC first flight under the echo server's decoder: the native test
// (build/quic_http3_test, QuicHttp3.*QuicHello*) sends the chrome_156 and firefox_153 presets' first flights
// to a silent UDP peer and writes the first two datagrams out (CTN_QUIC_PRESET_DUMP_DIR); this decodes them
// with lib/echo/quic.ts (the same decoder as GET /quic) and holds the TLS ClientHello inside against the
// ground truth (quic-browsers.js). The transport parameters and the packet layout (Initial sizes, CRYPTO
// chaos, packet numbers, connection ids) are not asserted here: they are ngtcp2's until its patch series lands.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { decodeQuicFirstFlight } = require('../../dist/echo/quic');
const { expectClientHello, FIREFOX } = require('./quic-browsers');

const binary = path.join(__dirname, '../../build/quic_http3_test');
const dumpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-quic-hello-'));

beforeAll(() => {
  // The native tests are built by the test build (cmake with GoogleTest): without them there is nothing to decode.
  expect(fs.existsSync(binary)).toBe(true);
  execFileSync(binary, ['--gtest_filter=QuicHttp3.*QuicHello*'], {
    env: { ...process.env, CTN_QUIC_PRESET_DUMP_DIR: dumpDir },
    stdio: 'pipe',
  });
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

test('firefox_153 over QUIC: the ClientHello is Firefox ESR 153s but for extensions 23 and 65281', () => {
  const view = viewOf('firefox_153');
  const tls = view.tls;
  const [, ciphers, , sigalgs] = FIREFOX.ja4_r.split('_');
  // BoringSSL leaves extended_master_secret (23) and renegotiation_info (65281) out of a TLS 1.3-only hello;
  // NSS sends both over QUIC. Everything else in JA4_r and JA3N is Firefox's.
  const withoutEmsAndRi = (list, sep, ems, ri) =>
    list
      .split(sep)
      .filter((e) => e !== ems && e !== ri)
      .join(sep);
  const [, , extensions] = FIREFOX.ja4_r.split('_');
  expect(tls.ja4_r).toBe(
    ['q13d0313h3', ciphers, withoutEmsAndRi(extensions, ',', '0017', 'ff01'), sigalgs].join('_'),
  );
  const [version, ja3Ciphers, ja3Extensions, groups] = FIREFOX.ja3n.split(',');
  expect(tls.ja3n).toBe(
    [version, ja3Ciphers, withoutEmsAndRi(ja3Extensions, '-', '23', '65281'), groups, ''].join(','),
  );
  expect(tls.session_id_length).toBe(0);
  expect(tls.ech_length).toBe(281);
  expect(tls.extension_ids.slice(-2)).toEqual([57, 65037]);
  expect(tls.ciphers.concat(tls.curves).some((n) => n.startsWith('GREASE'))).toBe(false);
});
