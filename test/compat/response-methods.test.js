'use strict';
// Mirrors cycletls 2.0.5 tests/response-methods.test.js: 16 of its 16 tests (json(), text(), arrayBuffer() and
// blob() on buffered responses: results, errors, repeat calls, agreement with `data` and with each other), against
// the local httpbin stand-in.
const { Blob } = require('node:buffer');
const { compatSuite } = require('./helpers/suite');
const { startHttpbin } = require('./helpers/httpbin');
const { FIREFOX_87_JA3: ja3, FIREFOX_87_UA: userAgent } = require('./helpers/stand-ins');

const env = compatSuite({ httpbin: () => startHttpbin() }, { client: { port: 9618 } });

const get = (path, extra = {}) => env.cycleTLS(env.httpbin.url(path), { ja3, userAgent, ...extra });
/** ArrayBuffer of any realm (Jest's sandbox has its own ArrayBuffer global). */
const isArrayBuffer = (v) => Object.prototype.toString.call(v) === '[object ArrayBuffer]';

describe('json()', () => {
  test('parses a JSON body', async () => {
    const response = await get('/json');
    expect(response.status).toBe(200);
    expect(typeof response.json).toBe('function');
    const data = await response.json();
    expect(typeof data).toBe('object');
    expect(data).toHaveProperty('slideshow');
  });

  test('rejects on a body that is not JSON', async () => {
    const response = await get('/html');
    expect(response.status).toBe(200);
    await expect(response.json()).rejects.toThrow('Failed to parse response as JSON');
  });

  test('can be called more than once', async () => {
    const response = await get('/json');
    expect(await response.json()).toEqual(await response.json());
  });
});

describe('text()', () => {
  test('returns the HTML as a string', async () => {
    const response = await get('/html');
    expect(response.status).toBe(200);
    expect(typeof response.text).toBe('function');
    const text = await response.text();
    expect(typeof text).toBe('string');
    expect(text).toContain('<!DOCTYPE html>');
    expect(text).toContain('<html>');
  });

  test('returns plain text', async () => {
    const response = await get('/robots.txt');
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(typeof text).toBe('string');
    expect(text).toContain('User-agent');
  });

  test('can be called more than once', async () => {
    const response = await get('/robots.txt');
    expect(await response.text()).toEqual(await response.text());
  });
});

describe('arrayBuffer()', () => {
  test('returns an ArrayBuffer of the body', async () => {
    const response = await get('/bytes/1024');
    expect(response.status).toBe(200);
    expect(typeof response.arrayBuffer).toBe('function');
    const buffer = await response.arrayBuffer();
    expect(isArrayBuffer(buffer)).toBe(true);
    expect(buffer.byteLength).toBe(1024);
  });

  test('of another size', async () => {
    expect((await (await get('/bytes/512')).arrayBuffer()).byteLength).toBe(512);
  });

  test('can be called more than once', async () => {
    const response = await get('/bytes/256');
    const a = await response.arrayBuffer();
    const b = await response.arrayBuffer();
    expect(a.byteLength).toEqual(b.byteLength);
    expect(new Uint8Array(a)).toEqual(new Uint8Array(b));
  });
});

describe('blob()', () => {
  test('a Blob typed by Content-Type', async () => {
    const response = await get('/json');
    expect(response.status).toBe(200);
    expect(typeof response.blob).toBe('function');
    const blob = await response.blob();
    expect(blob instanceof Blob).toBe(true);
    expect(blob.type).toContain('application/json');
    expect(blob.size).toBeGreaterThan(0);
  });

  test('an HTML Blob', async () => {
    const blob = await (await get('/html')).blob();
    expect(blob instanceof Blob).toBe(true);
    expect(blob.type).toContain('text/html');
  });

  test('can be called more than once', async () => {
    const response = await get('/json');
    const a = await response.blob();
    const b = await response.blob();
    expect(a.size).toEqual(b.size);
    expect(a.type).toEqual(b.type);
  });
});

describe('methods beside data', () => {
  test('data and the four methods are all there and agree', async () => {
    const response = await get('/json');
    expect(response.data).toBeDefined();
    for (const m of ['json', 'text', 'arrayBuffer', 'blob']) expect(typeof response[m]).toBe('function');
    expect(response.data).toEqual(await response.json());
  });

  test('responseType text: data is the text, and text() agrees', async () => {
    const response = await get('/html', { responseType: 'text' });
    expect(typeof response.data).toBe('string');
    expect(response.data).toEqual(await response.text());
  });
});

describe('agreement between methods', () => {
  test('json() equals JSON.parse(text())', async () => {
    const response = await get('/json');
    expect(await response.json()).toEqual(JSON.parse(await response.text()));
  });

  test('arrayBuffer() and blob() have the same size', async () => {
    const response = await get('/bytes/1024');
    expect((await response.arrayBuffer()).byteLength).toEqual((await response.blob()).size);
  });
});
