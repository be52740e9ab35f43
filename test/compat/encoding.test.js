'use strict';
// Mirrors cycletls 2.0.5 tests/encoding.test.ts: 1 of its 1 test (httpbin's /brotli, /deflate and /gzip), against
// the local httpbin stand-in, which compresses its JSON answer as those routes do.
const { compatSuite } = require('./helpers/suite');
const { startHttpbin } = require('./helpers/httpbin');
const { CHROME_PADDING_JA3: ja3 } = require('./helpers/stand-ins');

const userAgent =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.106 Safari/537.36';

const env = compatSuite({ httpbin: () => startHttpbin() }, { client: { port: 9606 } });

test('brotli, deflate and gzip bodies', async () => {
  for (const [route, flag] of [
    ['/brotli', 'brotli'],
    ['/deflate', 'deflated'],
    ['/gzip', 'gzipped'],
  ]) {
    const response = await env.cycleTLS(env.httpbin.url(route), { ja3, userAgent }, 'get');
    expect(response.status).toBe(200);
    // differs on purpose: bodies are decoded by default (cycletls 2.0.5 handed back the compressed bytes as a Buffer).
    expect(response.data).toMatchObject({ [flag]: true, method: 'GET' });
    expect(response.data.headers['User-Agent']).toBe(userAgent);
    // differs on purpose: Accept-Encoding is the preset's (gzip, deflate, br, zstd); cycletls sent none.
    expect(response.data.headers['Accept-Encoding']).toMatch(/^gzip, deflate, br/);
    // cycletls's raw bytes, on request.
    const raw = await env.cycleTLS(env.httpbin.url(route), { ja3, userAgent, decompress: false }, 'get');
    expect(Buffer.isBuffer(raw.data)).toBe(true);
    expect(raw.headers['Content-Encoding']).toEqual([
      { '/brotli': 'br', '/deflate': 'deflate', '/gzip': 'gzip' }[route],
    ]);
  }
});
