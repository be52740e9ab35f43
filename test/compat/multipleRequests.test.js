'use strict';
// Mirrors cycletls 2.0.5 tests/multipleRequests.test.js: 2 of its 2 tests (three different requests at once, and
// three in a row to one host), against local httpbin stand-ins over HTTPS and HTTP.
const { compatSuite } = require('./helpers/suite');
const { startHttpbin } = require('./helpers/httpbin');
const { FIREFOX_87_JA3: ja3, FIREFOX_87_UA: userAgent, withCycleTLS } = require('./helpers/stand-ins');

const env = compatSuite({ secure: () => startHttpbin(), plain: () => startHttpbin({ tls: false }) });

const withClient = (fn) => withCycleTLS({ port: 9616, timeout: 30000 }, fn);

test('concurrent requests all complete with 200', () =>
  withClient(async (cycleTLS) => {
    const requests = {
      [env.secure.url('/user-agent')]: { ja3, userAgent },
      [env.plain.url('/post')]: { body: '{"field":"POST-VAL"}', method: 'POST' },
      [env.plain.url('/cookies')]: {
        cookies: [{ name: 'example1', value: 'aaaaaaa', expires: '2022-01-02T15:04:05Z' }],
      },
    };
    const results = await Promise.all(
      Object.entries(requests).map(([url, params]) =>
        cycleTLS(
          url,
          {
            body: params.body ?? '',
            ja3: params.ja3 ?? ja3,
            userAgent: params.userAgent ?? userAgent,
            headers: params.headers,
            cookies: params.cookies,
            timeout: 30,
          },
          params.method ?? 'GET',
        ),
      ),
    );
    for (const response of results) expect(response.status).toBe(200);
  }));

test('sequential requests to the same host', () =>
  withClient(async (cycleTLS) => {
    expect((await cycleTLS.get(env.secure.url('/get'), { ja3, userAgent })).status).toBe(200);
    expect((await cycleTLS.get(env.secure.url('/get?second=true'), { ja3, userAgent })).status).toBe(200);
    expect((await cycleTLS.get(env.secure.url('/headers'), { ja3, userAgent })).status).toBe(200);
  }));
