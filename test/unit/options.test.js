'use strict';
// Unit tests of option validation and normalisation (lib/options.ts, lib/init-options.ts,
// lib/option-checks.ts), no server, no native code.
const { Buffer } = require('node:buffer');
const util = require('node:util');

const {
  normalizeRequest,
  DEFAULT_USER_AGENT,
  DEFAULT_TIMEOUT_SECONDS,
  DEFAULT_MAX_REDIRECTS,
} = require('../../dist/options');
const { normalizeInit } = require('../../dist/init-options');
const { normalizeMaxEventBytes } = require('../../dist/option-checks');
const { CycleTLSError } = require('../../dist/errors');

const URL_ = 'https://example.test/path?q=1';

/** normalizeRequest with the client's default method argument ('get'). */
function norm(options, url = URL_, method = 'get') {
  return normalizeRequest(url, options, method);
}

/** The headers as a flat list of [name, value], without the default User-Agent. */
function headersOf(options) {
  return norm(options).headers;
}

function headerNames(options) {
  return headersOf(options).map(([n]) => n);
}

/** Calls fn and returns what it threw (fails when it does not throw). */
function thrown(fn) {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

function expectInvalid(fn, Kind, pattern) {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(Kind);
  expect(err.code).toBe('ERR_INVALID_OPTION');
  if (pattern) expect(err.message).toMatch(pattern);
  return err;
}

function expectNotImplemented(fn, pattern) {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(CycleTLSError);
  expect(err.code).toBe('ERR_NOT_IMPLEMENTED');
  expect(err.stage).toBe('options');
  if (pattern) expect(err.message).toMatch(pattern);
  return err;
}

function deepFreeze(o) {
  if (
    o &&
    typeof o === 'object' &&
    !Object.isFrozen(o) &&
    !ArrayBuffer.isView(o) &&
    !(o instanceof ArrayBuffer)
  ) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

describe('normalizeInit', () => {
  test('maxResponseBytes: the client default of buffered bodies, 1 GiB unless given; validated', () => {
    expect(normalizeInit({ maxResponseBytes: 4096 }).maxResponseBytes).toBe(4096);
    for (const v of [0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2])
      expectInvalid(() => normalizeInit({ maxResponseBytes: v }), RangeError, /maxResponseBytes/);
    expectInvalid(() => normalizeInit({ maxResponseBytes: '1' }), TypeError, /maxResponseBytes/);
  });
  test('maxEventBytes: the client default of sse() events, 16 MiB unless given; validated like maxResponseBytes', () => {
    expect(normalizeInit({ maxEventBytes: 4096 }).maxEventBytes).toBe(4096);
    expect(normalizeInit({}).maxEventBytes).toBe(16 * 1024 * 1024);
    for (const v of [0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2])
      expectInvalid(() => normalizeInit({ maxEventBytes: v }), RangeError, /maxEventBytes/);
    expectInvalid(() => normalizeInit({ maxEventBytes: '1' }), TypeError, /maxEventBytes/);
    expect(normalizeMaxEventBytes(undefined)).toBeUndefined();
    expect(normalizeMaxEventBytes(1)).toBe(1);
    expectInvalid(() => normalizeMaxEventBytes(0), RangeError, /maxEventBytes/);
  });
  test('no options → port 9119, debug and rejectOnError off', () => {
    const defaults = {
      port: 9119,
      debug: false,
      rejectOnError: false,
      share: { port: 9119 },
      retryOnHostGone: true,
      engine: {},
      maxResponseBytes: 1024 ** 3,
      maxEventBytes: 16 * 1024 ** 2,
      http3: 'off',
      connection: {},
    };
    expect(normalizeInit()).toEqual(defaults);
    expect(normalizeInit(null)).toEqual(defaults);
    expect(normalizeInit({})).toEqual(defaults);
  });

  test('port 0 and null mean the default 9119 (as cycletls: falsy → default)', () => {
    expect(normalizeInit({ port: 0 }).port).toBe(9119);
    expect(normalizeInit({ port: null }).port).toBe(9119);
    expect(normalizeInit({ port: undefined }).port).toBe(9119);
  });

  test('a valid port is kept', () => {
    expect(normalizeInit({ port: 1 }).port).toBe(1);
    expect(normalizeInit({ port: 34567 }).port).toBe(34567);
    expect(normalizeInit({ port: 65535 }).port).toBe(65535);
  });

  test.each([1.5, -1, 65536, 100000, NaN, Infinity, -Infinity])(
    'port %p → RangeError ERR_INVALID_OPTION',
    (port) => {
      expectInvalid(() => normalizeInit({ port }), RangeError, /port/);
    },
  );

  test.each(['9119', '', true, {}, [], 10n])(
    'port %p (not a number) → TypeError ERR_INVALID_OPTION',
    (port) => {
      expectInvalid(() => normalizeInit({ port }), TypeError, /port/);
    },
  );

  test('executablePath, autoExit and timeout are accepted (and ignored)', () => {
    expect(
      normalizeInit({
        executablePath: '/usr/local/bin/cycletls',
        autoExit: false,
        timeout: 20000,
        port: 4000,
      }),
    ).toEqual({
      port: 4000,
      debug: false,
      rejectOnError: false,
      share: { port: 4000 },
      retryOnHostGone: true,
      engine: {},
      maxResponseBytes: 1024 ** 3,
      maxEventBytes: 16 * 1024 ** 2,
      http3: 'off',
      connection: {},
    });
    expect(normalizeInit({ autoExit: true, timeout: 0 }).port).toBe(9119);
  });

  test('debug and rejectOnError are read', () => {
    expect(normalizeInit({ debug: true, rejectOnError: true })).toMatchObject({
      port: 9119,
      debug: true,
      rejectOnError: true,
    });
  });

  test('sharing across processes: on by default, off on request, timings and socket directory checked', () => {
    expect(normalizeInit({ shareAcrossProcesses: false }).share).toBeUndefined();
    expect(normalizeInit({ retryOnHostGone: false }).retryOnHostGone).toBe(false);
    expect(
      normalizeInit({
        port: 4100,
        socketDir: '/tmp/x/run',
        handoverTimeoutMs: 100,
        linkIdleTimeoutMs: 0,
        drainGraceMs: 10,
      }).share,
    ).toEqual({
      port: 4100,
      socketDir: '/tmp/x/run',
      handoverTimeoutMs: 100,
      linkIdleTimeoutMs: 0,
      drainGraceMs: 10,
    });
    const saved = process.env.CYCLETLS_NATIVE_SOCKET_DIR;
    try {
      process.env.CYCLETLS_NATIVE_SOCKET_DIR = '/tmp/from-env';
      expect(normalizeInit({}).share).toEqual({ port: 9119, socketDir: '/tmp/from-env' });
      expect(normalizeInit({ socketDir: '/tmp/option-wins' }).share).toEqual({
        port: 9119,
        socketDir: '/tmp/option-wins',
      });
    } finally {
      if (saved === undefined) delete process.env.CYCLETLS_NATIVE_SOCKET_DIR;
      else process.env.CYCLETLS_NATIVE_SOCKET_DIR = saved;
    }
    // secretFile is obsolete: accepted (when a string) and ignored.
    expect(normalizeInit({ port: 4100, secretFile: '/tmp/x/secret' }).share).toEqual({ port: 4100 });
    expectInvalid(() => normalizeInit({ shareAcrossProcesses: 'yes' }), TypeError, /shareAcrossProcesses/);
    expectInvalid(() => normalizeInit({ retryOnHostGone: 1 }), TypeError, /retryOnHostGone/);
    expectInvalid(() => normalizeInit({ secretFile: 5 }), TypeError, /secretFile/);
    expectInvalid(() => normalizeInit({ socketDir: 5 }), TypeError, /socketDir/);
    expectInvalid(() => normalizeInit({ socketDir: 'relative/run' }), TypeError, /socketDir/);
    expectInvalid(
      () => normalizeInit({ socketDir: '/' + 'd'.repeat(100) }),
      TypeError,
      /socketDir.*96 bytes/,
    );
    expectInvalid(() => normalizeInit({ handoverTimeoutMs: '1' }), TypeError, /handoverTimeoutMs/);
    expectInvalid(() => normalizeInit({ handoverTimeoutMs: -1 }), RangeError, /handoverTimeoutMs/);
    expectInvalid(() => normalizeInit({ pingIntervalMs: 1.5 }), RangeError, /pingIntervalMs/);
    expectInvalid(() => normalizeInit({ pingTimeoutMs: 10 }), RangeError, /pingTimeoutMs/);
  });

  test('wrongly typed init fields → TypeError naming the field', () => {
    expectInvalid(() => normalizeInit({ debug: 'yes' }), TypeError, /debug/);
    expectInvalid(() => normalizeInit({ rejectOnError: 1 }), TypeError, /rejectOnError/);
    expectInvalid(() => normalizeInit({ executablePath: 5 }), TypeError, /executablePath/);
    expectInvalid(() => normalizeInit({ autoExit: 'no' }), TypeError, /autoExit/);
    expectInvalid(() => normalizeInit({ timeout: '20000' }), TypeError, /timeout/);
  });

  test.each([5, 'x', true, [], [1], () => {}])('non-object init options %p → TypeError', (input) => {
    expectInvalid(() => normalizeInit(input), TypeError, /options must be an object/);
  });

  test('does not mutate its input', () => {
    const input = deepFreeze({ port: 0, debug: true });
    normalizeInit(input);
    expect(input).toEqual({ port: 0, debug: true });
  });
});

describe('normalizeRequest: headers', () => {
  test('without options: GET, default Chrome 156 User-Agent only, json, 15 s', () => {
    const r = normalizeRequest(URL_, undefined, 'get');
    expect(r.method).toBe('GET');
    expect(r.url).toBeInstanceOf(URL);
    expect(r.url.href).toBe(URL_);
    expect(r.headers).toEqual([['User-Agent', DEFAULT_USER_AGENT]]);
    expect(r.body).toBeUndefined();
    expect(r.responseType).toBe('json');
    expect(r.timeoutMs).toBe(15000);
    expect(r.insecureSkipVerify).toBe(false);
    expect(r.forceHttp1).toBe(false);
    expect(r.disableRedirect).toBe(false);
    expect(r.maxRedirects).toBe(DEFAULT_MAX_REDIRECTS);
    expect(r.hasCookies).toBe(false);
    expect(normalizeRequest(URL_, null, 'get').headers).toEqual([['User-Agent', DEFAULT_USER_AGENT]]);
  });

  test('the default User-Agent is Chrome 156', () => {
    expect(DEFAULT_USER_AGENT).toMatch(/Chrome\/156\.0\.0\.0/);
    expect(DEFAULT_USER_AGENT).toMatch(/^Mozilla\/5\.0 /);
  });

  test('order and casing are preserved exactly', () => {
    const headers = {
      'x-lower': 'a',
      'X-Mixed-Case': 'b',
      ACCEPT: 'c',
      'Accept-Language': 'd',
      'x-LAST': 'e',
    };
    expect(headersOf({ headers })).toEqual([
      ['x-lower', 'a'],
      ['X-Mixed-Case', 'b'],
      ['ACCEPT', 'c'],
      ['Accept-Language', 'd'],
      ['x-LAST', 'e'],
      ['User-Agent', DEFAULT_USER_AGENT],
    ]);
  });

  test('numbers, booleans (and bigints) are stringified', () => {
    const h = headersOf({
      headers: { 'X-Num': 1, 'X-Float': 1.5, 'X-Zero': 0, 'X-True': true, 'X-False': false, 'X-Big': 12n },
    });
    expect(h.slice(0, 6)).toEqual([
      ['X-Num', '1'],
      ['X-Float', '1.5'],
      ['X-Zero', '0'],
      ['X-True', 'true'],
      ['X-False', 'false'],
      ['X-Big', '12'],
    ]);
  });

  test('array values become repeated headers, in order, in place', () => {
    const h = headersOf({ headers: { a: '1', 'X-Multi': ['x', 2, true], b: '3' } });
    expect(h.slice(0, 5)).toEqual([
      ['a', '1'],
      ['X-Multi', 'x'],
      ['X-Multi', '2'],
      ['X-Multi', 'true'],
      ['b', '3'],
    ]);
    // An empty array sends nothing.
    expect(headerNames({ headers: { e: [] } })).toEqual(['User-Agent']);
  });

  test('undefined values (and undefined array items) are skipped', () => {
    expect(headersOf({ headers: { a: undefined, b: 'x', c: [undefined, 'y'] } }).slice(0, 2)).toEqual([
      ['b', 'x'],
      ['c', 'y'],
    ]);
  });

  test('an empty string value is sent as an empty header', () => {
    expect(headersOf({ headers: { 'X-Empty': '' } })[0]).toEqual(['X-Empty', '']);
  });

  test.each([['bad name'], ['a:b'], ['bad\r\nname'], ['x(y)'], [''], ['héader']])(
    'invalid header name %j → TypeError naming it',
    (name) => {
      const err = expectInvalid(() => norm({ headers: { [name]: 'v' } }), TypeError, /header name/);
      expect(err.message).toContain(JSON.stringify(name));
    },
  );

  test.each([['a\r\nb'], ['a\nb'], ['a\rb'], ['a\0b']])(
    'header value %j with CR/LF/NUL → TypeError naming the header',
    (value) => {
      expectInvalid(() => norm({ headers: { 'X-Evil': value } }), TypeError, /header "X-Evil"/);
      expectInvalid(() => norm({ headers: { 'X-Evil': ['ok', value] } }), TypeError, /header "X-Evil"/);
    },
  );

  test.each([[{}], [null], [[{}]], [Symbol('s')], [() => 1], [new Date(0)]])(
    'header value %p of a wrong type → TypeError naming the header',
    (value) => {
      expectInvalid(() => norm({ headers: { 'X-Bad': value } }), TypeError, /header "X-Bad"/);
    },
  );

  test.each([[5], ['x'], [[]], [[['a', 'b']]], [true], [new Map([['a', 'b']])]])(
    'headers %p (not a plain object) → TypeError',
    (headers) => {
      expectInvalid(() => norm({ headers }), TypeError, /option "headers"/);
    },
  );

  test('headers null or undefined → none (only the default User-Agent)', () => {
    expect(headerNames({ headers: null })).toEqual(['User-Agent']);
    expect(headerNames({ headers: undefined })).toEqual(['User-Agent']);
  });

  test('a header object without prototype is accepted', () => {
    const headers = Object.create(null);
    headers['X-A'] = '1';
    expect(headersOf({ headers })[0]).toEqual(['X-A', '1']);
  });
});

describe('normalizeRequest: userAgent', () => {
  test('replaces an existing user-agent header in place, case-insensitively, keeping its casing and position', () => {
    const h = headersOf({ headers: { a: '1', 'uSeR-aGeNt': 'old', b: '2' }, userAgent: 'MyAgent/1.0' });
    expect(h).toEqual([
      ['a', '1'],
      ['uSeR-aGeNt', 'MyAgent/1.0'],
      ['b', '2'],
    ]);
  });

  test('is appended after the given headers when there is no user-agent header', () => {
    expect(headersOf({ headers: { a: '1', b: '2' }, userAgent: 'MyAgent/1.0' })).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['User-Agent', 'MyAgent/1.0'],
    ]);
  });

  test('a user-agent header without userAgent is kept as given, with no default added', () => {
    expect(headersOf({ headers: { 'user-agent': 'Mine' } })).toEqual([['user-agent', 'Mine']]);
  });

  test('an empty userAgent means the default', () => {
    expect(headersOf({ userAgent: '' })).toEqual([['User-Agent', DEFAULT_USER_AGENT]]);
    expect(headersOf({ userAgent: '', headers: { 'User-Agent': 'kept' } })).toEqual([['User-Agent', 'kept']]);
  });

  test('replaces every user-agent header: exactly one User-Agent is sent', () => {
    const uas = (options) => headersOf(options).filter(([n]) => n.toLowerCase() === 'user-agent');
    expect(uas({ headers: { 'User-Agent': ['a', 'b'] }, userAgent: 'MyAgent/1.0' })).toEqual([
      ['User-Agent', 'MyAgent/1.0'],
    ]);
    expect(uas({ headers: { 'user-agent': 'a', 'User-Agent': 'b' }, userAgent: 'MyAgent/1.0' })).toEqual([
      ['user-agent', 'MyAgent/1.0'],
    ]);
  });

  test('a wrong userAgent → TypeError naming the option', () => {
    expectInvalid(() => norm({ userAgent: 5 }), TypeError, /userAgent/);
    expectInvalid(() => norm({ userAgent: 'a\nb' }), TypeError, /userAgent/);
    expectInvalid(() => norm({ userAgent: 'a\r\nX-Injected: 1' }), TypeError, /userAgent/);
  });
});

describe('normalizeRequest: cookies', () => {
  const cookieHeaders = (options) => headersOf(options).filter(([n]) => n.toLowerCase() === 'cookie');

  test('array form → one Cookie header "a=1; b=2"', () => {
    const r = norm({
      cookies: [
        { name: 'a', value: '1' },
        { name: 'b', value: '2' },
      ],
    });
    expect(r.headers.filter(([n]) => n === 'Cookie')).toEqual([['Cookie', 'a=1; b=2']]);
    expect(r.hasCookies).toBe(true);
  });

  test('object form → one Cookie header "a=1; b=2"', () => {
    expect(cookieHeaders({ cookies: { a: '1', b: '2' } })).toEqual([['Cookie', 'a=1; b=2']]);
  });

  test('merged with an existing Cookie header (any casing), keeping its name and position', () => {
    const h = headersOf({ headers: { x: '1', cookie: 'z=0', y: '2' }, cookies: { a: '1', b: '2' } });
    expect(h.slice(0, 3)).toEqual([
      ['x', '1'],
      ['cookie', 'z=0; a=1; b=2'],
      ['y', '2'],
    ]);
    expect(h.filter(([n]) => n.toLowerCase() === 'cookie')).toHaveLength(1);
  });

  test('an existing Cookie header alone counts as cookies', () => {
    const r = norm({ headers: { Cookie: 'z=0' } });
    expect(r.headers[0]).toEqual(['Cookie', 'z=0']);
  });

  test('numbers and booleans are stringified, null/undefined values are empty', () => {
    expect(
      cookieHeaders({
        cookies: [
          { name: 'n', value: 5 },
          { name: 't', value: true },
          { name: 'e', value: null },
          { name: 'u' },
        ],
      }),
    ).toEqual([['Cookie', 'n=5; t=true; e=; u=']]);
  });

  test('empty cookie lists send no Cookie header', () => {
    expect(cookieHeaders({ cookies: [] })).toEqual([]);
    expect(cookieHeaders({ cookies: {} })).toEqual([]);
    expect(norm({ cookies: [] }).hasCookies).toBe(false);
    expect(cookieHeaders({ cookies: null })).toEqual([]);
  });

  test('cookie attributes in any format are tolerated (README expires, sameSite "Lax", unparsed string, ...)', () => {
    const cookies = [
      {
        name: 'readme',
        value: 'v1',
        path: '/',
        domain: 'example.test',
        expires: 'Mon, 02-Jan-2022 15:04:05 EST',
        rawExpires: 'Mon, 02-Jan-2022 15:04:05 EST',
        maxAge: 90,
        secure: true,
        httpOnly: true,
        sameSite: 'Lax',
        unparsed: 'a=b',
      },
      { name: 'rfc3339', value: 'v2', expires: '2030-01-02T15:04:05Z', sameSite: 2, unparsed: ['x=y'] },
      { name: 'date', value: 'v3', expires: new Date(0), maxAge: 1.5 },
      { name: 'epoch', value: 'v4', expires: 1700000000000, sameSite: 'None', secure: 'yes' },
    ];
    expect(cookieHeaders({ cookies })).toEqual([['Cookie', 'readme=v1; rfc3339=v2; date=v3; epoch=v4']]);
  });

  test.each([
    ['a=b', /option "cookies"/],
    [5, /option "cookies"/],
    [true, /option "cookies"/],
    [[5], /option "cookies\[0\]"/],
    [['a=b'], /option "cookies\[0\]"/],
    [[null], /option "cookies\[0\]"/],
    [[{}], /option "cookies\[0\]"/],
    [[{ name: '', value: 'x' }], /option "cookies\[0\]"/],
    [[{ name: 'bad name', value: 'x' }], /option "cookies\[0\]"/],
    [[{ name: 5, value: 'x' }], /option "cookies\[0\]"/],
    [
      [
        { name: 'ok', value: '1' },
        { name: 'a', value: {} },
      ],
      /option "cookies\[1\]".*"a"/,
    ],
    [[{ name: 'a', value: 'x;y' }], /option "cookies\[0\]".*"a"/],
    [[{ name: 'a', value: 'x\r\ny' }], /option "cookies\[0\]".*"a"/],
    [{ a: {} }, /option "cookies".*"a"/],
    [{ a: 'x;y' }, /option "cookies".*"a"/],
    [{ 'bad name': 'x' }, /option "cookies"/],
  ])('cookies %p → TypeError naming the option', (cookies, pattern) => {
    expectInvalid(() => norm({ cookies }), TypeError, pattern);
  });
});

describe('normalizeRequest: headerOrder', () => {
  const headers = { 'x-lower': '1', 'X-Mixed-Case': '2', accept: '3', 'Accept-Language': '4' };

  test('listed headers first, in listed order; the rest after, in their original order', () => {
    expect(headerNames({ headers, headerOrder: ['accept-language', 'x-lower'] })).toEqual([
      'Accept-Language',
      'x-lower',
      'X-Mixed-Case',
      'accept',
      'User-Agent',
    ]);
  });

  test('matching is case-insensitive and keeps the given casing of each header', () => {
    expect(
      headerNames({ headers, headerOrder: ['ACCEPT-LANGUAGE', 'X-LOWER', 'Accept', 'x-mixed-case'] }),
    ).toEqual(['Accept-Language', 'x-lower', 'accept', 'X-Mixed-Case', 'User-Agent']);
  });

  test('applies to the User-Agent and Cookie headers the options add', () => {
    expect(
      headerNames({ headers, cookies: { a: '1' }, headerOrder: ['cookie', 'user-agent', 'accept'] }),
    ).toEqual(['Cookie', 'User-Agent', 'accept', 'x-lower', 'X-Mixed-Case', 'Accept-Language']);
  });

  test('names not present are ignored; repeated headers stay together in their order', () => {
    const h = headersOf({ headers: { a: '1', m: ['x', 'y'], b: '2' }, headerOrder: ['nope', 'm', 'b', 'm'] });
    expect(h).toEqual([
      ['m', 'x'],
      ['m', 'y'],
      ['b', '2'],
      ['a', '1'],
      ['User-Agent', DEFAULT_USER_AGENT],
    ]);
  });

  test('an empty headerOrder changes nothing', () => {
    expect(headerNames({ headers, headerOrder: [] })).toEqual([
      'x-lower',
      'X-Mixed-Case',
      'accept',
      'Accept-Language',
      'User-Agent',
    ]);
  });

  test.each([['a'], [[1]], [['a', 2]], [{ 0: 'a' }], [5]])(
    'headerOrder %p → TypeError naming the option',
    (headerOrder) => {
      expectInvalid(() => norm({ headers, headerOrder }), TypeError, /headerOrder/);
    },
  );
});

describe('normalizeRequest: body', () => {
  test('string → UTF-8 bytes, no content-type added', () => {
    const r = norm({ body: 'héllo' });
    expect(Buffer.isBuffer(r.body)).toBe(true);
    expect(r.body.equals(Buffer.from('héllo', 'utf8'))).toBe(true);
    expect(r.headers.some(([n]) => n.toLowerCase() === 'content-type')).toBe(false);
  });

  test('empty string, null or undefined → no body', () => {
    expect(norm({ body: '' }).body).toBeUndefined();
    expect(norm({ body: null }).body).toBeUndefined();
    expect(norm({ body: undefined }).body).toBeUndefined();
  });

  test('URLSearchParams → form encoding, content-type added when absent', () => {
    const r = norm({ body: new URLSearchParams({ a: '1', b: 'x y&z' }) });
    expect(r.body.toString()).toBe('a=1&b=x+y%26z');
    expect(r.headers.filter(([n]) => n.toLowerCase() === 'content-type')).toEqual([
      ['Content-Type', 'application/x-www-form-urlencoded;charset=UTF-8'],
    ]);
  });

  test('URLSearchParams does not replace a content-type given in any casing', () => {
    const r = norm({ headers: { 'content-TYPE': 'text/custom' }, body: new URLSearchParams({ a: '1' }) });
    expect(r.headers.filter(([n]) => n.toLowerCase() === 'content-type')).toEqual([
      ['content-TYPE', 'text/custom'],
    ]);
  });

  test('Buffer → the same bytes', () => {
    const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x0d, 0x0a]);
    const r = norm({ body: bytes });
    expect(Buffer.isBuffer(r.body)).toBe(true);
    expect(r.body.equals(bytes)).toBe(true);
  });

  test('Uint8Array → the same bytes', () => {
    const r = norm({ body: new Uint8Array([1, 2, 3, 250]) });
    expect([...r.body]).toEqual([1, 2, 3, 250]);
  });

  test('a Uint8Array subarray view with a byteOffset → exactly its own bytes', () => {
    const whole = new Uint8Array([10, 11, 12, 13, 14, 15, 16, 17]);
    const view = whole.subarray(2, 5);
    expect(view.byteOffset).toBe(2);
    const r = norm({ body: view });
    expect(r.body.length).toBe(3);
    expect([...r.body]).toEqual([12, 13, 14]);
  });

  test('a Buffer slice of the shared pool → exactly its own bytes', () => {
    const small = Buffer.from('pooled');
    expect(small.buffer.byteLength).toBeGreaterThan(small.length);
    const r = norm({ body: small.subarray(1, 4) });
    expect(r.body.toString()).toBe('ool');
  });

  test('ArrayBuffer → its bytes', () => {
    const ab = new Uint8Array([9, 8, 7, 6]).buffer;
    const r = norm({ body: ab });
    expect([...r.body]).toEqual([9, 8, 7, 6]);
  });

  test('other typed-array views (DataView, Uint16Array) → their bytes', () => {
    const u16 = new Uint16Array([0x0102, 0x0304]);
    expect(norm({ body: u16 }).body.length).toBe(4);
    const dv = new DataView(new Uint8Array([1, 2, 3, 4, 5]).buffer, 1, 3);
    expect([...norm({ body: dv }).body]).toEqual([2, 3, 4]);
  });

  test('bodyBytes as base64 text → the decoded bytes', () => {
    const raw = Buffer.from([0, 255, 1, 254, 128]);
    expect(norm({ bodyBytes: raw.toString('base64') }).body.equals(raw)).toBe(true);
  });

  test('bodyBytes as bytes (Buffer, Uint8Array view, ArrayBuffer)', () => {
    expect([...norm({ bodyBytes: Buffer.from([1, 2]) }).body]).toEqual([1, 2]);
    expect([...norm({ bodyBytes: new Uint8Array([5, 6, 7, 8]).subarray(1, 3) }).body]).toEqual([6, 7]);
    expect([...norm({ bodyBytes: new Uint8Array([3, 4]).buffer }).body]).toEqual([3, 4]);
  });

  test('bodyBytes wins over body', () => {
    const r = norm({ body: 'text body', bodyBytes: Buffer.from('bytes').toString('base64') });
    expect(r.body.toString()).toBe('bytes');
    const r2 = norm({ body: new URLSearchParams({ a: '1' }), bodyBytes: Buffer.from('raw') });
    expect(r2.body.toString()).toBe('raw');
  });

  test('an empty bodyBytes falls back to body, as cycletls does (Go: len(BodyBytes) > 0)', () => {
    expect(norm({ bodyBytes: '', body: 'text' }).body.toString()).toBe('text');
    expect(norm({ bodyBytes: Buffer.alloc(0), body: 'text' }).body.toString()).toBe('text');
  });

  test.each([[5], [{}], [true], [Symbol('s')], [[1, 2]], [new Date(0)], [() => {}]])(
    'body %p → TypeError naming the option',
    (body) => {
      expectInvalid(() => norm({ body }), TypeError, /option "body"/);
    },
  );

  test.each([[5], ['***not base64***'], ['abc$'], [{}], [true], [[1, 2]]])(
    'bodyBytes %p → TypeError naming the option',
    (bodyBytes) => {
      expectInvalid(() => norm({ bodyBytes }), TypeError, /option "bodyBytes"/);
    },
  );
});

describe('normalizeRequest: bodies read asynchronously (FormData, Blob, form-data, streams)', () => {
  const { Blob } = require('node:buffer');
  const { Readable } = require('node:stream');
  const { resolvePendingBody } = require('../../dist/options');
  const contentTypes = (r) => r.headers.filter(([n]) => n.toLowerCase() === 'content-type');

  test('a Blob: its bytes, its type as content-type (none when it has no type)', async () => {
    const r = norm({ body: new Blob([Buffer.from([0, 255, 10]), 'x'], { type: 'application/x-thing' }) });
    expect(r.body).toBeUndefined();
    expect(typeof r.pendingBody).toBe('function');
    expect(contentTypes(r)).toEqual([['Content-Type', 'application/x-thing']]);
    const done = await resolvePendingBody(r);
    expect([...done.body]).toEqual([0, 255, 10, 0x78]);
    expect(done.pendingBody).toBeUndefined();
    expect(contentTypes(norm({ body: new Blob(['x']) }))).toEqual([]);
  });

  test('WHATWG FormData: multipart with a random WebKit-style boundary, text and file parts', async () => {
    const fd = new FormData();
    fd.append('field', 'a\nb "q"');
    fd.append('file', new Blob([Buffer.from([0, 1, 2, 255])], { type: 'image/png' }), 'pic "1".png');
    fd.append('anon', new Blob(['zz']));
    const r = norm({ body: fd }, URL_, 'post');
    const [[, ct]] = contentTypes(r);
    const boundary = /^multipart\/form-data; boundary=(----WebKitFormBoundary[A-Za-z0-9]{16})$/.exec(ct)[1];
    expect(contentTypes(norm({ body: fd }))[0][1]).not.toBe(ct); // random per request
    const body = (await resolvePendingBody(r)).body;
    const expected = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="field"\r\n\r\na\r\nb "q"\r\n`),
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="pic %221%22.png"\r\nContent-Type: image/png\r\n\r\n`,
      ),
      Buffer.from([0, 1, 2, 255]),
      Buffer.from(
        `\r\n--${boundary}\r\nContent-Disposition: form-data; name="anon"; filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\nzz\r\n`,
      ),
      Buffer.from(`--${boundary}--\r\n`),
    ]);
    expect(body.equals(expected)).toBe(true);
  });

  test("a caller's content-type stays; a caller's Content-Length gets the true length once read", async () => {
    const r = norm({
      body: Readable.from([Buffer.from('abc'), 'déf']),
      bufferBody: true,
      headers: { 'content-type': 'text/x', 'Content-Length': '1' },
    });
    expect(contentTypes(r)).toEqual([['content-type', 'text/x']]);
    const done = await resolvePendingBody(r);
    expect(done.body.toString()).toBe('abcdéf');
    expect(done.headers.find(([n]) => n === 'Content-Length')[1]).toBe(String(Buffer.byteLength('abcdéf')));
  });

  test('async iterables of Uint8Array, web ReadableStreams and old-style pipe-only streams', async () => {
    async function* gen() {
      yield new Uint8Array([1, 2]);
      yield new Uint8Array([3]).buffer;
    }
    expect([...(await resolvePendingBody(norm({ body: gen(), bufferBody: true }))).body]).toEqual([1, 2, 3]);
    const web = new ReadableStream({
      start(c) {
        c.enqueue(new Uint8Array([7, 8]));
        c.close();
      },
    });
    expect([...(await resolvePendingBody(norm({ body: web, bufferBody: true }))).body]).toEqual([7, 8]);
    const { EventEmitter } = require('node:events');
    const legacy = Object.assign(new EventEmitter(), {
      pipe(dest) {
        dest.write(Buffer.from('old'));
        dest.end();
        return dest;
      },
    });
    expect((await resolvePendingBody(norm({ body: legacy }))).body.toString()).toBe('old');
  });

  test('an empty stream → no body', async () => {
    expect(
      (await resolvePendingBody(norm({ body: Readable.from([]), bufferBody: true }))).body,
    ).toBeUndefined();
  });

  test("a form-data package instance (duck-typed): its headers' content-type, getBuffer() bytes", async () => {
    const fake = {
      getBoundary: () => 'XYZ',
      getHeaders: () => ({ 'content-type': 'multipart/form-data; boundary=XYZ' }),
      getBuffer: () => Buffer.from('--XYZ\r\n...--XYZ--\r\n'),
    };
    const r = norm({ body: fake });
    expect(contentTypes(r)).toEqual([['Content-Type', 'multipart/form-data; boundary=XYZ']]);
    expect((await resolvePendingBody(r)).body.toString()).toBe('--XYZ\r\n...--XYZ--\r\n');
  });

  test('a form-data instance whose getBuffer() throws (stream parts) is drained as a stream', async () => {
    const { PassThrough } = require('node:stream');
    const fake = new PassThrough();
    fake.getBoundary = () => 'B';
    fake.getBuffer = () => {
      throw new TypeError('stream part');
    };
    fake.end(Buffer.from('streamed'));
    const r = norm({ body: fake });
    expect(contentTypes(r)).toEqual([['Content-Type', 'multipart/form-data; boundary=B']]);
    expect((await resolvePendingBody(r)).body.toString()).toBe('streamed');
  });

  test("without bufferBody, streams and async iterables are sent as read: bodyStream, the caller's Content-Length as their declared length", () => {
    const src = Readable.from(['x']);
    let r = norm({ body: src });
    expect(r.bodyStream).toBe(src);
    expect(r.body).toBeUndefined();
    expect(r.pendingBody).toBeUndefined();
    expect(r.declaredLength).toBeUndefined();
    r = norm({
      body: Readable.from(['x']),
      headers: { 'content-length': ' 12 ', 'Transfer-Encoding': 'gzip' },
    });
    expect(r.declaredLength).toBe(12);
    expect(r.headers.some(([n]) => n.toLowerCase() === 'transfer-encoding')).toBe(false);
    expect(() => norm({ body: Readable.from(['x']), headers: { 'content-length': 'lots' } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
    // The form-data package and Blobs keep their known length: read first, not streamed.
    expect(
      norm({ body: { getBoundary: () => 'b', getBuffer: () => Buffer.alloc(1) } }).bodyStream,
    ).toBeUndefined();
    expect(norm({ body: new Blob(['ab']) }).bodyStream).toBeUndefined();
  });

  test('a stream that errors rejects with its error; a bad chunk with ERR_INVALID_OPTION', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk gone'));
      },
    });
    await expect(resolvePendingBody(norm({ body: failing, bufferBody: true }))).rejects.toThrow('disk gone');
    async function* bad() {
      yield 42;
    }
    await expect(resolvePendingBody(norm({ body: bad(), bufferBody: true }))).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  });

  test('bodyBytes still wins over a pending body (nothing is read)', () => {
    const r = norm({ bodyBytes: Buffer.from('raw'), body: Readable.from(['x']) });
    expect(r.body.toString()).toBe('raw');
    expect(r.pendingBody).toBeUndefined();
  });
});

describe('normalizeRequest / normalizeInit: cookieJar', () => {
  const jar = { getCookieString: () => Promise.resolve(''), setCookie: () => Promise.resolve() };
  test('anything with getCookieString and setCookie is accepted, per request and at init', () => {
    expect(norm({ cookieJar: jar }).cookieJar).toBe(jar);
    expect(norm({}).cookieJar).toBeUndefined();
    expect(normalizeInit({ cookieJar: jar }).cookieJar).toBe(jar);
    expect(normalizeInit({}).cookieJar).toBeUndefined();
  });
  test.each([[5], ['jar'], [{}], [{ getCookieString() {} }], [{ setCookie() {} }]])(
    'cookieJar %p → TypeError naming the option',
    (cookieJar) => {
      expectInvalid(() => norm({ cookieJar }), TypeError, /option "cookieJar"/);
      expectInvalid(() => normalizeInit({ cookieJar }), TypeError, /option "cookieJar"/);
    },
  );
});

describe('normalizeRequest: timeout', () => {
  test('seconds → milliseconds, fractions allowed', () => {
    expect(norm({ timeout: 0.1 }).timeoutMs).toBe(100);
    expect(norm({ timeout: 1 }).timeoutMs).toBe(1000);
    expect(norm({ timeout: 2.5 }).timeoutMs).toBe(2500);
    expect(norm({ timeout: 30 }).timeoutMs).toBe(30000);
  });

  test('absent, null or 0 → the 15 s default', () => {
    expect(DEFAULT_TIMEOUT_SECONDS).toBe(15);
    expect(norm({}).timeoutMs).toBe(15000);
    expect(norm({ timeout: 0 }).timeoutMs).toBe(15000);
    expect(norm({ timeout: null }).timeoutMs).toBe(15000);
  });

  test('a tiny positive timeout is at least 1 ms', () => {
    expect(norm({ timeout: 0.00001 }).timeoutMs).toBe(1);
  });

  test.each([[-1], [-0.5], [NaN], [Infinity], [-Infinity]])(
    'timeout %p → RangeError naming the option',
    (timeout) => {
      expectInvalid(() => norm({ timeout }), RangeError, /option "timeout"/);
    },
  );

  test.each([['5'], [''], [{}], [true], [[5]]])(
    'timeout %p (not a number) → TypeError naming the option',
    (timeout) => {
      expectInvalid(() => norm({ timeout }), TypeError, /option "timeout"/);
    },
  );
});

describe('normalizeRequest: method', () => {
  test.each([
    ['get', 'GET'],
    ['post', 'POST'],
    ['Put', 'PUT'],
    ['DELETE', 'DELETE'],
    ['patch', 'PATCH'],
    ['head', 'HEAD'],
    ['options', 'OPTIONS'],
    ['trace', 'TRACE'],
    ['purge', 'PURGE'],
  ])('method %p → %p', (m, expected) => {
    expect(normalizeRequest(URL_, {}, m).method).toBe(expected);
    expect(normalizeRequest(URL_, { method: m }, undefined).method).toBe(expected);
  });

  test('absent or empty method → GET', () => {
    expect(normalizeRequest(URL_, {}, undefined).method).toBe('GET');
    expect(normalizeRequest(URL_, {}, '').method).toBe('GET');
  });

  test.each([['BAD METHOD'], ['GET\r\n'], ['a/b'], ['(get)']])('invalid method token %j → TypeError', (m) => {
    expectInvalid(() => normalizeRequest(URL_, {}, m), TypeError, /method/);
    expectInvalid(() => normalizeRequest(URL_, { method: m }, 'get'), TypeError, /method/);
  });

  test.each([[5], [{}], [true]])('method %p (not a string) → TypeError', (m) => {
    expectInvalid(() => normalizeRequest(URL_, {}, m), TypeError, /method/);
  });

  test('CONNECT → ERR_NOT_IMPLEMENTED', () => {
    expectNotImplemented(() => normalizeRequest(URL_, {}, 'connect'), /CONNECT/);
  });
});

describe('normalizeRequest: url', () => {
  test('http and https URLs are accepted; a URL object too', () => {
    expect(norm({}, 'http://example.test/').url.protocol).toBe('http:');
    expect(norm({}, 'https://example.test:8443/a?b=c').url.port).toBe('8443');
    expect(norm({}, new URL('https://example.test/x')).url.href).toBe('https://example.test/x');
  });

  test.each([['not a url'], [''], ['example.test/path'], ['https://']])(
    'invalid URL %p → TypeError "Invalid URL"',
    (url) => {
      expectInvalid(() => norm({}, url), TypeError, /Invalid URL/);
    },
  );

  test.each([['ftp://example.test/'], ['file:///etc/passwd'], ['data:text/plain,x'], ['mailto:a@b.c']])(
    'unsupported scheme %p → TypeError',
    (url) => {
      expectInvalid(() => norm({}, url), TypeError, /url scheme/);
    },
  );

  test.each([[5], [null], [undefined], [{}], [['https://example.test/']]])(
    'url %p (not a string) → TypeError naming the url',
    (url) => {
      expectInvalid(() => normalizeRequest(url, {}, 'get'), TypeError, /url/);
    },
  );

  test('a URL with port 0 → ERR_INVALID_OPTION naming the url (the engine cannot connect to it)', () => {
    const err = thrown(() => norm({}, 'https://example.test:0/'));
    expect(err instanceof TypeError || err instanceof RangeError).toBe(true);
    expect(err.code).toBe('ERR_INVALID_OPTION');
    expect(err.message).toMatch(/url|port/i);
  });

  test('a very long invalid URL is truncated in the message', () => {
    const err = expectInvalid(() => norm({}, `not a url ${'x'.repeat(100000)}`), TypeError, /Invalid URL/);
    expect(err.message.length).toBeLessThan(400);
  });

  test('options.url overrides the url argument, as in cycletls', () => {
    expect(norm({ url: 'https://override.test/o' }, 'https://arg.test/a').url.href).toBe(
      'https://override.test/o',
    );
    expect(norm({ url: null }, 'https://arg.test/a').url.href).toBe('https://arg.test/a');
    expectInvalid(() => norm({ url: 'not a url' }, 'https://arg.test/a'), TypeError, /Invalid URL/);
  });

  test('ws: and wss: URLs are for ws() → ERR_INVALID_OPTION', () => {
    expect(() => norm({}, 'wss://example.test/')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/ws\(\)/) }),
    );
  });
});

describe('normalizeRequest: quicFingerprint and the fingerprint strings', () => {
  describe("quicFingerprint (cycletls's: a QUIC ClientHello as hex)", () => {
    const HELLO = '160301000401000000';
    test('kept as given, with what follows @@; it implies HTTP/3 (force)', () => {
      expect(norm({ quicFingerprint: HELLO })).toMatchObject({ quicFingerprint: HELLO, http3: 'force' });
      expect(norm({ quicFingerprint: ` ${HELLO}@@505249 ` }).quicFingerprint).toBe(`${HELLO}@@505249`);
      expect(norm({ quicFingerprint: `0x16:03:01 00 04${HELLO.slice(10)}` }).http3).toBe('force');
      expect(norm({ quicFingerprint: HELLO, forceHTTP3: true }).http3).toBe('force');
    });
    test("with http3 'alt-svc' it shapes what discovery opens; empty or null is absent", () => {
      expect(norm({ quicFingerprint: HELLO, http3: 'alt-svc' }).http3).toBe('alt-svc');
      expect(norm({ quicFingerprint: '' })).toMatchObject({ quicFingerprint: undefined, http3: undefined });
      expect(norm({ quicFingerprint: null }).quicFingerprint).toBeUndefined();
    });
    test('without a profile, the user-agent rule picks the rest of the first flight', () => {
      const FIREFOX_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0';
      expect(norm({ quicFingerprint: HELLO, userAgent: FIREFOX_UA }).profile).toBe('firefox');
      expect(norm({ quicFingerprint: HELLO }).profile).toBe('');
    });
    test.each([['not hex'], ['16030zz'], ['@@1603'], ['0x']])('%j → RangeError ERR_INVALID_OPTION', (v) => {
      expectInvalid(() => norm({ quicFingerprint: v }), RangeError, /quicFingerprint/);
    });
    test('a wrong type → TypeError; with http3 off, forceHTTP1 or http:// → ERR_INVALID_OPTION', () => {
      expectInvalid(() => norm({ quicFingerprint: 5 }), TypeError, /quicFingerprint/);
      expectInvalid(() => norm({ quicFingerprint: HELLO, http3: 'off' }), TypeError, /quicFingerprint/);
      expectInvalid(() => norm({ quicFingerprint: HELLO, forceHTTP1: true }), TypeError, /HTTP\/3/);
      expectInvalid(() => norm({ quicFingerprint: HELLO }, 'http://example.test/'), TypeError, /https/);
    });
  });

  test.each([['ja3'], ['ja4r'], ['http2Fingerprint'], ['proxy'], ['quicFingerprint']])(
    '%s as an empty string (or null) is treated as absent',
    (key) => {
      expect(norm({ [key]: '' }).method).toBe('GET');
      expect(norm({ [key]: null }).method).toBe('GET');
    },
  );

  test.each([['ja3'], ['proxy']])('%s of a wrong type → TypeError', (key) => {
    expectInvalid(() => norm({ [key]: 5 }), TypeError, new RegExp(key));
  });

  test('proxy URLs: six schemes, default ports kept implicit, credentials kept percent-encoded', () => {
    expect(norm({ proxy: ' HTTP://127.0.0.1:8080/ ' }).proxy).toBe('http://127.0.0.1:8080');
    expect(norm({ proxy: 'socks5h://us%40er:p%3Ass@Proxy.Test' }).proxy).toBe(
      'socks5h://us%40er:p%3Ass@proxy.test',
    );
    expect(norm({ proxy: 'socks4a://[::1]:1080' }).proxy).toBe('socks4a://[::1]:1080');
    for (const scheme of ['http', 'https', 'socks4', 'socks4a', 'socks5', 'socks5h']) {
      expect(norm({ proxy: `${scheme}://h:1` }).proxy).toBe(`${scheme}://h:1`);
    }
    expect(norm({}).proxy).toBeUndefined();
  });

  test.each([
    ['127.0.0.1:8080', /must be a URL/],
    ['ftp://h:1', /schemes/],
    ['http://', /valid URL|no host/],
    ['http://h:0', /port 0/],
    ['http://h/x', /path/],
    ['http://h?q', /query/],
    ['http://u:%zz@h:1', /percent-encoding/],
    ['socks5://h:1:2', /valid URL|host/],
  ])('proxy %s → ERR_INVALID_OPTION', (proxy, why) => {
    expectInvalid(() => norm({ proxy }), TypeError, why);
  });

  test('a rejected proxy URL never shows its password', () => {
    expectInvalid(() => norm({ proxy: 'ftp://user:hunter2@h:1' }), TypeError, /^(?!.*hunter2)/);
  });

  test('disableGrease is a boolean passed to the engine', () => {
    expect(norm({ disableGrease: true }).disableGrease).toBe(true);
    expect(norm({ disableGrease: false }).disableGrease).toBe(false);
    expectInvalid(() => norm({ disableGrease: 'yes' }), TypeError, /disableGrease/);
  });

  test.each([
    ['ja3', '771,4865-4867,0-23,29-23,0'],
    ['ja4r', 't13d1516h2_002f,0035_0005,000a_0403'],
    ['http2Fingerprint', '1:65536;2:0|12517377|0|m,p,a,s'],
  ])('%s strings pass through, trimmed', (key, value) => {
    // A named preset: the user-agent rule (below) leaves the strings alone.
    expect(norm({ [key]: ` ${value} `, profile: 'chrome_156' })[key]).toBe(value);
  });

  describe("cycletls's user-agent rule (ja3/ja4r without a preset)", () => {
    const JA3 = '771,4865-4867,0-23-65281,29-23,0';
    const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0';
    const { userAgentFamily, withGrease } = require('../../dist/options');

    test.each([
      [FIREFOX, 'firefox'],
      ['Mozilla/5.0 (X11; rv:153.0) Gecko/20100101 firefox/153.0', 'firefox'],
      [DEFAULT_USER_AGENT, 'chrome'],
      [
        'Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15',
        'chrome',
      ],
      [
        'Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/140.0 Mobile/15E148 Safari/605.1.15',
        'chrome',
      ],
      ['Mozilla/5.0 Firefox/153.0 Chrome/1', 'chrome'],
      ['curl/8.0', 'chrome'],
    ])('%s → %s', (ua, family) => {
      expect(userAgentFamily(ua)).toBe(family);
    });

    test('withGrease puts one GREASE value first among the extensions, unless one is there', () => {
      expect(withGrease(JA3)).toBe('771,4865-4867,2570-0-23-65281,29-23,0');
      expect(withGrease('771,4865-4867,0-56026-23,29-23,0')).toBe('771,4865-4867,0-56026-23,29-23,0');
      expect(withGrease('771,4865,,29,')).toBe('771,4865,2570,29,');
    });

    test('a Firefox user agent picks the newest Firefox preset and leaves the JA3 alone', () => {
      const r = norm({ ja3: JA3, userAgent: FIREFOX });
      expect(r.profile).toBe('firefox');
      expect(r.ja3).toBe(JA3);
      // A User-Agent header counts as much as the option.
      expect(norm({ ja3: JA3, headers: { 'user-agent': FIREFOX } }).profile).toBe('firefox');
      expect(norm({ ja4r: 't13d1516h2_002f,0035_0005,000a_0403', userAgent: FIREFOX }).profile).toBe(
        'firefox',
      );
    });

    test('Chrome and every other user agent (and none) keep the default preset and GREASE the JA3', () => {
      for (const extra of [{}, { userAgent: DEFAULT_USER_AGENT }, { userAgent: 'curl/8.0' }]) {
        const r = norm({ ja3: JA3, ...extra });
        expect(r.profile).toBe('');
        expect(r.ja3).toBe('771,4865-4867,2570-0-23-65281,29-23,0');
      }
      expect(norm({ ja3: JA3, disableGrease: true }).ja3).toBe(JA3);
    });

    test("the headers are the chosen preset's", () => {
      const catalog = {
        has: () => true,
        headers: (id) =>
          id === 'firefox'
            ? [
                ['user-agent', 'FF'],
                ['te', 'trailers'],
              ]
            : [
                ['sec-ch-ua', 'x'],
                ['user-agent', 'CH'],
              ],
      };
      const r = normalizeRequest(URL_, { ja3: JA3, userAgent: FIREFOX }, 'get', catalog);
      expect(r.headers).toEqual([
        ['user-agent', FIREFOX],
        ['te', 'trailers'],
      ]);
    });

    test('an explicit profile or http2Fingerprint always wins', () => {
      expect(norm({ ja3: JA3, userAgent: FIREFOX, profile: 'chrome_156' })).toMatchObject({
        profile: 'chrome_156',
        ja3: JA3,
      });
      expect(norm({ ja3: JA3, profile: 'firefox_140' })).toMatchObject({ profile: 'firefox_140', ja3: JA3 });
      const h2 = '1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p';
      expect(norm({ ja3: JA3, userAgent: FIREFOX, http2Fingerprint: h2 })).toMatchObject({
        profile: '',
        ja3: JA3,
      });
      expect(norm({ ja3: JA3, http2Fingerprint: h2 })).toMatchObject({ profile: '', ja3: JA3 });
    });

    test('without ja3/ja4r nothing changes', () => {
      expect(norm({ userAgent: FIREFOX }).profile).toBe('');
    });
  });

  test.each([
    ['ja3', '771,4865'],
    ['ja3', 'chrome'],
    ['ja4r', 't13d1516h2'],
    ['http2Fingerprint', '1:65536|x|0|m,a,s,p'],
    ['http2Fingerprint', '1:65536|0|0|q,a,s,p'],
  ])('a malformed %s string → RangeError naming the option', (key, value) => {
    expectInvalid(() => norm({ [key]: value }), RangeError, new RegExp(key));
  });

  test('profile must name a preset when the catalog is known', () => {
    const catalog = { has: (id) => id === 'chrome_156', headers: () => [['user-agent', 'UA']] };
    expect(normalizeRequest(URL_, { profile: 'chrome_156' }, 'get', catalog).profile).toBe('chrome_156');
    expectInvalid(
      () => normalizeRequest(URL_, { profile: 'netscape' }, 'get', catalog),
      RangeError,
      /profile/,
    );
    expectInvalid(() => normalizeRequest(URL_, { profile: 5 }, 'get', catalog), TypeError, /profile/);
  });

  test('preset headers are the base; given headers override by name in place', () => {
    const catalog = {
      has: () => true,
      headers: () => [
        ['accept', 'a/b'],
        ['user-agent', 'UA'],
        ['accept-language', 'en'],
      ],
    };
    const r = normalizeRequest(URL_, { headers: { 'Accept-Language': 'de', 'X-New': '1' } }, 'get', catalog);
    expect(r.headers).toEqual([
      ['accept', 'a/b'],
      ['user-agent', 'UA'],
      ['Accept-Language', 'de'],
      ['X-New', '1'],
    ]);
    const exact = normalizeRequest(
      URL_,
      { headers: { 'X-New': '1' }, orderAsProvided: true },
      'get',
      catalog,
    );
    expect(exact.headers.map(([n]) => n)).toEqual(['X-New', 'User-Agent']);
  });

  test('forceHTTP3 and protocol http3 mean http3 "force"; false and absent leave it to the client', () => {
    expect(norm({ forceHTTP3: true }).http3).toBe('force');
    expect(norm({ protocol: 'http3' }).http3).toBe('force');
    expect(norm({ forceHTTP3: false }).http3).toBeUndefined();
    expect(norm({}).http3).toBeUndefined();
    expect(norm({ http3: 'alt-svc' }).http3).toBe('alt-svc');
    expect(norm({ http3: 'off' }).http3).toBe('off');
  });

  test('http3: bad values and contradictions → TypeError / RangeError', () => {
    expectInvalid(() => norm({ http3: 'always' }), RangeError, /http3/);
    expectInvalid(() => norm({ http3: true }), TypeError, /http3/);
    expectInvalid(() => norm({ forceHTTP3: true, http3: 'off' }), TypeError, /contradict/);
    expectInvalid(() => norm({ forceHTTP3: true, forceHTTP1: true }), TypeError, /forceHTTP1/);
    expectInvalid(
      () => normalizeRequest('http://example.com/', { forceHTTP3: true }, 'get', undefined),
      TypeError,
      /https/,
    );
  });

  test.each([['websocket'], ['sse']])('protocol %p → ERR_NOT_IMPLEMENTED', (protocol) => {
    expectNotImplemented(() => norm({ protocol }), /protocol/);
  });

  test('protocol http1 forces HTTP/1.1; http2 and empty are accepted', () => {
    expect(norm({ protocol: 'http1' }).forceHttp1).toBe(true);
    expect(norm({ protocol: 'http2' }).forceHttp1).toBe(false);
    expect(norm({ protocol: '' }).forceHttp1).toBe(false);
    expect(norm({ forceHTTP1: true }).forceHttp1).toBe(true);
  });

  test('an unknown protocol → RangeError; a non-string → TypeError', () => {
    expectInvalid(() => norm({ protocol: 'gopher' }), RangeError, /protocol/);
    expectInvalid(() => norm({ protocol: 5 }), TypeError, /protocol/);
  });

  test('accepted no-op flags: orderAsProvided, enableConnectionReuse: true, tls13AutoRetry', () => {
    const req = norm({ orderAsProvided: true, enableConnectionReuse: true, tls13AutoRetry: true });
    expect(req.method).toBe('GET');
    expect(req.connection).toEqual({});
    expectInvalid(() => norm({ enableConnectionReuse: 'yes' }), TypeError, /enableConnectionReuse/);
  });
});

describe('identities and rotation (request and initCycleTLS)', () => {
  test('identity: any string up to 256 bytes; absent by default', () => {
    expect(norm({}).connection).toEqual({});
    expect(norm({ identity: 'account 7 / ü' }).connection).toEqual({ identity: 'account 7 / ü' });
    expect(norm({ identity: '' }).connection).toEqual({ identity: '' });
    expect(norm({ identity: 'x'.repeat(256) }).connection.identity).toHaveLength(256);
    expectInvalid(() => norm({ identity: 'x'.repeat(257) }), RangeError, /identity.*256 bytes/);
    expectInvalid(() => norm({ identity: 'é'.repeat(129) }), RangeError, /identity/);
    expectInvalid(() => norm({ identity: 7 }), TypeError, /identity/);
    expectInvalid(() => norm({ identity: 'a\0b' }), TypeError, /identity.*NUL/);
    expect(normalizeInit({ identity: 'acct' }).connection).toEqual({ identity: 'acct' });
    expectInvalid(() => normalizeInit({ identity: {} }), TypeError, /identity/);
  });

  test('enableConnectionReuse: false is one request per connection', () => {
    expect(norm({ enableConnectionReuse: false }).connection).toEqual({ maxRequestsPerConnection: 1 });
    expect(norm({ enableConnectionReuse: false, maxRequestsPerConnection: 1 }).connection).toEqual({
      maxRequestsPerConnection: 1,
    });
    expectInvalid(
      () => norm({ enableConnectionReuse: false, maxRequestsPerConnection: 3 }),
      TypeError,
      /enableConnectionReuse: false contradicts/,
    );
    expect(normalizeInit({ enableConnectionReuse: false }).connection).toEqual({
      maxRequestsPerConnection: 1,
    });
  });

  test('maxRequestsPerConnection and maxConnectionAgeMs: integers, 0 = no limit', () => {
    expect(norm({ maxRequestsPerConnection: 2, maxConnectionAgeMs: 1500 }).connection).toEqual({
      maxRequestsPerConnection: 2,
      maxConnectionAgeMs: 1500,
    });
    expect(norm({ maxRequestsPerConnection: 0 }).connection).toEqual({ maxRequestsPerConnection: 0 });
    for (const v of [-1, 1.5, Infinity])
      expectInvalid(() => norm({ maxRequestsPerConnection: v }), RangeError, /maxRequestsPerConnection/);
    expectInvalid(() => norm({ maxRequestsPerConnection: '2' }), TypeError, /maxRequestsPerConnection/);
    expectInvalid(
      () => norm({ maxConnectionAgeMs: 366 * 24 * 3600 * 1000 }),
      RangeError,
      /maxConnectionAgeMs/,
    );
    expectInvalid(() => normalizeInit({ maxConnectionAgeMs: -5 }), RangeError, /maxConnectionAgeMs/);
    expect(normalizeInit({ maxConnectionAgeMs: 60000 }).connection).toEqual({ maxConnectionAgeMs: 60000 });
  });
});

describe('normalizeRequest: other options', () => {
  test.each([['json'], ['text'], ['arraybuffer'], ['blob'], ['stream']])(
    'responseType %p is accepted',
    (responseType) => {
      expect(norm({ responseType }).responseType).toBe(responseType);
    },
  );

  test('responseType: unknown value → RangeError, non-string → TypeError, null → json', () => {
    expectInvalid(() => norm({ responseType: 'xml' }), RangeError, /responseType/);
    expectInvalid(() => norm({ responseType: 'JSON' }), RangeError, /responseType/);
    expectInvalid(() => norm({ responseType: 5 }), TypeError, /responseType/);
    expect(norm({ responseType: null }).responseType).toBe('json');
  });

  test('boolean options are read; non-booleans → TypeError naming the option', () => {
    const r = norm({
      insecureSkipVerify: true,
      forceHTTP1: true,
      disableRedirect: true,
      rejectOnError: true,
    });
    expect(r).toMatchObject({
      insecureSkipVerify: true,
      forceHttp1: true,
      disableRedirect: true,
      rejectOnError: true,
    });
    expect(norm({}).rejectOnError).toBeUndefined();
    for (const key of ['insecureSkipVerify', 'forceHTTP1', 'disableRedirect', 'rejectOnError']) {
      expectInvalid(() => norm({ [key]: 'yes' }), TypeError, new RegExp(key));
      expectInvalid(() => norm({ [key]: 1 }), TypeError, new RegExp(key));
    }
  });

  test('serverName: host names accepted, empty means none, bad values rejected', () => {
    expect(norm({ serverName: 'front.example.test' }).serverName).toBe('front.example.test');
    expect(norm({ serverName: '' }).serverName).toBeUndefined();
    expectInvalid(() => norm({ serverName: 5 }), TypeError, /serverName/);
    expectInvalid(() => norm({ serverName: 'bad name/' }), RangeError, /serverName/);
  });

  test('echConfigList: base64 of a framed ECHConfigList accepted, empty means none, bad values rejected', () => {
    // 00 04 | fe0d 0000: a list whose length prefix frames it (the engine parses the configs).
    const framed = Buffer.from([0x00, 0x04, 0xfe, 0x0d, 0x00, 0x00]).toString('base64');
    expect(norm({ echConfigList: framed }).echConfigList).toBe(framed);
    expect(norm({ echConfigList: '' }).echConfigList).toBeUndefined();
    expect(norm({}).echConfigList).toBeUndefined();
    expectInvalid(() => norm({ echConfigList: 5 }), TypeError, /echConfigList/);
    for (const bad of [
      'not base64!',
      'AAEC=',
      '@@@@',
      Buffer.from([0, 9, 1, 2, 3, 4]).toString('base64'),
      'AAA=',
    ]) {
      expectInvalid(() => norm({ echConfigList: bad }), RangeError, /echConfigList/);
    }
  });

  test('serverName longer than a DNS name (253) → RangeError naming the option', () => {
    expect(norm({ serverName: `${'a'.repeat(63)}.${'b'.repeat(63)}.test` }).serverName).toHaveLength(132);
    expectInvalid(() => norm({ serverName: 'a'.repeat(300) }), RangeError, /serverName/);
  });

  test('maxRedirects: non-negative integers accepted; others → TypeError', () => {
    expect(norm({ maxRedirects: 0 }).maxRedirects).toBe(0);
    expect(norm({ maxRedirects: 3 }).maxRedirects).toBe(3);
    for (const maxRedirects of [-1, 1.5, '3', NaN]) {
      expectInvalid(() => norm({ maxRedirects }), TypeError, /maxRedirects/);
    }
  });

  test('signal: an AbortSignal is kept; anything else → TypeError', () => {
    const ac = new AbortController();
    expect(norm({ signal: ac.signal }).signal).toBe(ac.signal);
    expectInvalid(() => norm({ signal: {} }), TypeError, /signal/);
    expectInvalid(() => norm({ signal: 'x' }), TypeError, /signal/);
  });

  test('unknown option keys are ignored', () => {
    expect(norm({ somethingElse: { deep: true }, _hostKey: 'x' }).method).toBe('GET');
  });

  test.each([[5], ['x'], [[]], [true], [new Map()]])(
    'options %p (not a plain object) → TypeError',
    (options) => {
      expectInvalid(() => norm(options), TypeError, /options must be an object/);
    },
  );
});

describe("the caller's options object is never mutated", () => {
  function fullOptions() {
    return {
      url: 'https://example.test/override',
      method: 'post',
      headers: { 'X-A': '1', 'x-num': 5, multi: ['a', 'b'], 'user-agent': 'old', cookie: 'z=0' },
      cookies: { a: '1', b: '2' },
      body: 'payload',
      responseType: 'text',
      userAgent: 'NewAgent/2',
      timeout: 0.1,
      headerOrder: ['cookie', 'x-a'],
      insecureSkipVerify: false,
      forceHTTP1: true,
      disableRedirect: false,
      maxRedirects: 2,
      serverName: 'sni.example.test',
      ja3: '',
      proxy: '',
      extra: { nested: [1, 2, 3] },
    };
  }

  test('a deep-frozen options object (object-form cookies) is accepted as is', () => {
    const frozen = deepFreeze(fullOptions());
    const r = normalizeRequest('https://example.test/arg', frozen, 'get');
    expect(r.url.href).toBe('https://example.test/override');
    expect(frozen).toEqual(fullOptions());
  });

  test('a plain options object (object-form cookies) is deep-equal before and after', () => {
    const opts = fullOptions();
    const before = util.inspect(opts, { depth: null });
    const r = normalizeRequest('https://example.test/arg', opts, 'get');
    expect(util.inspect(opts, { depth: null })).toBe(before);
    expect(opts).toEqual(fullOptions());
    // cycletls replaced object-form cookies by an array and filled in defaults: none of that here.
    expect(Array.isArray(opts.cookies)).toBe(false);
    expect(Object.keys(opts)).toEqual(Object.keys(fullOptions()));
    // And the result does not alias the caller's header structures.
    expect(r.headers).not.toBe(opts.headers);
  });

  test('array-form cookies, URLSearchParams body and bodyBytes are left untouched', () => {
    const params = new URLSearchParams({ a: '1' });
    const bytes = Buffer.from([1, 2, 3]);
    const opts = {
      cookies: [{ name: 'a', value: '1', expires: 'Mon, 02-Jan-2022 15:04:05 EST', sameSite: 'Lax' }],
      body: params,
      bodyBytes: bytes,
    };
    const copy = { cookies: [{ ...opts.cookies[0] }], body: params, bodyBytes: bytes };
    deepFreeze(opts.cookies);
    normalizeRequest(URL_, opts, 'post');
    expect(opts).toEqual(copy);
    expect(Object.keys(opts)).toEqual(['cookies', 'body', 'bodyBytes']);
    expect(params.toString()).toBe('a=1');
    expect([...bytes]).toEqual([1, 2, 3]);
  });

  test('options that are rejected are not mutated either', () => {
    const opts = deepFreeze({ headers: { a: 'x\r\ny' }, cookies: { a: '1' } });
    expectInvalid(() => normalizeRequest(URL_, opts, 'get'), TypeError, /header "a"/);
    expect(opts).toEqual({ headers: { a: 'x\r\ny' }, cookies: { a: '1' } });
  });
});
