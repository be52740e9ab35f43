'use strict';
// Mirrors cycletls 2.0.5 tests/streaming.test.js: 7 of its 7 tests (responseType 'stream' over httpbin's /stream/N:
// Buffer chunks, line counts, event order, methods present, a 404 stream; json and default responseTypes beside it),
// against the local httpbin stand-in.
const { compatSuite } = require('./helpers/suite');
const { startHttpbin } = require('./helpers/httpbin');
const { FIREFOX_87_JA3: ja3, FIREFOX_87_UA: userAgent } = require('./helpers/stand-ins');

const env = compatSuite({ httpbin: () => startHttpbin() }, { client: { port: 9623 } });

const stream = (path) => env.cycleTLS(env.httpbin.url(path), { responseType: 'stream', ja3, userAgent });

/** Collects a response stream: its chunks and the order of 'data' / 'end' events. */
function collect(readable) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const events = [];
    readable.on('data', (chunk) => {
      chunks.push(chunk);
      events.push('data');
    });
    readable.on('end', () => {
      events.push('end');
      resolve({ chunks, events, text: Buffer.concat(chunks).toString() });
    });
    readable.on('error', reject);
  });
}

describe("responseType: 'stream'", () => {
  test('/stream/3: Buffer chunks, three JSON lines naming the URL', async () => {
    const response = await stream('/stream/3');
    expect(response.status).toBe(200);
    expect(response.data).toBeDefined();
    expect(typeof response.data.on).toBe('function');
    expect(typeof response.data.pipe).toBe('function');
    const { chunks, text } = await collect(response.data);
    expect(chunks.length).toBeGreaterThan(0);
    for (const c of chunks) expect(Buffer.isBuffer(c)).toBe(true);
    expect(text).toContain(env.httpbin.url('/stream/3'));
    const lines = text.trim().split('\n');
    expect(lines.length).toBe(3);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });

  test('/stream/2: two JSON lines', async () => {
    const response = await stream('/stream/2');
    expect(response.status).toBe(200);
    const { chunks, text } = await collect(response.data);
    expect(text.length).toBeGreaterThan(0);
    expect(chunks.length).toBeGreaterThan(0);
    const lines = text.trim().split('\n');
    expect(lines.length).toBe(2);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });

  test('a stream response has the four methods; the stream gives the JSON line', async () => {
    const response = await stream('/stream/1');
    expect(response.status).toBe(200);
    for (const m of ['json', 'text', 'arrayBuffer', 'blob']) expect(typeof response[m]).toBe('function');
    const { text } = await collect(response.data);
    const json = JSON.parse(text.trim());
    expect(json).toHaveProperty('url');
    expect(json.url).toContain('stream/1');
  });
});

describe('buffered responseTypes beside it', () => {
  test("responseType 'json': data is the object, json() agrees", async () => {
    const response = await env.cycleTLS(env.httpbin.url('/json'), { responseType: 'json', ja3, userAgent });
    expect(response.status).toBe(200);
    expect(typeof response.data).toBe('object');
    expect(response.data).toHaveProperty('slideshow');
    expect(await response.json()).toEqual(response.data);
  });

  test('default responseType: data is the object', async () => {
    const response = await env.cycleTLS(env.httpbin.url('/json'), { ja3, userAgent });
    expect(response.status).toBe(200);
    expect(typeof response.data).toBe('object');
    expect(response.data).toHaveProperty('slideshow');
  });
});

test("stream events: only 'data' events, then 'end'", async () => {
  const response = await stream('/stream/2');
  const { events } = await collect(response.data);
  expect(events.length).toBeGreaterThan(1);
  expect(events[events.length - 1]).toBe('end');
  expect(events.filter((e) => e === 'data').length).toBe(events.length - 1);
});

test('a 404 is still a readable stream that ends', async () => {
  const response = await stream('/status/404');
  expect(response.status).toBe(404);
  expect(response.data).toBeDefined();
  expect(typeof response.data.on).toBe('function');
  await collect(response.data);
});
