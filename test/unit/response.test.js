'use strict';
// Unit tests of the cycletls-shaped response (lib/response.ts) and the status mapping (lib/errors.ts).
const { Blob, Buffer } = require('node:buffer');

const { Readable } = require('node:stream');

const {
  canonicalHeaderName,
  canonicalNamesKept,
  headersToCycleTLS,
  bufferedResponse,
  streamResponse,
  unreadableResponse,
  bodyMethods,
} = require('../../dist/response');
const { errorResponse } = require('../../dist/failure');
const { CycleTLSError, compatStatus, errorCodes, isErrorCode } = require('../../dist/errors');

function meta(rawHeaders = ['Content-Type', 'application/json'], extra = {}) {
  return {
    requestId: '1:1',
    status: 200,
    statusText: 'OK',
    httpVersion: '1.1',
    rawHeaders,
    finalUrl: 'https://example.test/final',
    protocol: 'http/1.1',
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', alpn: 'http/1.1' },
    connection: { id: 3, reused: true },
    fingerprint: null,
    redirects: 1,
    ...extra,
  };
}

/** A small Buffer that lives inside Node's shared 8 KiB pool, at a non-zero offset. */
function pooled(text) {
  Buffer.from('padding so the next buffer has an offset');
  const b = Buffer.from(text);
  return b;
}

describe('canonicalHeaderName (Go CanonicalMIMEHeaderKey)', () => {
  test.each([
    ['content-type', 'Content-Type'],
    ['CONTENT-TYPE', 'Content-Type'],
    ['Content-Type', 'Content-Type'],
    ['x-MULTI-word', 'X-Multi-Word'],
    ['set-cookie', 'Set-Cookie'],
    ['etag', 'Etag'],
    ['WWW-AUTHENTICATE', 'Www-Authenticate'],
    ['x', 'X'],
    ['a--b', 'A--B'],
    ['-leading', '-Leading'],
    ['trailing-', 'Trailing-'],
    ['x-1st-2nd', 'X-1st-2nd'],
    ['foo_bar', 'Foo_bar'],
    ['x.y-z', 'X.y-Z'],
  ])('%p → %p', (input, expected) => {
    expect(canonicalHeaderName(input)).toBe(expected);
  });

  test.each([['bad name'], ['x-bad name'], ['a:b'], ['héader'], ['x(y)'], ['tab\tname'], ['']])(
    'a name with invalid token characters is returned unchanged: %j',
    (input) => {
      expect(canonicalHeaderName(input)).toBe(input);
    },
  );
});

describe('canonicalHeaderName keeps the spellings it made, up to a bound', () => {
  test('a name asked again gets the same spelling; invented names past the bound are still spelled', () => {
    expect(canonicalHeaderName('x-kept-name')).toBe('X-Kept-Name');
    expect(canonicalHeaderName('x-kept-name')).toBe('X-Kept-Name');
    for (let i = 0; i < 5000; i++) canonicalHeaderName(`x-invented-${i}`);
    expect(canonicalNamesKept()).toBeLessThanOrEqual(1024);
    expect(canonicalHeaderName('x-invented-4999')).toBe('X-Invented-4999');
    expect(canonicalHeaderName('x-never-seen-before')).toBe('X-Never-Seen-Before');
    expect(canonicalHeaderName('x-kept-name')).toBe('X-Kept-Name');
  });
});

describe('headersToCycleTLS', () => {
  test('canonical names, every value an array of strings', () => {
    expect(headersToCycleTLS(['content-type', 'application/json', 'x-one', '1'])).toEqual({
      'Content-Type': ['application/json'],
      'X-One': ['1'],
    });
  });

  test('repeated names (in any casing) are grouped into one array, in wire order', () => {
    const raw = [
      'Set-Cookie',
      'c1=v1; Path=/',
      'x-multi',
      'a',
      'set-cookie',
      'c2=v2; Path=/',
      'X-MULTI',
      'b',
      'SET-COOKIE',
      'c3=v3',
    ];
    const h = headersToCycleTLS(raw);
    expect(h).toEqual({ 'Set-Cookie': ['c1=v1; Path=/', 'c2=v2; Path=/', 'c3=v3'], 'X-Multi': ['a', 'b'] });
    expect(Object.keys(h)).toEqual(['Set-Cookie', 'X-Multi']);
  });

  test('empty input → {}; empty values are kept; a dangling name is ignored', () => {
    expect(headersToCycleTLS([])).toEqual({});
    expect(headersToCycleTLS(['x-empty', ''])).toEqual({ 'X-Empty': [''] });
    expect(headersToCycleTLS(['a', '1', 'dangling'])).toEqual({ A: ['1'] });
  });

  test('a __proto__ header is an own key like any other (it was a TypeError)', () => {
    const h = headersToCycleTLS(['__proto__', 'x', 'a', '1', '__proto__', 'y']);
    expect(Object.keys(h)).toEqual(['__proto__', 'A']);
    expect(Object.getOwnPropertyDescriptor(h, '__proto__').value).toEqual(['x', 'y']);
    expect(Object.getPrototypeOf(h)).toBe(Object.prototype);
  });

  test('the input array is not modified', () => {
    const raw = ['content-type', 'text/plain'];
    headersToCycleTLS(raw);
    expect(raw).toEqual(['content-type', 'text/plain']);
  });
});

describe('compatStatus (the status cycletls resolves failures with)', () => {
  test.each([
    ['ERR_TIMEOUT', 408],
    ['ERR_CONNECT_TIMEOUT', 408],
    ['ERR_TLS_CERT', 495],
    ['ERR_TLS_HANDSHAKE', 495],
    // A TLS handshake failure too, as cycletls's Go client would report it.
    ['ERR_ECH_REJECTED', 495],
    ['ERR_CONNECT_REFUSED', 502],
    ['ERR_DNS', 421],
    // Documented in lib/errors.ts, as cycletls: proxy failures 502, other dial errors 421.
    ['ERR_PROXY', 502],
    ['ERR_CONNECT', 421],
    // cycletls has no size limit: a body over maxResponseBytes is "Content Too Large".
    ['ERR_BODY_TOO_LARGE', 413],
  ])('%s → %i', (code, status) => {
    expect(compatStatus(code)).toBe(status);
  });

  const mapped = new Set([
    'ERR_TIMEOUT',
    'ERR_CONNECT_TIMEOUT',
    'ERR_TLS_CERT',
    'ERR_TLS_HANDSHAKE',
    'ERR_ECH_REJECTED',
    'ERR_CONNECT_REFUSED',
    'ERR_DNS',
    'ERR_PROXY',
    'ERR_CONNECT',
    'ERR_BODY_TOO_LARGE',
  ]);
  test.each(errorCodes.filter((c) => !mapped.has(c)).map((c) => [c]))('%s → 0', (code) => {
    expect(compatStatus(code)).toBe(0);
  });

  test('the error vocabulary', () => {
    expect(errorCodes).toContain('ERR_INVALID_OPTION');
    expect(errorCodes).toContain('ERR_NOT_IMPLEMENTED');
    expect(isErrorCode('ERR_TIMEOUT')).toBe(true);
    expect(isErrorCode('ERR_NOPE')).toBe(false);
  });
});

describe('CycleTLSError', () => {
  test('code, stage, retryable, name and toJSON', () => {
    const err = new CycleTLSError('ERR_TIMEOUT', 'timed out', 'headers');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('CycleTLSError');
    expect(err.code).toBe('ERR_TIMEOUT');
    expect(err.stage).toBe('headers');
    expect(err.retryable).toBe(true);
    expect(err.toJSON()).toEqual({ code: 'ERR_TIMEOUT', stage: 'headers', message: 'timed out' });
    expect(new CycleTLSError('ERR_TLS_CERT', 'bad cert').retryable).toBe(false);
    expect(new CycleTLSError('ERR_INTERNAL', 'x').stage).toBe('engine');
  });
});

describe('bufferedResponse: response shape', () => {
  test('carries the metadata in cycletls shape plus the extras', () => {
    const m = meta(['content-type', 'application/json', 'x-multi', 'a', 'X-Multi', 'b']);
    const r = bufferedResponse(m, Buffer.from('{}'), 'json');
    expect(r).toMatchObject({
      status: 200,
      statusText: 'OK',
      headers: { 'Content-Type': ['application/json'], 'X-Multi': ['a', 'b'] },
      rawHeaders: ['content-type', 'application/json', 'x-multi', 'a', 'X-Multi', 'b'],
      finalUrl: 'https://example.test/final',
      requestId: '1:1',
      httpVersion: '1.1',
      protocol: 'http/1.1',
      tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', alpn: 'http/1.1' },
      connection: { id: 3, reused: true },
      redirects: 1,
    });
    expect(r.error).toBeUndefined();
    for (const m2 of ['json', 'text', 'arrayBuffer', 'blob']) expect(typeof r[m2]).toBe('function');
  });

  test('headers are a plain own property', () => {
    const r = bufferedResponse(meta(['set-cookie', 'a=1', 'Set-Cookie', 'b=2']), Buffer.from('{}'), 'json');
    // cycletls's own keys, in its order, among ours.
    const keys = Object.keys(r);
    expect(keys.filter((k) => ['status', 'headers', 'finalUrl', 'data', 'json'].includes(k))).toEqual([
      'status',
      'headers',
      'finalUrl',
      'data',
      'json',
    ]);
    expect(r.headers).toBe(r.headers); // the same map on every read
    expect(JSON.parse(JSON.stringify(r)).headers).toEqual({ 'Set-Cookie': ['a=1', 'b=2'] });
    expect({ ...r }.headers).toEqual({ 'Set-Cookie': ['a=1', 'b=2'] });
    r.headers['X-Added'] = ['1'];
    expect(r.headers['X-Added']).toEqual(['1']);
    r.headers = { Only: ['this'] };
    expect(r.headers).toEqual({ Only: ['this'] });
  });
});

describe('bufferedResponse: data per responseType', () => {
  test('json (default): parsed JSON', () => {
    expect(bufferedResponse(meta(), Buffer.from('{"a":[1,2],"b":"é"}'), 'json').data).toEqual({
      a: [1, 2],
      b: 'é',
    });
    expect(bufferedResponse(meta(), Buffer.from('42'), 'json').data).toBe(42);
    expect(bufferedResponse(meta(), Buffer.from('null'), 'json').data).toBeNull();
  });

  test('json: a non-JSON body → the raw Buffer (cycletls)', () => {
    const body = Buffer.from('<html>not json</html>');
    const r = bufferedResponse(meta(['Content-Type', 'text/html']), body, 'json');
    expect(Buffer.isBuffer(r.data)).toBe(true);
    expect(r.data.toString()).toBe('<html>not json</html>');
  });

  test('json: binary (e.g. gzip) bytes → the raw Buffer', () => {
    const body = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff]);
    const r = bufferedResponse(meta(['Content-Encoding', 'gzip']), body, 'json');
    expect(Buffer.isBuffer(r.data)).toBe(true);
    expect([...r.data]).toEqual([0x1f, 0x8b, 0x08, 0x00, 0xff]);
  });

  test('json: an empty body → an empty Buffer', () => {
    const r = bufferedResponse(meta([]), Buffer.alloc(0), 'json');
    expect(Buffer.isBuffer(r.data)).toBe(true);
    expect(r.data.length).toBe(0);
  });

  test('text: the UTF-8 string (JSON not parsed)', () => {
    expect(bufferedResponse(meta(), Buffer.from('héllo wörld'), 'text').data).toBe('héllo wörld');
    expect(bufferedResponse(meta(), Buffer.from('{"a":1}'), 'text').data).toBe('{"a":1}');
    expect(bufferedResponse(meta(), Buffer.alloc(0), 'text').data).toBe('');
  });

  test('arraybuffer: exactly the body bytes, not the whole pool slab', () => {
    const body = pooled('abc');
    expect(body.buffer.byteLength).toBeGreaterThan(3); // the precondition: a view into a larger slab
    const r = bufferedResponse(meta(), body, 'arraybuffer');
    expect(r.data).toBeInstanceOf(ArrayBuffer);
    expect(r.data.byteLength).toBe(3);
    expect(Buffer.from(r.data).toString()).toBe('abc');
  });

  test('arraybuffer: a subarray at an offset → its own bytes only', () => {
    const big = Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const r = bufferedResponse(meta(), big.subarray(3, 6), 'arraybuffer');
    expect([...new Uint8Array(r.data)]).toEqual([3, 4, 5]);
  });

  test('blob: a Blob with the response content-type (any header casing)', async () => {
    const r = bufferedResponse(
      meta(['content-TYPE', 'text/plain; charset=utf-8']),
      Buffer.from('héllo'),
      'blob',
    );
    expect(r.data).toBeInstanceOf(Blob);
    expect(r.data.type).toBe('text/plain; charset=utf-8');
    expect(r.data.size).toBe(Buffer.byteLength('héllo'));
    expect(await r.data.text()).toBe('héllo');
  });

  test('blob: no content-type → type ""', () => {
    const r = bufferedResponse(meta([]), Buffer.from('x'), 'blob');
    expect(r.data.type).toBe('');
  });
});

describe('bufferedResponse: methods', () => {
  test('json() resolves the parsed body, repeatedly', async () => {
    const r = bufferedResponse(meta(), Buffer.from('{"a":1}'), 'text');
    expect(await r.json()).toEqual({ a: 1 });
    expect(await r.json()).toEqual({ a: 1 });
  });

  test("json() rejects with 'Failed to parse response as JSON' for non-JSON, repeatedly", async () => {
    const r = bufferedResponse(
      meta(['Content-Type', 'text/html']),
      Buffer.from('<html>not json</html>'),
      'json',
    );
    await expect(r.json()).rejects.toThrow(/^Failed to parse response as JSON/);
    await expect(r.json()).rejects.toThrow(/^Failed to parse response as JSON/);
    // The other methods still work after a failed json().
    expect(await r.text()).toBe('<html>not json</html>');
  });

  test('json() of an empty body rejects too', async () => {
    const r = bufferedResponse(meta([]), Buffer.alloc(0), 'json');
    await expect(r.json()).rejects.toThrow(/Failed to parse response as JSON/);
  });

  test('text(), arrayBuffer() and blob() are repeatable and independent of responseType', async () => {
    const body = pooled('{"k":"v"}');
    for (const rt of ['json', 'text', 'arraybuffer', 'blob']) {
      const r = bufferedResponse(meta(['Content-Type', 'application/json']), body, rt);
      expect(await r.text()).toBe('{"k":"v"}');
      expect(await r.text()).toBe('{"k":"v"}');
      const ab1 = await r.arrayBuffer();
      const ab2 = await r.arrayBuffer();
      expect(ab1.byteLength).toBe(body.length);
      expect(Buffer.from(ab2).toString()).toBe('{"k":"v"}');
      // Each call gives a fresh copy: writing into one does not change the next.
      new Uint8Array(ab1)[0] = 0;
      expect(Buffer.from(await r.arrayBuffer()).toString()).toBe('{"k":"v"}');
      const blob = await r.blob();
      expect(blob.type).toBe('application/json');
      expect(await blob.text()).toBe('{"k":"v"}');
      expect(await (await r.blob()).text()).toBe('{"k":"v"}');
      expect(await r.json()).toEqual({ k: 'v' });
    }
  });
});

describe('body methods are shared, not made per response', () => {
  const keys = (r) => Object.keys(r);

  test('every response has the same four functions; each reads its own body', async () => {
    const a = bufferedResponse(meta(), Buffer.from('{"a":1}'), 'json');
    const b = bufferedResponse(meta(), Buffer.from('{"b":2}'), 'text');
    for (const m of ['json', 'text', 'arrayBuffer', 'blob']) expect(a[m]).toBe(b[m]);
    await expect(a.json()).resolves.toEqual({ a: 1 });
    await expect(b.json()).resolves.toEqual({ b: 2 });
    expect(Buffer.from(await b.arrayBuffer()).toString()).toBe('{"b":2}');
  });

  test('a spread or Object.assign copy keeps working methods and the same keys', async () => {
    const r = bufferedResponse(meta(), Buffer.from('copied'), 'text');
    const spread = { ...r };
    const assigned = Object.assign({}, r);
    await expect(spread.text()).resolves.toBe('copied');
    await expect(assigned.text()).resolves.toBe('copied');
    expect(keys(spread)).toEqual(keys(r));
    expect(JSON.stringify(spread)).toBe(JSON.stringify(r));
  });

  test('the body holder is invisible to keys, for-in and JSON', () => {
    const r = bufferedResponse(meta(), Buffer.from('{}'), 'json');
    expect(keys(r)).toEqual([
      'status',
      'statusText',
      'headers',
      'rawHeaders',
      'finalUrl',
      'requestId',
      'httpVersion',
      'protocol',
      'tls',
      'connection',
      'fingerprint',
      'redirects',
      'data',
      'json',
      'text',
      'arrayBuffer',
      'blob',
    ]);
    const forIn = [];
    for (const k in r) forIn.push(k);
    expect(forIn).toEqual(keys(r));
    expect(Object.keys(JSON.parse(JSON.stringify(r)))).toEqual(keys(r).slice(0, 13));
  });

  test('a method called off its response rejects with a TypeError that says how to call it', async () => {
    const { json } = bufferedResponse(meta(), Buffer.from('{}'), 'json');
    await expect(json()).rejects.toThrow(TypeError);
    await expect(json()).rejects.toThrow('response.json()');
  });

  test('a streamed response: same keys and order, headers made on read, the stream collected once', async () => {
    const stream = Readable.from([Buffer.from('{"x"'), Buffer.from(':1}')]);
    const r = streamResponse(meta(['x-a', '1', 'X-A', '2']), stream);
    expect(keys(r)).toEqual(keys(bufferedResponse(meta(), Buffer.from('{}'), 'json')));
    expect(r.data).toBe(stream);
    expect(r.headers).toEqual({ 'X-A': ['1', '2'] });
    expect(r.headers).toBe(r.headers);
    await expect(r.json()).resolves.toEqual({ x: 1 });
    await expect(r.text()).resolves.toBe('{"x":1}');
    expect(await r.blob()).toBeInstanceOf(Blob);
  });

  test('an unreadable response (a WebSocket, an event stream) rejects its body methods with ERR_INVALID_OPTION', async () => {
    const r = unreadableResponse(meta(), 'read it with onMessage()');
    expect(r.data).toBeNull();
    await expect(r.text()).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
      message: 'read it with onMessage()',
    });
  });

  test('bodyMethods over a response replaces what the methods read', async () => {
    const r = { ...unreadableResponse(meta(), 'no'), ...bodyMethods(Buffer.from('now readable')) };
    await expect(r.text()).resolves.toBe('now readable');
  });
});

describe('errorResponse (failures resolved the cycletls way)', () => {
  test("shape: synthetic status, data in cycletls's words, error {code, stage, message}, no headers", async () => {
    const err = new CycleTLSError('ERR_TIMEOUT', 'timed out after 100 ms (headers)', 'headers');
    const r = errorResponse(err, { method: 'GET', url: 'https://example.test/slow' }, '7:3');
    expect(r.status).toBe(408);
    expect(r.data).toBe(
      'Request timeout: deadline exceeded-> \nGet "https://example.test/slow": net/http: request canceled (Client.Timeout exceeded while awaiting headers)',
    );
    expect(r.error).toEqual({
      code: 'ERR_TIMEOUT',
      stage: 'headers',
      message: 'timed out after 100 ms (headers)',
    });
    expect(r.headers).toEqual({});
    expect(r.rawHeaders).toEqual([]);
    expect(r.finalUrl).toBe('https://example.test/slow');
    expect(r.requestId).toBe('7:3');
    expect(r.tls).toBeNull();
    expect(r.connection).toEqual({ id: 0, reused: false, tlsResumed: false, protocol: '' });
    expect(r.redirects).toBe(0);
  });

  test('json() resolves {} (cycletls), text() the message, arrayBuffer() empty, blob() a text blob', async () => {
    const r = errorResponse(
      new CycleTLSError('ERR_CONNECT_REFUSED', 'connect to x.test:443 failed: Connection refused', 'connect'),
      { method: 'GET', url: 'https://x.test/' },
      '1:1',
    );
    expect(r.status).toBe(502);
    await expect(r.json()).resolves.toEqual({});
    await expect(r.json()).resolves.toEqual({});
    const refused = 'Get "https://x.test/": dial tcp x.test:443: connect: connection refused';
    expect(await r.text()).toBe(`Request returned a Syscall Error: ${refused}-> \n${refused}`);
    expect(r.error.message).toBe('connect to x.test:443 failed: Connection refused');
    const ab = await r.arrayBuffer();
    expect(ab).toBeInstanceOf(ArrayBuffer);
    expect(ab.byteLength).toBe(0);
    const blob = await r.blob();
    expect(blob.type).toBe('text/plain');
    expect(await blob.text()).toBe(r.data);
  });

  test.each([
    ['ERR_TLS_CERT', 495],
    ['ERR_TLS_HANDSHAKE', 495],
    ['ERR_DNS', 421],
    ['ERR_CONNECT_TIMEOUT', 408],
    ['ERR_PROTOCOL', 0],
    ['ERR_ABORTED', 0],
    ['ERR_INTERNAL', 0],
  ])('%s → status %i', (code, status) => {
    expect(
      errorResponse(new CycleTLSError(code, 'm'), { method: 'GET', url: 'https://x.test/' }, '1:1').status,
    ).toBe(status);
  });

  test('an error after the head keeps the real headers and metadata', () => {
    const m = meta(['content-type', 'text/plain', 'content-length', '100']);
    const r = errorResponse(
      new CycleTLSError('ERR_TIMEOUT', 'timed out (body)', 'body'),
      { method: 'GET', url: 'https://example.test/start' },
      '2:5',
      m,
    );
    expect(r.status).toBe(408);
    expect(r.headers).toEqual({ 'Content-Type': ['text/plain'], 'Content-Length': ['100'] });
    expect(r.rawHeaders).toEqual(['content-type', 'text/plain', 'content-length', '100']);
    expect(r.finalUrl).toBe('https://example.test/final');
    expect(r.requestId).toBe('2:5');
    expect(r.data).toBe('Request timeout: deadline exceeded'); // cycletls: the summary alone after the head
    expect(r.error).toEqual({ code: 'ERR_TIMEOUT', stage: 'body', message: 'timed out (body)' });
  });
});
