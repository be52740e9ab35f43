'use strict';
// Mirrors cycletls 2.0.5 tests/forceHTTP1.test.ts: 2 of its 2 tests (h2 by default, HTTP/1.1 with forceHTTP1, as
// tls.peet.ws reports it), against our fingerprint echo (which calls h2 "HTTP/2" where tls.peet.ws says "h2").
const { compatSuite } = require('./helpers/suite');
const { startEcho, CHROME_PADDING_JA3: ja3 } = require('./helpers/stand-ins');

const userAgent =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.106 Safari/537.36';

const env = compatSuite({ echo: startEcho }, { client: { port: 9607 } });

test('HTTP/2 by default', async () => {
  const response = await env.cycleTLS(env.echo.url(), { body: '', ja3, userAgent, forceHTTP1: false }, 'get');
  expect(response.status).toBe(200);
  expect(response.data.http_version).toBe('HTTP/2');
  expect(response.data.tls.negotiated.alpn).toBe('h2');
});

test('HTTP/1.1 with forceHTTP1', async () => {
  const response = await env.cycleTLS(env.echo.url(), { body: '', ja3, userAgent, forceHTTP1: true }, 'get');
  expect(response.status).toBe(200);
  expect(response.data.http_version).toBe('HTTP/1.1');
});
