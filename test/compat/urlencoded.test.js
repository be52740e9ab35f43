'use strict';
// Mirrors cycletls 2.0.5 tests/urlencoded.test.ts: 1 of its 1 test (a URLSearchParams string posted with the form
// content type over http://, echoed as httpbin's `form`), against the local httpbin stand-in.
const { compatSuite } = require('./helpers/suite');
const { startHttpbin } = require('./helpers/httpbin');

const env = compatSuite({ httpbin: () => startHttpbin({ tls: false }) }, { client: { port: 9625 } });

test('URL-encoded form data arrives as the form', async () => {
  const params = new URLSearchParams();
  params.append('key1', 'value1');
  params.append('key2', 'value2');
  const response = await env.cycleTLS(
    env.httpbin.url('/post'),
    {
      body: params.toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    },
    'post',
  );
  expect((await response.json()).form).toEqual({ key1: 'value1', key2: 'value2' });
});
