'use strict';
// The bad-input matrix against a real local HTTPS server. cycletls 2.0.5 hangs forever (and poisons
// the whole instance) on many of these inputs (notes §5.5); here every wrong input must reject at
// once with a TypeError/RangeError (code ERR_INVALID_OPTION) naming the option, every input that is
// valid for us must simply work, and the engine must stay healthy for every client on the port.
const { Buffer } = require('node:buffer');
const util = require('node:util');

const initCycleTLS = require('../..');
const { startServer, patternBytes, uniquePort } = require('../helpers/servers');

const GUARD_MS = 10_000;

// Jest runs this file in a sandbox whose `process` is a copy of the worker's, and Jest 30 listens
// for unhandled rejections on the real one: the spy below watches both.
const jestStateSymbol = Object.getOwnPropertySymbols(globalThis).find(
  (s) => s.description === 'JEST_STATE_SYMBOL',
);
const realProcess =
  (jestStateSymbol && globalThis[jestStateSymbol] && globalThis[jestStateSymbol].parentProcess) || process;

let server;
let client;
let port;
/** Request options (kept as a helper so every request in this file goes through one place). */
const o = (options = {}) => options;

beforeAll(async () => {
  server = await startServer();
  // Node's parser refuses request heads over 16 KiB by default; the long-URL case needs more.
  server.server.maxHeaderSize = 1024 * 1024;
  port = uniquePort();
  client = await initCycleTLS({ port });
  const probe = await client(server.url('/echo'));
  if (probe.status !== 200) throw new Error(`the server is not usable: ${probe.status}`);
});

afterAll(async () => {
  if (client) await client.exit();
  if (server) await server.close();
});

/**
 * Calls `call()` and waits for its promise to settle, failing the test if the call throws
 * synchronously, does not return a promise, or does not settle within GUARD_MS.
 * Returns { value } or { error }.
 */
async function settle(call) {
  let promise;
  try {
    promise = call();
  } catch (err) {
    throw new Error(`the call threw synchronously instead of rejecting: ${err && err.stack}`);
  }
  if (!promise || typeof promise.then !== 'function') throw new Error('the call did not return a promise');
  let timer;
  const guard = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ hung: true }), GUARD_MS);
  });
  const outcome = await Promise.race([
    promise.then(
      (value) => ({ value }),
      (error) => ({ error }),
    ),
    guard,
  ]);
  clearTimeout(timer);
  if (outcome.hung)
    throw new Error(`the call neither resolved nor rejected within ${GUARD_MS} ms (it hangs)`);
  return outcome;
}

function describeValue(v) {
  return util.inspect(v, { breakLength: Infinity, depth: 3, maxStringLength: 40 });
}

function expectInvalidOption(outcome, namePattern) {
  if (!outcome.error) {
    const v = outcome.value;
    throw new Error(
      `expected a rejection, got a response: status ${v && v.status}, error ${describeValue(v && v.error)}`,
    );
  }
  const err = outcome.error;
  expect(err instanceof TypeError || err instanceof RangeError).toBe(true);
  expect(err.code).toBe('ERR_INVALID_OPTION');
  expect(err.message).toMatch(namePattern);
}

// [option, pattern the message must match, [values...]]: each value is tried as options[option].
const OPTION_MATRIX = [
  ['headers', /option "headers"/, [5, 'x', [], true, [['a', 'b']], new Map([['a', 'b']])]],
  [
    'headers',
    /header "a"/,
    [
      { a: {} },
      { a: null },
      { a: [{}] },
      { a: 'x\r\ny' },
      { a: 'x\ny' },
      { a: 'x\0y' },
      { a: Symbol('s') },
      { a: () => 1 },
    ],
  ],
  ['headers', /header name/, [{ 'bad name': 'v' }, { '': 'v' }, { 'a:b': 'v' }, { 'x\r\ny': 'v' }]],
  ['cookies', /option "cookies"/, ['a=b', 5, true, { a: {} }, { a: 'x;y' }, { 'bad name': '1' }]],
  [
    'cookies',
    /option "cookies\[\d\]"/,
    [
      [5],
      ['a=b'],
      [null],
      [{}],
      [{ name: 'a', value: {} }],
      [{ name: 'a', value: 'x;y' }],
      [{ name: 'a', value: 'x\r\ny' }],
      [{ name: '', value: 'x' }],
      [{ name: 'bad name', value: 'x' }],
      [{ name: 'ok', value: '1' }, { value: '2' }],
    ],
  ],
  ['body', /option "body"/, [5, {}, true, Symbol('s'), [1, 2], new Date(0), () => {}]],
  ['bodyBytes', /option "bodyBytes"/, [5, '***not base64***', {}, true, [1, 2]]],
  ['responseType', /option "responseType"/, ['xml', 5, '', 'JSON', {}]],
  ['timeout', /option "timeout"/, ['5', -1, NaN, Infinity, -Infinity, {}, true, [1]]],
  ['userAgent', /option "userAgent"/, [5, {}, true, 'a\nb', 'a\r\nX-Injected: 1', 'a\0b']],
  ['serverName', /option "serverName"/, [5, {}, 'bad name/', 'a b', 'x\r\n']],
  ['insecureSkipVerify', /option "insecureSkipVerify"/, ['yes', 1, {}]],
  ['forceHTTP1', /option "forceHTTP1"/, ['yes', 1, {}]],
  ['disableRedirect', /option "disableRedirect"/, ['yes', 1, {}]],
  ['rejectOnError', /option "rejectOnError"/, ['yes', 1]],
  ['forceHTTP3', /option "forceHTTP3"/, ['yes', 1]],
  ['disableGrease', /option "disableGrease"/, ['yes', 1]],
  ['enableConnectionReuse', /option "enableConnectionReuse"/, ['yes', 1]],
  ['orderAsProvided', /option "orderAsProvided"/, ['yes']],
  ['tls13AutoRetry', /option "tls13AutoRetry"/, [1]],
  ['headerOrder', /option "headerOrder"/, ['a', [1], ['a', null], {}, 5]],
  ['method', /method/, [5, 'BAD METHOD', 'GET\r\nX-Injected: 1', 'a/b', {}, true]],
  ['url', /url/i, [5, 'not a url', 'ftp://x', {}, true, 'file:///etc/passwd']],
  ['signal', /option "signal"/, [{}, 'x', 5, { aborted: 'no', addEventListener() {} }]],
  ['maxRedirects', /option "maxRedirects"/, [-1, 1.5, '3', NaN, Infinity]],
  ['ja3', /option "ja3"/, [5, {}]],
  ['ja4r', /option "ja4r"/, [5]],
  ['http2Fingerprint', /option "http2Fingerprint"/, [5]],
  ['proxy', /option "proxy"/, [5, {}]],
  ['protocol', /option "protocol"/, [5, 'gopher', 'HTTP1']],
];

const OPTION_CASES = [];
for (const [option, pattern, values] of OPTION_MATRIX) {
  for (const value of values)
    OPTION_CASES.push([`${option}: ${describeValue(value)}`, option, value, pattern]);
}

describe('bad-input matrix: every wrong input rejects at once, naming the option', () => {
  const unhandled = [];
  const spy = (reason) => unhandled.push(reason);
  // Node emits unhandledRejection on the worker's real process, not on the sandbox's copy: the spy
  // goes on both.
  const targets = realProcess === process ? [process] : [process, realProcess];

  beforeAll(() => {
    for (const t of targets) t.on('unhandledRejection', spy);
  });

  afterAll(() => {
    for (const t of targets) t.off('unhandledRejection', spy);
  });

  test.each(OPTION_CASES)('%s', async (_label, option, value, pattern) => {
    const outcome = await settle(() => client(server.url('/echo'), { [option]: value }));
    expectInvalidOption(outcome, pattern);
  });

  test.each([
    ['5', 5],
    ['"x"', 'x'],
    ['[]', []],
    ['true', true],
    ['[{}]', [{}]],
    ['a Map', new Map()],
  ])('the options argument itself: %s → TypeError', async (_label, options) => {
    const outcome = await settle(() => client(server.url('/echo'), options));
    expectInvalidOption(outcome, /options must be an object/);
    expect(outcome.error).toBeInstanceOf(TypeError);
  });

  test.each([
    ['5', 5],
    ['"not a url"', 'not a url'],
    ['"ftp://x"', 'ftp://x'],
    ['null', null],
    ['undefined', undefined],
    ['{}', {}],
    ['Symbol', Symbol('u')],
  ])('the url argument: %s → TypeError naming the url', async (_label, url) => {
    const outcome = await settle(() => client(url, {}));
    expectInvalidOption(outcome, /url/i);
    expect(outcome.error).toBeInstanceOf(TypeError);
  });

  test('an invalid URL says "Invalid URL", as cycletls does', async () => {
    const outcome = await settle(() => client('not a url', {}));
    expect(outcome.error.message).toMatch(/Invalid URL/);
  });

  test('options.url overrides the url argument, and is validated', async () => {
    expectInvalidOption(await settle(() => client(server.url('/echo'), { url: 'not a url' })), /Invalid URL/);
    expectInvalidOption(await settle(() => client('https://unused.invalid/', { url: 5 })), /url/);
  });

  test.each([
    ['5', 5],
    ['"BAD METHOD"', 'BAD METHOD'],
    ['"GET /x HTTP/1.1\\r\\n"', 'GET /x HTTP/1.1\r\n'],
    ['{}', {}],
  ])('the method argument: %s → TypeError naming the method', async (_label, method) => {
    const outcome = await settle(() => client(server.url('/echo'), {}, method));
    expectInvalidOption(outcome, /method/);
  });

  test('a URL with port 0 → rejects naming the url (not a resolved status-0 response)', async () => {
    const outcome = await settle(() => client(`https://localhost:0/echo`, {}));
    expectInvalidOption(outcome, /url|port/i);
  });

  test('a serverName longer than a DNS name can be (300 chars) → RangeError naming serverName', async () => {
    const outcome = await settle(() => client(server.url('/echo'), { serverName: 'a'.repeat(300) }));
    expectInvalidOption(outcome, /serverName/);
  });

  test.each(['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'trace'])(
    'the named method client.%s rejects bad options the same way',
    async (m) => {
      expectInvalidOption(await settle(() => client[m](server.url('/echo'), 5)), /options must be an object/);
      expectInvalidOption(
        await settle(() => client[m](server.url('/echo'), { timeout: '5' })),
        /option "timeout"/,
      );
      expectInvalidOption(
        await settle(() => client[m](server.url('/echo'), { headers: { a: 'x\r\ny' } })),
        /header "a"/,
      );
    },
  );

  test('fingerprints this TLS stack cannot put on the wire reject with ERR_UNSUPPORTED_FINGERPRINT naming the element', async () => {
    const cases = [
      [{ ja3: '771,4865-4866-4867-49195,0-23-65281-10-11-13-43-45-51-42,29-23,0' }, /early_data \(42\)/],
      [
        { ja3: '771,4865-4866-4867-49195,0-23-65281-10-11-13-43-45-51-57,29-23,0' },
        /quic_transport_parameters/,
      ],
      [
        { ja3: '771,4865-4866-4867-49195,0-23-65281-10-11-13-43-51,29-23,0' },
        /psk_key_exchange_modes \(45\)/,
      ],
      [{ ja3: '771,4865-4866-4867,0-23-65281-10-13-43-45-51,29,0' }, /ec_point_formats/],
      [
        {
          ja3: '771,4865-4866-4867-49195,0-23-65281-10-11-13-43-45-51,29,0',
          ja4r: 't13d0101h2_1301_000a_0403',
        },
        /give one/,
      ],
    ];
    for (const [options, why] of cases) {
      const outcome = await settle(() => client(server.url('/echo'), options));
      expect(outcome.error).toBeInstanceOf(initCycleTLS.CycleTLSError);
      expect(outcome.error.code).toBe('ERR_UNSUPPORTED_FINGERPRINT');
      expect(outcome.error.message).toMatch(why);
    }
    expect((await client(server.url('/echo'))).status).toBe(200);
  });

  test('options that are not implemented reject with a CycleTLSError ERR_NOT_IMPLEMENTED', async () => {
    // forceHTTP3 and protocol: 'http3' speak HTTP/3 now (test/integration/http3.test.js).
    const cases = [{ protocol: 'websocket' }, { protocol: 'sse' }];
    for (const options of cases) {
      const outcome = await settle(() => client(server.url('/echo'), options));
      expect(outcome.error).toBeInstanceOf(initCycleTLS.CycleTLSError);
      expect(outcome.error.code).toBe('ERR_NOT_IMPLEMENTED');
    }
    // sse() and ws() work (sse.test.js, websocket.test.js); their misuse rejects at once.
    for (const call of [
      () => client.ws('ftp://example.test/', {}),
      () => client.webSocket(server.url('/echo'), { protocols: 'chat' }),
      () => client.ws(server.url('/echo'), { perMessageDeflate: 'yes' }),
      () => client.ws(server.url('/echo'), 'options'),
    ]) {
      const outcome = await settle(call);
      expect(outcome.error.code).toBe('ERR_INVALID_OPTION');
    }
  });

  test('the proxies that killed or hung cycletls (§5.5) fail clearly, that call only', async () => {
    for (const proxy of ['ftp://127.0.0.1:1', '127.0.0.1:1']) {
      const outcome = await settle(() => client(server.url('/echo'), { proxy }));
      expectInvalidOption(outcome, /option "proxy"/);
    }
    const dead = await client(server.url('/echo'), { proxy: 'http://127.0.0.1:1' });
    expect(dead.status).toBe(502);
    expect(dead.error.code).toBe('ERR_PROXY');
    expect((await client(server.url('/echo'))).status).toBe(200);
  });

  test('the whole matrix at once, concurrently, still rejects every case', async () => {
    const outcomes = await Promise.all(
      OPTION_CASES.map(([, option, value]) => settle(() => client(server.url('/echo'), { [option]: value }))),
    );
    outcomes.forEach((o, i) => expectInvalidOption(o, OPTION_CASES[i][3]));
  });

  test('no unhandled rejection was seen during the matrix', async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
  });
});

describe('framing headers given by the caller cannot desync the request', () => {
  // A Content-Length or Transfer-Encoding that contradicts the body must either be rejected as an
  // invalid option or be replaced by the real framing (cycletls/Go computes it); it must not make
  // the server wait for bytes that never come. timeout: 3 keeps a failure short.
  test('a Content-Length header that contradicts the body', async () => {
    const outcome = await settle(() =>
      client(
        server.url('/echo'),
        o({
          method: 'POST',
          headers: { 'Content-Length': '5' },
          body: 'abc',
          timeout: 3,
        }),
      ),
    );
    if (outcome.error) {
      expectInvalidOption(outcome, /content-length/i);
    } else {
      expect(outcome.value.error).toBeUndefined();
      expect(outcome.value.status).toBe(200);
      expect(outcome.value.data.bodyLength).toBe(3);
      expect(Buffer.from(outcome.value.data.body, 'base64').toString()).toBe('abc');
    }
  });

  test('a Transfer-Encoding: chunked header with a plain body', async () => {
    const outcome = await settle(() =>
      client(
        server.url('/echo'),
        o({
          method: 'POST',
          headers: { 'Transfer-Encoding': 'chunked' },
          body: 'abc',
          timeout: 3,
        }),
      ),
    );
    if (outcome.error) {
      expectInvalidOption(outcome, /transfer-encoding/i);
    } else {
      expect(outcome.value.error).toBeUndefined();
      expect(outcome.value.status).toBe(200);
      expect(Buffer.from(outcome.value.data.body, 'base64').toString()).toBe('abc');
    }
  });
});

describe('inputs that poisoned cycletls and are valid here simply work', () => {
  async function ok(call) {
    const outcome = await settle(call);
    if (outcome.error) throw outcome.error;
    const r = outcome.value;
    if (r.status !== 200) throw new Error(`expected 200, got ${r.status}: ${describeValue(r.error)}`);
    return r;
  }

  function header(echo, name) {
    const raw = echo.rawHeaders;
    const out = [];
    for (let i = 0; i + 1 < raw.length; i += 2)
      if (raw[i].toLowerCase() === name.toLowerCase()) out.push(raw[i + 1]);
    return out;
  }

  test('no options object at all', async () => {
    const r = await ok(() => client(server.url('/echo')));
    expect(r.data.method).toBe('GET');
    const r2 = await ok(() => client.get(server.url('/echo')));
    expect(r2.data.method).toBe('GET');
    const r3 = await ok(() => client(server.url('/echo'), undefined, 'post'));
    expect(r3.data.method).toBe('POST');
  });

  test('header values as numbers and booleans', async () => {
    const r = await ok(() =>
      client(server.url('/echo'), o({ headers: { 'X-Num': 1, 'X-Float': 2.5, 'X-Bool': true } })),
    );
    expect(header(r.data, 'X-Num')).toEqual(['1']);
    expect(header(r.data, 'X-Float')).toEqual(['2.5']);
    expect(header(r.data, 'X-Bool')).toEqual(['true']);
  });

  test('timeout 0.1 against a fast route → 200', async () => {
    await ok(() => client(server.url('/echo'), o({ timeout: 0.1 })));
  });

  test('timeout 0.1 against a stalled route → 408 ERR_TIMEOUT within a few seconds', async () => {
    const started = Date.now();
    const outcome = await settle(() => client(server.url('/stall'), o({ timeout: 0.1 })));
    const elapsed = Date.now() - started;
    expect(outcome.error).toBeUndefined();
    expect(outcome.value.status).toBe(408);
    expect(outcome.value.error.code).toBe('ERR_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(3000);
  });

  test('a huge but finite timeout (1e10 s) works or is refused as out of range, never a spurious timeout', async () => {
    const outcome = await settle(() => client(server.url('/echo'), o({ timeout: 1e10 })));
    if (outcome.error) {
      expectInvalidOption(outcome, /option "timeout"/);
      expect(outcome.error).toBeInstanceOf(RangeError);
    } else {
      expect(outcome.value.error).toBeUndefined();
      expect(outcome.value.status).toBe(200);
    }
  });

  test('a Buffer body arrives byte-exact', async () => {
    const all = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) all[i] = i;
    const body = Buffer.concat([all, patternBytes(8000, 7)]);
    const r = await ok(() => client(server.url('/echo'), o({ body }), 'post'));
    expect(r.data.bodyLength).toBe(body.length);
    expect(r.data.body).toBe(body.toString('base64'));
    expect(header(r.data, 'content-length')).toEqual([String(body.length)]);
  });

  test('a Uint8Array view, an ArrayBuffer and base64 bodyBytes arrive byte-exact', async () => {
    const bytes = patternBytes(1000, 3);
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset + 100, 500);
    const r1 = await ok(() => client.post(server.url('/echo'), o({ body: view })));
    expect(r1.data.body).toBe(bytes.subarray(100, 600).toString('base64'));
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    const r2 = await ok(() => client.post(server.url('/echo'), o({ body: ab })));
    expect(r2.data.body).toBe(bytes.toString('base64'));
    const r3 = await ok(() =>
      client.post(server.url('/echo'), o({ bodyBytes: bytes.toString('base64'), body: 'ignored' })),
    );
    expect(r3.data.body).toBe(bytes.toString('base64'));
  });

  test("cookies with the README's attributes (expires RFC 1123 string, sameSite 'Lax', unparsed string)", async () => {
    const cookies = [
      {
        name: 'a',
        value: '1',
        expires: 'Mon, 02-Jan-2022 15:04:05 EST',
        path: '/',
        domain: 'localhost',
        secure: true,
        httpOnly: true,
      },
      { name: 'b', value: '2', sameSite: 'Lax' },
      { name: 'c', value: '3', unparsed: 'a=b', maxAge: 10 },
    ];
    const r = await ok(() => client(server.url('/echo'), o({ cookies })));
    expect(header(r.data, 'cookie')).toEqual(['a=1; b=2; c=3']);
  });

  test('object-form cookies are merged with a Cookie header', async () => {
    const r = await ok(() =>
      client(server.url('/echo'), o({ headers: { Cookie: 'z=0' }, cookies: { a: '1', b: '2' } })),
    );
    expect(header(r.data, 'cookie')).toEqual(['z=0; a=1; b=2']);
  });

  test('a 70 000-byte URL (long query string) → 200, and the server sees all of it', async () => {
    const query = `?q=${'x'.repeat(70_000 - server.url('/echo').length - 3)}`;
    const url = server.url(`/echo${query}`);
    expect(url.length).toBe(70_000);
    const r = await ok(() => client(url, o()));
    expect(r.data.url).toBe(`/echo${query}`);
  });

  test('an unknown extra option key is ignored', async () => {
    const r = await ok(() =>
      client(
        server.url('/echo'),
        o({ notAnOption: { deep: [1, 2] }, _hostKey: 'x', headers: { 'X-A': 'b' } }),
      ),
    );
    expect(header(r.data, 'X-A')).toEqual(['b']);
  });

  test('an empty method means GET, a lower-case one is upper-cased', async () => {
    expect((await ok(() => client(server.url('/echo'), o(), ''))).data.method).toBe('GET');
    expect((await ok(() => client(server.url('/echo'), o(), 'patch'))).data.method).toBe('PATCH');
  });

  test('empty ja3/proxy strings are treated as absent', async () => {
    await ok(() => client(server.url('/echo'), o({ ja3: '', proxy: '', ja4r: '', http2Fingerprint: '' })));
  });

  test("the caller's options object is not mutated (cycletls filled in defaults and rewrote cookies)", async () => {
    const options = { headers: { 'X-A': '1' }, cookies: { a: '1' }, timeout: 5 };
    const copy = JSON.parse(JSON.stringify(options));
    await ok(() => client(server.url('/echo'), o(options)));
    expect(options).toEqual(copy);
    const frozen = Object.freeze({
      headers: Object.freeze({ 'X-A': '1' }),
      cookies: Object.freeze({ a: '1' }),
    });
    await ok(() => client(server.url('/echo'), o(frozen)));
  });
});

describe('the engine stays healthy after all of the above', () => {
  let second;

  afterAll(async () => {
    if (second) await second.exit();
  });

  test('the same client still gets 200', async () => {
    const outcome = await settle(() => client(server.url('/echo'), o()));
    expect(outcome.error).toBeUndefined();
    expect(outcome.value.status).toBe(200);
  });

  test('a second client on the same port gets 200', async () => {
    second = await initCycleTLS({ port });
    expect(second.clientId).not.toBe(client.clientId);
    const outcome = await settle(() => second(server.url('/echo'), o({ headers: { 'X-Client': 'second' } })));
    expect(outcome.error).toBeUndefined();
    expect(outcome.value.status).toBe(200);
  });

  test('concurrent requests from both clients all get their own 200', async () => {
    const calls = [];
    for (let i = 0; i < 12; i++) {
      const c = i % 2 ? second : client;
      calls.push(settle(() => c(server.url(`/echo?i=${i}`), o({ headers: { 'X-I': i } }))));
    }
    const outcomes = await Promise.all(calls);
    outcomes.forEach((o, i) => {
      expect(o.error).toBeUndefined();
      expect(o.value.status).toBe(200);
      expect(o.value.data.url).toBe(`/echo?i=${i}`);
    });
  });
});
