'use strict';
// Mirrors cycletls 2.0.5 tests/simple-connection.test.js: 1 of its 1 test (a GET with only a JA3), against the
// local httpbin stand-in.
const { compatSuite } = require('./helpers/suite');
const { startHttpbin } = require('./helpers/httpbin');
const { FIREFOX_87_JA3 } = require('./helpers/stand-ins');

const env = compatSuite({ httpbin: () => startHttpbin() }, { client: { port: 9619 } });

test('a GET with a JA3 returns 200', async () => {
  const response = await env.cycleTLS.get(env.httpbin.url('/get'), { ja3: FIREFOX_87_JA3 });
  expect(response.status).toBe(200);
});
