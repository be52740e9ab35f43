'use strict';
// Mirrors cycletls 2.0.5 tests/connectionReuse.test.ts: 1 of its 1 test (three requests to one HTTPS host, few
// handshakes), against a local HTTPS/1.1 server that counts TLS handshakes.
const { compatSuite } = require('./helpers/suite');
const { startServer } = require('../helpers/servers');
const { CHROME_ALPS_JA3 } = require('./helpers/stand-ins');

const env = compatSuite(
  {
    server: () =>
      startServer({
        handler: (req, res) => {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.end(req.url === '/handshake-count' ? String(env.server.stats.handshakes) : 'OK');
        },
      }),
  },
  { client: { port: 9602 } },
);

test('three requests to the same host need at most two TLS handshakes', async () => {
  const options = {
    ja3: CHROME_ALPS_JA3,
    userAgent:
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/101.0.4951.54 Safari/537.36',
    insecureSkipVerify: true,
  };
  const url = env.server.origin;
  expect((await env.cycleTLS.get(`${url}/first`, options)).status).toBe(200);
  expect((await env.cycleTLS.get(`${url}/second`, options)).status).toBe(200);
  const count = parseInt(await (await env.cycleTLS.get(`${url}/handshake-count`, options)).text(), 10);
  expect(count).toBeLessThanOrEqual(2);
  // differs on purpose: connections are always reused (cycletls made one handshake per request), so exactly one.
  expect(count).toBe(1);
});
