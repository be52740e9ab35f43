'use strict';
// Mirrors cycletls 2.0.5 tests/integration.test.ts: 1 of its 1 test (a tour of httpbin: methods with bodies,
// headers, cookies, ip, response-headers, html, and example.com over HTTPS), against local httpbin stand-ins over
// HTTPS and HTTP, the second HTTPS one standing in for example.com.
const initCycleTLS = require('../..');
const { startHttpbin } = require('./helpers/httpbin');
const { CHROME_PADDING_JA3: ja3 } = require('./helpers/stand-ins');

const userAgent = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.97 Safari/537.36';

let secure;
let plain;
let exampleCom;
beforeAll(async () => { [secure, plain, exampleCom] = await Promise.all([startHttpbin(), startHttpbin({ tls: false }), startHttpbin()]); });
afterAll(() => Promise.all([secure.close(), plain.close(), exampleCom.close()]));

test('every request of the tour returns 200', async () => {
  const requests = [
    { url: secure.url('/user-agent'), ja3, userAgent },
    { url: plain.url('/post'), body: '{"field":"POST-VAL"}', method: 'post' },
    { url: plain.url('/put'), body: '{"field":"PUT-VAL"}', method: 'put' },
    { url: plain.url('/patch'), body: '{"field":"PATCH-VAL"}', method: 'patch' },
    { url: plain.url('/delete'), body: '{"field":"DELETE-VAL"}', method: 'delete' },
    { url: plain.url('/headers'), headers: { Authorization: 'Bearer someexampletoken' } },
    {
      url: plain.url('/cookies'),
      cookies: [
        { name: 'example1', value: 'aaaaaaa', expires: 'Mon, 02-Jan-2022 15:04:05 EST' },
        { name: 'example2', value: 'bbbbbbbbb', expires: 'Tue, 06-Jan-2022 2:03:05 EST' },
      ],
    },
    { url: plain.url('/ip') },
    { url: plain.url('/response-headers?ExampleResponseHeader=HeaderisPickedUpByServer') },
    { url: plain.url('/html') },
    { url: exampleCom.url('/') },
  ];
  const cycleTLS = await initCycleTLS({ port: 9612 });
  for (const request of requests) {
    const options = { body: request.body, ja3: request.ja3, userAgent: request.userAgent, headers: request.headers, cookies: request.cookies };
    const given = { ...options };
    const response = await cycleTLS(request.url, options, request.method);
    expect(response.status).toBe(200);
    // differs on purpose: the options object is left as given (cycletls filled in its defaults).
    expect(options).toEqual(given);
  }
  await cycleTLS.exit();
});
