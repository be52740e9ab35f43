'use strict';
// Mirrors cycletls 2.0.5 tests/timeout.test.ts: 1 of its 1 test (timeout: 1 against httpbin's /delay/4 → 408, then
// timeout: 30 against /delay/1 → 200), against the local httpbin stand-in.
const { compatSuite } = require('./helpers/suite');
const { startHttpbin } = require('./helpers/httpbin');
const { CHROME_PADDING_JA3: ja3 } = require('./helpers/stand-ins');

const userAgent =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.97 Safari/537.36';

const env = compatSuite({ httpbin: () => startHttpbin() }, { client: { port: 9624 } });

test('408 when the server is slower than the timeout, 200 when it is not', async () => {
  const timedOut = await env.cycleTLS(
    env.httpbin.url('/delay/4'),
    { body: '', ja3, userAgent, timeout: 1 },
    'get',
  );
  expect(timedOut.status).toBe(408);
  const normal = await env.cycleTLS(
    env.httpbin.url('/delay/1'),
    { body: '', ja3, userAgent, timeout: 30 },
    'get',
  );
  expect(normal.status).toBe(200);
});
