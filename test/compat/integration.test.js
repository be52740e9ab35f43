'use strict';
// Mirrors cycletls 2.0.5 tests/integration.test.ts: 1 of its 1 test (a tour of httpbin: methods with bodies,
// headers, cookies, ip, response-headers, html, and example.com over HTTPS), against local httpbin stand-ins over
// HTTPS and HTTP, the second HTTPS one standing in for example.com.
const { compatSuite } = require('./helpers/suite');
const { startHttpbin } = require('./helpers/httpbin');
const { CHROME_PADDING_JA3: ja3 } = require('./helpers/stand-ins');

const userAgent =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.97 Safari/537.36';

const env = compatSuite(
  {
    secure: () => startHttpbin(),
    plain: () => startHttpbin({ tls: false }),
    exampleCom: () => startHttpbin(),
  },
  { client: { port: 9612 } },
);

test('every request of the tour returns 200', async () => {
  const requests = [
    { url: env.secure.url('/user-agent'), ja3, userAgent },
    { url: env.plain.url('/post'), body: '{"field":"POST-VAL"}', method: 'post' },
    { url: env.plain.url('/put'), body: '{"field":"PUT-VAL"}', method: 'put' },
    { url: env.plain.url('/patch'), body: '{"field":"PATCH-VAL"}', method: 'patch' },
    { url: env.plain.url('/delete'), body: '{"field":"DELETE-VAL"}', method: 'delete' },
    { url: env.plain.url('/headers'), headers: { Authorization: 'Bearer someexampletoken' } },
    {
      url: env.plain.url('/cookies'),
      cookies: [
        { name: 'example1', value: 'aaaaaaa', expires: 'Mon, 02-Jan-2022 15:04:05 EST' },
        { name: 'example2', value: 'bbbbbbbbb', expires: 'Tue, 06-Jan-2022 2:03:05 EST' },
      ],
    },
    { url: env.plain.url('/ip') },
    { url: env.plain.url('/response-headers?ExampleResponseHeader=HeaderisPickedUpByServer') },
    { url: env.plain.url('/html') },
    { url: env.exampleCom.url('/') },
  ];
  for (const request of requests) {
    const options = {
      body: request.body,
      ja3: request.ja3,
      userAgent: request.userAgent,
      headers: request.headers,
      cookies: request.cookies,
    };
    const given = { ...options };
    const response = await env.cycleTLS(request.url, options, request.method);
    expect(response.status).toBe(200);
    // differs on purpose: the options object is left as given (cycletls filled in its defaults).
    expect(options).toEqual(given);
  }
});
