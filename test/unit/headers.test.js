'use strict';
// Unit tests of lib/headers.ts, the one place a request's header list is composed: the preset base
// and the caller's overrides, User-Agent and Cookie, the body's Content-Type and the caller's
// Content-Length, headerOrder, redirect hops, the jar's cookies and an event stream's defaults.
const { Buffer } = require('node:buffer');

const {
  DEFAULT_USER_AGENT,
  composeHeaders,
  eventStreamHeaders,
  redirectHeaders,
  withBodyLength,
  withPresetUserAgent,
} = require('../../dist/headers');

const PRESET = [
  ['accept', '*/*'],
  ['user-agent', 'PresetUA'],
  ['accept-language', 'en'],
];

function compose(parts) {
  return composeHeaders({
    caller: [],
    preset: undefined,
    userAgent: undefined,
    cookie: undefined,
    contentType: undefined,
    body: undefined,
    streamed: false,
    order: undefined,
    ...parts,
  });
}

describe('composeHeaders', () => {
  test('the preset is the base; the caller overrides by name in its place and spelling, the rest follow', () => {
    const { headers } = compose({
      preset: PRESET,
      caller: [
        ['Accept-Language', 'de'],
        ['X-Own', '1'],
      ],
    });
    expect(headers).toEqual([
      ['accept', '*/*'],
      ['user-agent', 'PresetUA'],
      ['Accept-Language', 'de'],
      ['X-Own', '1'],
    ]);
  });

  test("without a preset the caller's headers stand, with the default User-Agent added last", () => {
    expect(
      compose({
        caller: [
          ['b', '2'],
          ['a', '1'],
        ],
      }).headers,
    ).toEqual([
      ['b', '2'],
      ['a', '1'],
      ['User-Agent', DEFAULT_USER_AGENT],
    ]);
  });

  test('userAgent replaces the first User-Agent in place and drops later ones', () => {
    const { headers } = compose({
      preset: PRESET,
      caller: [
        ['X', '1'],
        ['USER-AGENT', 'dup'],
      ],
      userAgent: 'Mine',
    });
    expect(headers).toEqual([
      ['accept', '*/*'],
      ['USER-AGENT', 'Mine'],
      ['accept-language', 'en'],
      ['X', '1'],
    ]);
  });

  test("cookies join a caller's Cookie header; a body's Content-Type only when the caller gave none", () => {
    let { headers } = compose({ caller: [['Cookie', 'a=1']], cookie: 'b=2', contentType: 'text/x' });
    expect(headers).toEqual([
      ['Cookie', 'a=1; b=2'],
      ['User-Agent', DEFAULT_USER_AGENT],
      ['Content-Type', 'text/x'],
    ]);
    ({ headers } = compose({ caller: [['content-type', 'mine']], contentType: 'text/x' }));
    expect(headers.filter(([n]) => n.toLowerCase() === 'content-type')).toEqual([['content-type', 'mine']]);
  });

  test("the caller's framing: Transfer-Encoding goes, Content-Length gets the true length in its place", () => {
    const { headers, declaredLength } = compose({
      caller: [
        ['Content-Length', '99'],
        ['Transfer-Encoding', 'gzip'],
        ['X', '1'],
      ],
      body: Buffer.from('abc'),
    });
    expect(headers).toEqual([
      ['Content-Length', '3'],
      ['X', '1'],
      ['User-Agent', DEFAULT_USER_AGENT],
    ]);
    expect(declaredLength).toBeUndefined();
  });

  test("a streamed body keeps the caller's Content-Length as its declared length; a bad one is refused", () => {
    const { headers, declaredLength } = compose({ caller: [['content-length', ' 12 ']], streamed: true });
    expect(declaredLength).toBe(12);
    expect(headers[0]).toEqual(['content-length', ' 12 ']);
    expect(() => compose({ caller: [['content-length', 'lots']], streamed: true })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
  });

  test('headerOrder puts the names it lists first, in its order; the others keep theirs', () => {
    const { headers } = compose({ preset: PRESET, order: ['Accept-Language', 'accept'] });
    expect(headers.map(([n]) => n)).toEqual(['accept-language', 'accept', 'user-agent']);
  });
});

test("withBodyLength corrects a caller's Content-Length only", () => {
  const given = [
    ['Content-Length', '1'],
    ['a', 'b'],
  ];
  expect(withBodyLength(given, 5)).toEqual([
    ['Content-Length', '5'],
    ['a', 'b'],
  ]);
  expect(given[0][1]).toBe('1');
  expect(withBodyLength([['a', 'b']], 5)).toEqual([['a', 'b']]);
});

test("redirectHeaders drops the body's headers when it is dropped, credentials when the origin changes", () => {
  const h = [
    ['Content-Type', 'x'],
    ['Content-Length', '3'],
    ['Authorization', 'a'],
    ['Cookie', 'c'],
    ['Host', 'h'],
    ['Proxy-Authorization', 'p'],
    ['X', '1'],
  ];
  expect(redirectHeaders(h, false, false)).toBe(h);
  expect(redirectHeaders(h, true, false).map(([n]) => n)).toEqual([
    'Authorization',
    'Cookie',
    'Host',
    'Proxy-Authorization',
    'X',
  ]);
  expect(redirectHeaders(h, false, true).map(([n]) => n)).toEqual(['Content-Type', 'Content-Length', 'X']);
});

test('eventStreamHeaders adds Accept and Cache-Control unless given, and the Last-Event-ID it knows', () => {
  expect(eventStreamHeaders(undefined, '')).toEqual({
    Accept: 'text/event-stream',
    'Cache-Control': 'no-cache',
  });
  expect(eventStreamHeaders({ accept: 'a', 'last-event-id': 'old' }, '7')).toEqual({
    'Cache-Control': 'no-cache',
    accept: 'a',
    'Last-Event-ID': '7',
  });
  expect(eventStreamHeaders('not an object', '7')).toBe('not an object');
});

test("withPresetUserAgent puts the preset's HTTP/1.1 User-Agent in place of the caller's", () => {
  const catalog = {
    has: () => true,
    headers: (id, set) => (set === 'http1' ? [['User-Agent', `UA of ${id}`]] : []),
  };
  expect(
    withPresetUserAgent(
      [
        ['user-agent', 'x'],
        ['a', 'b'],
      ],
      catalog,
      'p',
    ),
  ).toEqual([
    ['user-agent', 'UA of p'],
    ['a', 'b'],
  ]);
});
