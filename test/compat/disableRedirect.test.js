'use strict';
// Mirrors cycletls 2.0.5 tests/disableRedirect.test.ts: 4 of its 4 tests (a 301 returned as is with disableRedirect,
// followed to a 200 otherwise, finalUrl of both), against two local httpbin stand-ins: a 301 to another origin
// (google.com → www.google.com's role), then a relative redirect there (rb.gy's chain).
const { compatSuite } = require('./helpers/suite');
const { startHttpbin } = require('./helpers/httpbin');
const { FIREFOX_87_JA3: ja3, FIREFOX_87_UA: userAgent, withCycleTLS } = require('./helpers/stand-ins');

const env = compatSuite({ first: () => startHttpbin(), other: () => startHttpbin() });

/** A 301 to the other origin, which answers with a relative 301 to its /get. */
const chainUrl = () =>
  env.first.url(
    `/redirect-to?status_code=301&url=${encodeURIComponent(env.other.url('/redirect-to?status_code=301&url=%2Fget'))}`,
  );

const withClient = (fn) => withCycleTLS({ port: 9605 }, fn);

test('disableRedirect: the 301 itself', () =>
  withClient(async (cycleTLS) => {
    const response = await cycleTLS(chainUrl(), { body: '', ja3, userAgent, disableRedirect: true }, 'get');
    expect(response.status).toBe(301);
  }));

test('redirects followed to a 200', () =>
  withClient(async (cycleTLS) => {
    const response = await cycleTLS(chainUrl(), { body: '', ja3, userAgent, disableRedirect: false });
    expect(response.status).toBe(200);
  }));

test('disableRedirect: finalUrl is the requested URL', () =>
  withClient(async (cycleTLS) => {
    const url = chainUrl();
    const response = await cycleTLS(url, { body: '', ja3, userAgent, disableRedirect: true }, 'get');
    expect(response.status).toBe(301);
    expect(response.finalUrl).toBe(url);
  }));

test('redirects followed: finalUrl is the last URL, on the other origin', () =>
  withClient(async (cycleTLS) => {
    const response = await cycleTLS(chainUrl(), { body: '', ja3, userAgent, disableRedirect: false }, 'get');
    expect(response.status).toBe(200);
    expect(response.finalUrl).toBe(env.other.url('/get'));
  }));
