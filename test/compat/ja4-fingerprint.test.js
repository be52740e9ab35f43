'use strict';
// Mirrors cycletls 2.0.5 tests/ja4-fingerprint.test.js: 5 of its 5 tests (JA4_r strings of Firefox, Chrome, Chrome
// 138 and 139 and a TLS 1.2 client reproduced exactly, as tls.peet.ws reports tls.ja4_r), against our fingerprint echo.
const { compatSuite } = require('./helpers/suite');
const { startEcho, withCycleTLS } = require('./helpers/stand-ins');

const CHROME_JA4R =
  't13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601';

const env = compatSuite({ echo: startEcho });

const withClient = (fn) => withCycleTLS({ port: 9613 }, fn);

async function ja4rSeen(cycleTLS, ja4r, userAgent) {
  const response = await cycleTLS.get(env.echo.url(), { ja4r, disableGrease: false, userAgent });
  expect(response.status).toBe(200);
  const result = await response.json();
  expect(result.tls).toBeDefined();
  expect(result.tls.ja4_r).toBeDefined();
  expect(result.http_version).toBe('HTTP/2');
  return result.tls.ja4_r;
}

test('Firefox JA4_r exact match', () =>
  withClient(async (cycleTLS) => {
    const firefox =
      't13d1717h2_002f,0035,009c,009d,1301,1302,1303,c009,c00a,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,001c,0022,0023,002b,002d,0033,fe0d,ff01_0403,0503,0603,0804,0805,0806,0401,0501,0601,0203,0201';
    const seen = await ja4rSeen(
      cycleTLS,
      firefox,
      'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:141.0) Gecko/20100101 Firefox/141.0',
    );
    expect(seen).toContain('fe0d');
    expect(seen).toContain('0022');
    expect(seen).toMatch(/^t13d1717h2/);
    expect(seen).toBe(firefox);
  }));

test.each([
  [
    'Chrome',
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36',
  ],
  [
    'Chrome 138',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36',
  ],
  [
    'Chrome 139',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36',
  ],
])('%s JA4_r exact match', (_name, userAgent) =>
  withClient(async (cycleTLS) => {
    const seen = await ja4rSeen(cycleTLS, CHROME_JA4R, userAgent);
    expect(seen).toContain('44cd');
    expect(seen).toContain('fe0d');
    expect(seen).toMatch(/^t13d1516h2/);
    expect(seen).toBe(CHROME_JA4R);
  }),
);

test('TLS 1.2 JA4_r exact match', () =>
  withClient(async (cycleTLS) => {
    const userAgent =
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.124 Safari/537.36';
    const lists =
      '002f,0035,009c,009d,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0017,0023,ff01_0403,0804,0401,0503,0805,0501,0806,0601,0201';
    // differs on purpose: cycletls's string "t12d128h2_…" is not a JA4_r (the counts are two digits each: 12 suites,
    // 9 extensions with SNI and ALPN) and is refused; cycletls ignored the counts.
    await expect(
      cycleTLS.get(env.echo.url(), { ja4r: `t12d128h2_${lists}`, userAgent }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    const seen = await ja4rSeen(cycleTLS, `t12d1209h2_${lists}`, userAgent);
    expect(seen).toMatch(/^t12d1209h2/);
    expect(seen).toBe(`t12d1209h2_${lists}`);
  }));
