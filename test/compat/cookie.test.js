'use strict';
// Mirrors cycletls 2.0.5 tests/cookie.test.ts: 2 of its 2 tests (object and array cookies echoed by httpbin's
// /cookies), against the local httpbin stand-in.
const { compatSuite } = require('./helpers/suite');
const { startHttpbin } = require('./helpers/httpbin');
const { FIREFOX_87_JA3, FIREFOX_87_UA, withCycleTLS } = require('./helpers/stand-ins');

const env = compatSuite({ httpbin: () => startHttpbin() });

const withClient = (fn) => withCycleTLS({ port: 9603 }, fn);

test('cookies given as an object reach the server', () =>
  withClient(async (cycleTLS) => {
    const cookies = { cookie1: 'value1', cookie2: 'value2' };
    const response = await cycleTLS(env.httpbin.url('/cookies'), {
      body: '',
      cookies,
      ja3: FIREFOX_87_JA3,
      userAgent: FIREFOX_87_UA,
    });
    expect((await response.json()).cookies).toEqual(cookies);
  }));

test('cookies given as an array of {name, value} reach the server', () =>
  withClient(async (cycleTLS) => {
    const response = await cycleTLS(env.httpbin.url('/cookies'), {
      cookies: [
        { name: 'cookie1', value: 'value1' },
        { name: 'cookie2', value: 'value2' },
      ],
    });
    expect((await response.json()).cookies).toEqual({ cookie1: 'value1', cookie2: 'value2' });
  }));
