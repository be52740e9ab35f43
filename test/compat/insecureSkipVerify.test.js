'use strict';
// Mirrors cycletls 2.0.5 tests/insecureSkipVerify.test.ts: 4 of its 4 tests (expired.badssl.com with and without
// insecureSkipVerify, self-signed.badssl.com, a refused connection), against local servers with an expired and a
// self-signed certificate and a port nobody listens on.
const { compatSuite } = require('./helpers/suite');
const {
  startBadCertServer,
  closedPort,
  FIREFOX_87_JA3: ja3,
  FIREFOX_87_UA: userAgent,
} = require('./helpers/stand-ins');

const env = compatSuite(
  {
    expired: () => startBadCertServer('expired'),
    selfSigned: () => startBadCertServer('self-signed'),
  },
  { client: { port: 9611, timeout: 30000 } },
);

test('an expired certificate: 495 and a certificate error', async () => {
  const response = await env.cycleTLS(
    env.expired.url('/'),
    { body: '', ja3, userAgent, insecureSkipVerify: false },
    'get',
  );
  expect(response.status).toBe(495);
  expect(await response.text()).toContain(
    'uTlsConn.Handshake() error: tls: failed to verify certificate: x509: certificate has expired or is not yet valid',
  );
});

test('an expired certificate with insecureSkipVerify: 200', async () => {
  const response = await env.cycleTLS(
    env.expired.url('/'),
    { body: '', ja3, userAgent, insecureSkipVerify: true },
    'get',
  );
  expect(response.status).toBe(200);
});

test('a self-signed certificate: 495 and a certificate error', async () => {
  const response = await env.cycleTLS(
    env.selfSigned.url('/'),
    { body: '', ja3, userAgent, insecureSkipVerify: false },
    'get',
  );
  expect(response.status).toBe(495);
  const text = await response.text();
  expect(text).toContain('Request returned a Syscall Error');
  expect(text).toContain('certificate');
});

test('a refused connection: 502 and a connection error', async () => {
  const port = await closedPort();
  const response = await env.cycleTLS(
    `https://localhost:${port}`,
    { body: '', ja3, userAgent, timeout: 5000 },
    'get',
  );
  expect(response.status).toBe(502);
  expect(await response.text()).toMatch(/Syscall Error|connectex|connection|refused|handshake/i);
});
