'use strict';
// Mirrors cycletls 2.0.5 tests/multipleImports.test.ts: 1 of its 1 test (two initCycleTLS on one port, both
// clients work, both exit), against our fingerprint echo (tls.peet.ws/api/clean's role).
const initCycleTLS = require('../..');
const { compatSuite } = require('./helpers/suite');
const { startEcho, FIREFOX_87_JA3, FIREFOX_87_UA } = require('./helpers/stand-ins');

const env = compatSuite({ echo: startEcho });

test('two clients of one port both get 200', async () => {
  const url = env.echo.url('/api/clean');
  const options = { body: '', ja3: FIREFOX_87_JA3, userAgent: FIREFOX_87_UA };
  const cycleTLS = await initCycleTLS({ port: 9615 });
  const cycleTLS2 = await initCycleTLS({ port: 9615 });
  expect((await cycleTLS.get(url, options)).status).toBe(200);
  expect((await cycleTLS2.get(url, options)).status).toBe(200);
  await cycleTLS2.exit();
  await cycleTLS.exit();
});
