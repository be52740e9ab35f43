'use strict';
// Mirrors cycletls 2.0.5 tests/urlencoded.test.ts: 1 of its 1 test (a URLSearchParams string posted with the form
// content type over http://, echoed as httpbin's `form`), against the local httpbin stand-in.
const initCycleTLS = require('../..');
const { startHttpbin } = require('./helpers/httpbin');

test('URL-encoded form data arrives as the form', async () => {
  const httpbin = await startHttpbin({ tls: false });
  const cycleTLS = await initCycleTLS({ port: 9625 });
  try {
    const params = new URLSearchParams();
    params.append('key1', 'value1');
    params.append('key2', 'value2');
    const response = await cycleTLS(httpbin.url('/post'), {
      body: params.toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    }, 'post');
    expect((await response.json()).form).toEqual({ key1: 'value1', key2: 'value2' });
  } finally {
    await cycleTLS.exit();
    await httpbin.close();
  }
});
