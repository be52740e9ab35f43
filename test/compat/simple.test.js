'use strict';
// Mirrors cycletls 2.0.5 tests/simple.test.js: 1 of its 1 test (tls.peet.ws/api/clean with cycletls's README JA3
// and user agent), against our fingerprint echo.
const initCycleTLS = require('../..');
const { startEcho, FIREFOX_87_JA3, FIREFOX_87_UA } = require('./helpers/stand-ins');

test('the README JA3 and user agent get a 200', async () => {
  const echo = await startEcho();
  const cycleTLS = await initCycleTLS({ port: 9620 });
  try {
    const response = cycleTLS.get(echo.url('/api/clean'), { body: '', ja3: FIREFOX_87_JA3, userAgent: FIREFOX_87_UA });
    await response.then((out) => expect(out.status).toBe(200));
  } finally {
    await cycleTLS.exit();
    await echo.close();
  }
});
