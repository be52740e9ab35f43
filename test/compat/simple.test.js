'use strict';
// Mirrors cycletls 2.0.5 tests/simple.test.js: 1 of its 1 test (tls.peet.ws/api/clean with cycletls's README JA3
// and user agent), against our fingerprint echo.
const { compatSuite } = require('./helpers/suite');
const { startEcho, FIREFOX_87_JA3, FIREFOX_87_UA } = require('./helpers/stand-ins');

const env = compatSuite({ echo: startEcho }, { client: { port: 9620 } });

test('the README JA3 and user agent get a 200', async () => {
  const response = env.cycleTLS.get(env.echo.url('/api/clean'), {
    body: '',
    ja3: FIREFOX_87_JA3,
    userAgent: FIREFOX_87_UA,
  });
  await response.then((out) => expect(out.status).toBe(200));
});
