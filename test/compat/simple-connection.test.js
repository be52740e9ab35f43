'use strict';
// Mirrors cycletls 2.0.5 tests/simple-connection.test.js: 1 of its 1 test (a GET with only a JA3), against the
// local httpbin stand-in.
const initCycleTLS = require('../..');
const { startHttpbin } = require('./helpers/httpbin');
const { FIREFOX_87_JA3 } = require('./helpers/stand-ins');

test('a GET with a JA3 returns 200', async () => {
  const httpbin = await startHttpbin();
  const cycleTLS = await initCycleTLS({ port: 9619 });
  try {
    const response = await cycleTLS.get(httpbin.url('/get'), { ja3: FIREFOX_87_JA3 });
    expect(response.status).toBe(200);
  } finally {
    await cycleTLS.exit();
    await httpbin.close();
  }
});
