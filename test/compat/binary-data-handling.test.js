'use strict';
// Mirrors cycletls 2.0.5 tests/binary-data-handling.test.js: 8 of its 8 tests (binary bodies up and down through
// httpbin's /post and /image/*), against the local httpbin stand-in.
const crypto = require('node:crypto');
const { compatSuite } = require('./helpers/suite');
const { startHttpbin, imageBytes } = require('./helpers/httpbin');
const { FIREFOX_87_JA3: ja3, FIREFOX_87_UA: userAgent } = require('./helpers/stand-ins');

const md5 = (b) => crypto.createHash('md5').update(b).digest('hex');
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

// As in cycletls's file: a fresh client per test.
const env = compatSuite(
  { httpbin: () => startHttpbin() },
  { client: { port: 9601 }, freshClientPerTest: true },
);

/** What httpbin echoed as `data`, back to bytes the way cycletls's test reads it. */
async function echoedBytes(response) {
  const body = JSON.parse(await response.text());
  return Buffer.from(body.data, 'binary');
}

test('a binary string body with bytes that are not UTF-8 comes back intact', async () => {
  const bytes = Buffer.from([
    0xff, 0xd8, 0xff, 0xe0, 0x80, 0x81, 0x82, 0x83, 0x00, 0x01, 0x02, 0x03, 0xfe, 0xff, 0xc0, 0xc1, 0xef,
    0xbf, 0xbd, 0xf0, 0x90, 0x8d,
  ]);
  const response = await env.cycleTLS(
    env.httpbin.url('/post'),
    {
      body: bytes.toString('binary'),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length.toString() },
      ja3,
      userAgent,
    },
    'POST',
  );
  expect(response.status).toBe(200);
  expect(md5(await echoedBytes(response))).toBe(md5(bytes));
});

test('a JPEG downloads intact through arrayBuffer()', async () => {
  const response = await env.cycleTLS(env.httpbin.url('/image/jpeg'), { ja3, userAgent });
  expect(response.status).toBe(200);
  const bytes = new Uint8Array(await response.arrayBuffer());
  expect(bytes.length).toBeGreaterThan(2);
  expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
  expect(md5(Buffer.from(bytes))).toHaveLength(32);
});

test('an image uploaded as a binary string, then a JPEG downloaded', async () => {
  const image = imageBytes('jpeg');
  const upload = await env.cycleTLS(
    env.httpbin.url('/post'),
    { body: image.toString('binary'), headers: { 'Content-Type': 'image/jpeg' }, ja3, userAgent },
    'POST',
  );
  expect(upload.status).toBe(200);
  const download = await env.cycleTLS(env.httpbin.url('/image/jpeg'), { ja3, userAgent });
  expect(download.status).toBe(200);
  const got = Buffer.from(await download.arrayBuffer());
  expect([got[0], got[1]]).toEqual([0xff, 0xd8]);
  expect(sha256(got)).toHaveLength(64);
});

test('binary and JSON uploads on the same client both work', async () => {
  const binary = await env.cycleTLS(
    env.httpbin.url('/post'),
    {
      body: Buffer.from([0xff, 0x00, 0x01, 0x02, 0x80, 0x81, 0xfe, 0xff]).toString('binary'),
      headers: { 'Content-Type': 'application/octet-stream' },
      ja3,
      userAgent,
    },
    'POST',
  );
  expect(binary.status).toBe(200);
  const text = await env.cycleTLS(
    env.httpbin.url('/post'),
    {
      body: JSON.stringify({ message: 'Hello, world!', binary: true }),
      headers: { 'Content-Type': 'application/json' },
      ja3,
      userAgent,
    },
    'POST',
  );
  expect(text.status).toBe(200);
  const echoed = JSON.parse(await text.text());
  expect(echoed.json).toEqual({ message: 'Hello, world!', binary: true });
  expect(JSON.parse(await binary.text()).data).toBeDefined();
});

test('an 8 KB binary body is not corrupted', async () => {
  const pattern = Buffer.from([0xff, 0x00, 0x80, 0x81, 0xc0, 0xc1, 0xfe, 0xff]);
  const large = Buffer.concat(Array(1000).fill(pattern));
  const response = await env.cycleTLS(
    env.httpbin.url('/post'),
    {
      body: large.toString('binary'),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': large.length.toString() },
      ja3,
      userAgent,
    },
    'POST',
  );
  expect(response.status).toBe(200);
  const got = await echoedBytes(response);
  expect(md5(got)).toBe(md5(large));
  expect(got.length).toBe(large.length);
});

test('all 256 byte values survive', async () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const response = await env.cycleTLS(
    env.httpbin.url('/post'),
    { body: all.toString('binary'), headers: { 'Content-Type': 'application/octet-stream' }, ja3, userAgent },
    'POST',
  );
  expect(response.status).toBe(200);
  const got = await echoedBytes(response);
  expect(sha256(got)).toBe(sha256(all));
  expect(got.length).toBe(256);
  expect([...got]).toEqual([...all]);
});

test('arrayBuffer() of a PNG starts with the PNG signature', async () => {
  const response = await env.cycleTLS(env.httpbin.url('/image/png'), { ja3, userAgent });
  expect(response.status).toBe(200);
  const got = Buffer.from(await response.arrayBuffer());
  expect(got.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  expect(got.length).toBeGreaterThan(1000);
  expect(md5(got)).toHaveLength(32);
});

test('an empty binary body arrives as empty data', async () => {
  const response = await env.cycleTLS(
    env.httpbin.url('/post'),
    {
      body: Buffer.alloc(0).toString('binary'),
      headers: { 'Content-Type': 'application/octet-stream' },
      ja3,
      userAgent,
    },
    'POST',
  );
  expect(response.status).toBe(200);
  expect(JSON.parse(await response.text()).data).toBe('');
});
