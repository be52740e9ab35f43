'use strict';
// Mirrors cycletls 2.0.5 tests/sni-override.test.ts: 1 of its 1 test (serverName sets the SNI while a Host header
// names another host, connecting by IP), against a local HTTPS server that records both.
const https = require('node:https');
const tls = require('node:tls');
const initCycleTLS = require('../..');
const { certPair } = require('../helpers/servers');
const { CHROME_ALPS_JA3 } = require('./helpers/stand-ins');

let server;
let port;
let capturedServerName;
let capturedHost;
beforeAll(async () => {
  const pair = certPair('server');
  server = https.createServer(
    {
      ...pair,
      SNICallback: (servername, cb) => {
        capturedServerName = servername;
        cb(null, tls.createSecureContext(pair));
      },
    },
    (req, res) => {
      capturedHost = req.headers.host;
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('OK');
    },
  );
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
});
afterAll(() => new Promise((resolve) => server.close(() => resolve())));

test("the SNI is serverName, the Host header stays the caller's", async () => {
  const cycleTLS = await initCycleTLS({ port: 9621 });
  const response = await cycleTLS.get(`https://127.0.0.1:${port}/`, {
    insecureSkipVerify: true,
    serverName: 'front.example',
    headers: { Host: 'real.example' },
    ja3: CHROME_ALPS_JA3,
    userAgent:
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/101.0.4951.54 Safari/537.36',
  });
  expect(response.status).toBe(200);
  expect(capturedServerName).toBe('front.example');
  expect(capturedHost).toBe('real.example');
  await cycleTLS.exit();
});
