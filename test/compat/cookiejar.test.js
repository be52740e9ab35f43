'use strict';
// Mirrors cycletls 2.0.5 tests/cookiejar.test.js: 1 of its 1 test (a tough-cookie jar filled by hand from the
// Set-Cookie headers of httpbin's /cookies/set redirects), against the local httpbin stand-in.
const tough = require('tough-cookie');
const initCycleTLS = require('../..');
const { startHttpbin } = require('./helpers/httpbin');

let httpbin;
beforeAll(async () => { httpbin = await startHttpbin(); });
afterAll(() => httpbin.close());

/** Puts every Set-Cookie of a response into the jar (header values are arrays, under the canonical name). */
async function processCookies(response, url, jar) {
  const setCookie = response.headers['Set-Cookie'] || response.headers['set-cookie'];
  if (!setCookie) return;
  for (const c of [].concat(setCookie)) await jar.setCookie(c, url);
}

test('cookies set by redirects, kept in a jar and sent back by hand', async () => {
  const cycleTLS = await initCycleTLS({ port: 9604 });
  const jar = new tough.CookieJar();

  const first = await cycleTLS.get(httpbin.url('/cookies'));
  expect(first.data.cookies?.length).toBe(undefined);

  const second = await cycleTLS.get(httpbin.url('/cookies/set?freeform=test'), { disableRedirect: true });
  expect(second.status).toEqual(302);
  await processCookies(second, httpbin.url('/cookies/set?freeform=test'), jar);

  const third = await cycleTLS.get(httpbin.url('/cookies'), { headers: { cookie: await jar.getCookieString(httpbin.url('/cookies')) } });
  expect((await third.json())?.cookies?.freeform).not.toEqual(null);

  const fourth = await cycleTLS.get(httpbin.url('/cookies/set?a=1&b=2&c=3'), { disableRedirect: true });
  expect(fourth.status).toEqual(302);
  await processCookies(fourth, httpbin.url('/cookies/set?freeform=test'), jar);

  const fifth = await cycleTLS.get(httpbin.url('/cookies'), { headers: { cookie: await jar.getCookieString(httpbin.url('/cookies')) } });
  expect((await fifth.json())?.cookies).toEqual({ a: '1', b: '2', c: '3', freeform: 'test' });
  await cycleTLS.exit();
});
