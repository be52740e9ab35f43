'use strict';
// Mirrors cycletls 2.0.5 tests/cookiejar.test.js: 1 of its 1 test (a tough-cookie jar filled by hand from the
// Set-Cookie headers of httpbin's /cookies/set redirects), against the local httpbin stand-in.
const tough = require('tough-cookie');
const { compatSuite } = require('./helpers/suite');
const { startHttpbin } = require('./helpers/httpbin');

const env = compatSuite({ httpbin: () => startHttpbin() }, { client: { port: 9604 } });

/** Puts every Set-Cookie of a response into the jar (header values are arrays, under the canonical name). */
async function processCookies(response, url, jar) {
  const setCookie = response.headers['Set-Cookie'] || response.headers['set-cookie'];
  if (!setCookie) return;
  for (const c of [].concat(setCookie)) await jar.setCookie(c, url);
}

test('cookies set by redirects, kept in a jar and sent back by hand', async () => {
  const jar = new tough.CookieJar();

  const first = await env.cycleTLS.get(env.httpbin.url('/cookies'));
  expect(first.data.cookies?.length).toBe(undefined);

  const second = await env.cycleTLS.get(env.httpbin.url('/cookies/set?freeform=test'), {
    disableRedirect: true,
  });
  expect(second.status).toEqual(302);
  await processCookies(second, env.httpbin.url('/cookies/set?freeform=test'), jar);

  const third = await env.cycleTLS.get(env.httpbin.url('/cookies'), {
    headers: { cookie: await jar.getCookieString(env.httpbin.url('/cookies')) },
  });
  expect((await third.json())?.cookies?.freeform).not.toEqual(null);

  const fourth = await env.cycleTLS.get(env.httpbin.url('/cookies/set?a=1&b=2&c=3'), {
    disableRedirect: true,
  });
  expect(fourth.status).toEqual(302);
  await processCookies(fourth, env.httpbin.url('/cookies/set?freeform=test'), jar);

  const fifth = await env.cycleTLS.get(env.httpbin.url('/cookies'), {
    headers: { cookie: await jar.getCookieString(env.httpbin.url('/cookies')) },
  });
  expect((await fifth.json())?.cookies).toEqual({ a: '1', b: '2', c: '3', freeform: 'test' });
});
