'use strict';
// maxResponseBytes: a buffered body past it fails with ERR_BODY_TOO_LARGE (Content-Length and
// chunked bodies on HTTP/1.1, DATA frames on HTTP/2), counted after decoding, and the connection is
// not reused; at the limit it is delivered; streams are not limited; the init option is the
// default; the option is validated; without rejectOnError the response resolves with status 413.
const http2 = require('node:http2');
const zlib = require('node:zlib');
const initCycleTLS = require('../..');
const { startServer, certPair, patternBytes, uniquePort } = require('../helpers/servers');

const SIZE = 300 * 1024;
const body = patternBytes(SIZE, 3);
const text = Buffer.alloc(SIZE, 'z'); // compressible: a few hundred bytes on the wire
const gzipped = zlib.gzipSync(text);

let h1;
let h2;
let h2port;
let client;
beforeAll(async () => {
  h1 = await startServer({
    handler: (req, res) => {
      const url = new URL(req.url, 'https://x');
      if (url.pathname === '/length') {
        res.writeHead(200, { 'Content-Length': SIZE });
        res.end(body);
      } else if (url.pathname === '/chunked') {
        res.writeHead(200, {});
        for (let off = 0; off < SIZE; off += 32 * 1024) res.write(body.subarray(off, off + 32 * 1024));
        res.end();
      } else if (url.pathname === '/gzip') {
        res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': gzipped.length });
        res.end(gzipped);
      } else {
        res.end('small');
      }
    },
  });
  h2 = http2.createSecureServer({ ...certPair('server') });
  h2.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    if (headers[':path'] === '/small') stream.end('small');
    else stream.end(body);
  });
  await new Promise((resolve) => h2.listen(0, '127.0.0.1', resolve));
  h2port = h2.address().port;
  client = await initCycleTLS({ port: uniquePort(), rejectOnError: true });
});
afterAll(async () => {
  await client.exit();
  await h1.close();
  await new Promise((resolve) => h2.close(resolve));
});

const h2url = (p) => `https://localhost:${h2port}${p}`;
const tooLarge = {
  code: 'ERR_BODY_TOO_LARGE',
  stage: 'body',
  message: expect.stringMatching(/maxResponseBytes \(307199 bytes\)/),
};

test.each([
  ['HTTP/1.1 Content-Length', () => h1.url('/length')],
  ['HTTP/1.1 chunked', () => h1.url('/chunked')],
  ['HTTP/2', () => h2url('/big')],
])('%s: one byte over the limit is ERR_BODY_TOO_LARGE; at the limit the body is whole', async (_, url) => {
  await expect(
    client.get(url(), { responseType: 'arraybuffer', maxResponseBytes: SIZE - 1 }),
  ).rejects.toMatchObject(tooLarge);
  const r = await client.get(url(), { responseType: 'arraybuffer', maxResponseBytes: SIZE });
  expect(Buffer.from(r.data).equals(body)).toBe(true);
});

test('HTTP/1.1: the connection of a refused body is closed, not reused', async () => {
  const warm = await client.get(h1.url('/small'), { responseType: 'text' });
  await expect(
    client.get(h1.url('/length'), { responseType: 'text', maxResponseBytes: 1000 }),
  ).rejects.toMatchObject({ code: 'ERR_BODY_TOO_LARGE' });
  const next = await client.get(h1.url('/small'), { responseType: 'text' });
  expect(next.connection.id).not.toBe(warm.connection.id);
});

test('HTTP/2: the other streams of the connection are unaffected', async () => {
  const [big, small] = await Promise.all([
    client.get(h2url('/big'), { responseType: 'arraybuffer', maxResponseBytes: 1000 }).then(
      () => null,
      (e) => e,
    ),
    client.get(h2url('/small'), { responseType: 'text' }),
  ]);
  expect(big).toMatchObject({ code: 'ERR_BODY_TOO_LARGE' });
  expect(small.data).toBe('small');
});

test('decoded bytes count: a gzip body small on the wire is refused by its decoded size', async () => {
  expect(gzipped.length).toBeLessThan(4096);
  await expect(
    client.get(h1.url('/gzip'), { responseType: 'arraybuffer', maxResponseBytes: SIZE - 1 }),
  ).rejects.toMatchObject(tooLarge);
  const r = await client.get(h1.url('/gzip'), { responseType: 'arraybuffer', maxResponseBytes: SIZE });
  expect(Buffer.from(r.data).equals(text)).toBe(true);
});

test.each([
  ['HTTP/1.1', () => h1.url('/chunked')],
  ['HTTP/2', () => h2url('/big')],
])('%s: a stream is not limited', async (_, url) => {
  const r = await client.get(url(), { responseType: 'stream', maxResponseBytes: 1000 });
  const chunks = [];
  for await (const c of r.data) chunks.push(c);
  expect(Buffer.concat(chunks).equals(body)).toBe(true);
});

test('the initCycleTLS option is the default; a request option overrides it', async () => {
  const limited = await initCycleTLS({ port: uniquePort(), rejectOnError: true, maxResponseBytes: 1000 });
  try {
    await expect(limited.get(h1.url('/length'), { responseType: 'arraybuffer' })).rejects.toMatchObject({
      code: 'ERR_BODY_TOO_LARGE',
    });
    const r = await limited.get(h1.url('/length'), { responseType: 'arraybuffer', maxResponseBytes: SIZE });
    expect(r.data.byteLength).toBe(SIZE);
  } finally {
    await limited.exit();
  }
});

test('without rejectOnError the failure resolves with status 413 and the code', async () => {
  const r = await client.get(h1.url('/length'), {
    responseType: 'text',
    maxResponseBytes: 1000,
    rejectOnError: false,
  });
  expect(r.status).toBe(413);
  expect(r.error).toMatchObject({ code: 'ERR_BODY_TOO_LARGE', stage: 'body' });
});

test('maxResponseBytes is validated', async () => {
  for (const bad of [0, -1, 1.5, '1', Number.MAX_SAFE_INTEGER + 2]) {
    await expect(client.get(h1.url('/small'), { maxResponseBytes: bad })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  }
  await expect(initCycleTLS({ port: uniquePort(), maxResponseBytes: 0 })).rejects.toMatchObject({
    code: 'ERR_INVALID_OPTION',
  });
});
