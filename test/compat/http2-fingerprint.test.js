'use strict';
// Mirrors cycletls 2.0.5 tests/http2-fingerprint.test.js: 4 of its 4 tests (Firefox and Chrome `http2Fingerprint`
// strings, seen by tls.peet.ws and by tools.scrapfly.io), against two instances of our fingerprint echo standing in
// for the two services. Where cycletls's tests only checked that a fingerprint was reported, these check that it is
// the one asked for.
const { compatSuite } = require('./helpers/suite');
const { startEcho } = require('./helpers/stand-ins');

const FIREFOX_H2 = '1:65536;2:0;4:131072;5:16384|12517377|0|m,p,a,s';
const FIREFOX_UA = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:141.0) Gecko/20100101 Firefox/141.0';
const CHROME_H2 = '1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p';
const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36';

const env = compatSuite({ peet: startEcho, scrapfly: startEcho }, { client: { port: 9609 } });

test.each([
  ['Firefox', 'peet', FIREFOX_H2, FIREFOX_UA],
  ['Chrome', 'peet', CHROME_H2, CHROME_UA],
  ['Firefox', 'scrapfly', FIREFOX_H2, FIREFOX_UA],
  ['Chrome', 'scrapfly', CHROME_H2, CHROME_UA],
])('%s HTTP/2 fingerprint (%s stand-in)', async (_browser, service, http2Fingerprint, userAgent) => {
  const echo = env[service];
  const response = await env.cycleTLS.get(echo.url(), { http2Fingerprint, userAgent });
  expect(response.status).toBe(200);
  const result = await response.json();
  expect(result.http_version).toBe('HTTP/2');
  expect(result.http2).toBeDefined();
  expect(result.http2.akamai_fingerprint).toBe(http2Fingerprint);
});
