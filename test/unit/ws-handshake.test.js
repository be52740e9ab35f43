'use strict';
// Unit tests of the opening handshake (lib/ws-protocol/handshake.ts): the key and accept values, the header
// list per browser family (order, spelling, the caller's headers), and the checks of the 101.
const {
  createKey,
  acceptFor,
  handshakeHeaders,
  offeredProtocols,
  verifyHandshake,
} = require('../../dist/ws-protocol/handshake');
const { CycleTLSError } = require('../../dist/errors');

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const UA_CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36';
const UA_FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:141.0) Gecko/20100101 Firefox/141.0';

const base = (over = {}) => ({ key: KEY, perMessageDeflate: true, extra: [], ...over });
const names = (headers) => headers.map(([n]) => n);

describe('key and accept', () => {
  test("RFC 6455's example", () => {
    expect(acceptFor(KEY)).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  test('createKey: 16 random bytes in base64', () => {
    const a = createKey();
    expect(Buffer.from(a, 'base64')).toHaveLength(16);
    expect(a).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(createKey()).not.toBe(a);
  });
});

describe('handshakeHeaders', () => {
  test('chrome: the order, spelling and values Chrome sends', () => {
    const h = handshakeHeaders(
      'chrome',
      new URL('wss://example.com/chat?x=1'),
      base({ userAgent: UA_CHROME }),
    );
    expect(h).toEqual([
      ['Host', 'example.com'],
      ['Connection', 'Upgrade'],
      ['Pragma', 'no-cache'],
      ['Cache-Control', 'no-cache'],
      ['User-Agent', UA_CHROME],
      ['Upgrade', 'websocket'],
      ['Origin', 'https://example.com'],
      ['Sec-WebSocket-Version', '13'],
      ['Accept-Encoding', 'gzip, deflate, br, zstd'],
      ['Accept-Language', 'en-US,en;q=0.9'],
      ['Sec-WebSocket-Key', KEY],
      ['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits'],
    ]);
  });

  test('chrome: subprotocols last, cookies and other headers before the key, known names replaced in place', () => {
    const h = handshakeHeaders(
      'chrome',
      new URL('ws://10.0.0.1:8080/'),
      base({
        protocols: ['chat', 'superchat'],
        perMessageDeflate: false,
        acceptLanguage: 'de-DE,de;q=0.9',
        extra: [
          ['x-token', 'abc'],
          ['cookie', 'a=1'],
          ['user-agent', 'Custom/1'],
          ['Authorization', 'Bearer t'],
          ['Cookie', 'b=2'],
        ],
      }),
    );
    expect(h).toEqual([
      ['Host', '10.0.0.1:8080'],
      ['Connection', 'Upgrade'],
      ['Pragma', 'no-cache'],
      ['Cache-Control', 'no-cache'],
      ['User-Agent', 'Custom/1'],
      ['Upgrade', 'websocket'],
      ['Origin', 'http://10.0.0.1:8080'],
      ['Sec-WebSocket-Version', '13'],
      ['Accept-Encoding', 'gzip, deflate, br, zstd'],
      ['Accept-Language', 'de-DE,de;q=0.9'],
      ['Cookie', 'a=1; b=2'],
      ['x-token', 'abc'],
      ['Authorization', 'Bearer t'],
      ['Sec-WebSocket-Key', KEY],
      ['Sec-WebSocket-Protocol', 'chat, superchat'],
    ]);
  });

  test('Host carries the port only when it is not the default; Origin follows; a given Origin stands', () => {
    const host = (u) => handshakeHeaders('chrome', new URL(u), base()).find(([n]) => n === 'Host')[1];
    const origin = (u, o) =>
      handshakeHeaders('chrome', new URL(u), base({ origin: o })).find(([n]) => n === 'Origin')[1];
    expect(host('wss://Example.COM:443/')).toBe('example.com');
    expect(host('wss://example.com:8443/')).toBe('example.com:8443');
    expect(host('ws://example.com:80/')).toBe('example.com');
    expect(host('ws://example.com:443/')).toBe('example.com:443');
    expect(host('wss://[::1]:9000/')).toBe('[::1]:9000');
    expect(origin('wss://example.com:8443/')).toBe('https://example.com:8443');
    expect(origin('wss://example.com/', 'https://app.example.org')).toBe('https://app.example.org');
  });

  test('firefox: the order, spelling and values Firefox sends', () => {
    const h = handshakeHeaders(
      'firefox',
      new URL('wss://example.com/socket'),
      base({
        userAgent: UA_FIREFOX,
        protocols: ['v1.json'],
        extra: [
          ['Cookie', 's=1'],
          ['DNT', '1'],
        ],
      }),
    );
    expect(h).toEqual([
      ['Host', 'example.com'],
      ['User-Agent', UA_FIREFOX],
      ['Accept', '*/*'],
      ['Accept-Language', 'en-US,en;q=0.5'],
      ['Accept-Encoding', 'gzip, deflate, br, zstd'],
      ['Sec-WebSocket-Version', '13'],
      ['Origin', 'https://example.com'],
      ['Sec-WebSocket-Protocol', 'v1.json'],
      ['Sec-WebSocket-Extensions', 'permessage-deflate'],
      ['Sec-WebSocket-Key', KEY],
      ['DNT', '1'],
      ['Connection', 'Upgrade'],
      ['Cookie', 's=1'],
      ['Sec-Fetch-Dest', 'empty'],
      ['Sec-Fetch-Mode', 'websocket'],
      ['Sec-Fetch-Site', 'same-origin'],
      ['Pragma', 'no-cache'],
      ['Cache-Control', 'no-cache'],
      ['Upgrade', 'websocket'],
    ]);
  });

  test('firefox: Sec-Fetch-Site, and no Sec-Fetch-* over plain ws: to a non-local host', () => {
    const site = (u, origin, extra = []) => {
      const h = handshakeHeaders('firefox', new URL(u), base({ origin, extra }));
      return h.find(([n]) => n === 'Sec-Fetch-Site')?.[1];
    };
    expect(site('wss://api.example.com/', 'https://www.example.com')).toBe('same-site');
    expect(site('wss://api.example.co.uk/', 'https://www.example.co.uk')).toBe('same-site');
    expect(site('wss://api.example.com/', 'https://other.org')).toBe('cross-site');
    expect(site('wss://api.example.com/', 'http://api.example.com')).toBe('cross-site');
    expect(site('wss://api.example.com/', 'null')).toBe('cross-site');
    expect(site('wss://api.example.com/', 'https://other.org', [['Sec-Fetch-Site', 'same-site']])).toBe(
      'same-site',
    );
    expect(site('ws://example.com/')).toBeUndefined();
    expect(site('ws://localhost:3000/')).toBe('same-origin');
    expect(site('ws://127.0.0.1:3000/')).toBe('same-origin');
  });

  test('firefox: Sec-Fetch-Storage-Access: none after the key for a cross-site or null origin only (ESR 153 capture)', () => {
    const list = (origin, u = 'wss://api.example.com/') =>
      handshakeHeaders('firefox', new URL(u), base({ origin }));
    const storage = (h) => h.find(([n]) => n === 'Sec-Fetch-Storage-Access')?.[1];
    expect(storage(list('https://other.org'))).toBe('none');
    expect(storage(list('null'))).toBe('none');
    expect(storage(list('https://www.example.com'))).toBeUndefined();
    expect(storage(list('https://api.example.com'))).toBeUndefined();
    expect(storage(list('https://other.org', 'ws://example.com/'))).toBeUndefined(); // no fetch metadata there
    const n = names(list('null'));
    expect(n.slice(n.indexOf('Sec-WebSocket-Key'), n.indexOf('Sec-WebSocket-Key') + 3)).toEqual([
      'Sec-WebSocket-Key',
      'Sec-Fetch-Storage-Access',
      'Connection',
    ]);
  });

  test("safari: Chrome's order (Safari's own is unverified), Safari's Accept-Encoding", () => {
    const chrome = handshakeHeaders('chrome', new URL('wss://example.com/'), base({ userAgent: 'UA' }));
    const safari = handshakeHeaders('safari', new URL('wss://example.com/'), base({ userAgent: 'UA' }));
    expect(names(safari)).toEqual(names(chrome));
    expect(safari.find(([n]) => n === 'Accept-Encoding')[1]).toBe('gzip, deflate, br');
  });

  test('no User-Agent unless given; no Sec-WebSocket-Extensions without perMessageDeflate', () => {
    const h = handshakeHeaders('chrome', new URL('wss://example.com/'), base({ perMessageDeflate: false }));
    expect(names(h)).not.toContain('User-Agent');
    expect(names(h)).not.toContain('Sec-WebSocket-Extensions');
  });

  test('subprotocols from a Sec-WebSocket-Protocol header (as cycletls callers set them)', () => {
    const opts = base({ extra: [['sec-websocket-protocol', 'graphql-ws, graphql-transport-ws']] });
    expect(offeredProtocols(opts)).toEqual(['graphql-ws', 'graphql-transport-ws']);
    const h = handshakeHeaders('chrome', new URL('wss://example.com/'), opts);
    expect(h[h.length - 1]).toEqual(['Sec-WebSocket-Protocol', 'graphql-ws, graphql-transport-ws']);
  });

  test('misuse is ERR_INVALID_OPTION', () => {
    const bad = (family, url, opts) => {
      try {
        handshakeHeaders(family, new URL(url), opts);
      } catch (err) {
        return err;
      }
      return undefined;
    };
    for (const name of [
      'Upgrade',
      'connection',
      'Sec-WebSocket-Key',
      'SEC-WEBSOCKET-VERSION',
      'Sec-WebSocket-Extensions',
    ]) {
      expect(bad('chrome', 'wss://h/', base({ extra: [[name, 'x']] }))).toMatchObject({
        code: 'ERR_INVALID_OPTION',
      });
    }
    expect(
      bad('chrome', 'wss://h/', base({ protocols: ['a'], extra: [['Sec-WebSocket-Protocol', 'b']] })),
    ).toMatchObject({ code: 'ERR_INVALID_OPTION' });
    expect(bad('chrome', 'wss://h/', base({ protocols: ['a b'] }))).toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    expect(bad('chrome', 'wss://h/', base({ protocols: ['a', 'a'] }))).toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    expect(bad('chrome', 'wss://h/', base({ extra: [['X-A', 'v\r\nInjected: 1']] }))).toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    expect(bad('chrome', 'wss://h/', base({ extra: [['Bad Name', 'v']] }))).toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    expect(bad('firefox', 'https://h/', base())).toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });
});

describe('verifyHandshake', () => {
  const ok = (extra = []) => [
    'Upgrade',
    'websocket',
    'Connection',
    'Upgrade',
    'Sec-WebSocket-Accept',
    acceptFor(KEY),
    ...extra,
  ];
  const verify = (status, raw, opts = {}) =>
    verifyHandshake(status, raw, { key: KEY, perMessageDeflate: false, ...opts });
  const failure = (status, raw, opts, message) => {
    let err;
    try {
      verify(status, raw, opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CycleTLSError);
    expect(err).toMatchObject({ code: 'ERR_PROTOCOL', stage: 'headers' });
    expect(err.message).toMatch(message);
  };

  test('a plain 101', () => {
    expect(verify(101, ok())).toEqual({ protocol: '', extensions: '' });
  });

  test('over HTTP/2 (RFC 8441): a 200 without Upgrade, Connection or Sec-WebSocket-Accept; the offer still checked', () => {
    expect(verify(200, [], { overHttp2: true })).toEqual({ protocol: '', extensions: '' });
    expect(verify(200, ['sec-websocket-protocol', 'chat'], { overHttp2: true, protocols: ['chat'] })).toEqual(
      { protocol: 'chat', extensions: '' },
    );
    failure(101, ok(), { overHttp2: true }, /expected status 200 to the extended CONNECT, got 101/);
    failure(200, ['sec-websocket-protocol', 'x'], { overHttp2: true }, /none was offered/);
    failure(200, [], {}, /expected status 101/);
  });

  test('names in any case, "WebSocket", Connection as a list, a chosen subprotocol', () => {
    const raw = [
      'upgrade',
      'WebSocket',
      'CONNECTION',
      'keep-alive, Upgrade',
      'sec-websocket-accept',
      acceptFor(KEY),
      'Sec-WebSocket-Protocol',
      'chat',
    ];
    expect(verify(101, raw, { protocols: ['superchat', 'chat'] })).toEqual({
      protocol: 'chat',
      extensions: '',
    });
    // Offered but none chosen: accepted, as RFC 6455 allows.
    expect(verify(101, ok(), { protocols: ['chat'] }).protocol).toBe('');
  });

  test('permessage-deflate accepted or declined', () => {
    const r = verify(101, ok(['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits=10']), {
      perMessageDeflate: true,
    });
    expect(r).toEqual({
      protocol: '',
      extensions: 'permessage-deflate; client_max_window_bits=10',
      deflate: {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 10,
      },
    });
    // A server that declines compression answers without the header.
    expect(verify(101, ok(), { perMessageDeflate: true })).toEqual({ protocol: '', extensions: '' });
  });

  test('failures', () => {
    failure(200, ok(), {}, /expected status 101.*got 200/);
    failure(426, ok(), {}, /got 426/);
    failure(
      101,
      ['Connection', 'Upgrade', 'Sec-WebSocket-Accept', acceptFor(KEY)],
      {},
      /Upgrade must be "websocket", got none/,
    );
    failure(
      101,
      ['Upgrade', 'h2c', 'Connection', 'Upgrade', 'Sec-WebSocket-Accept', acceptFor(KEY)],
      {},
      /Upgrade must be "websocket", got "h2c"/,
    );
    failure(
      101,
      ['Upgrade', 'websocket', 'Sec-WebSocket-Accept', acceptFor(KEY)],
      {},
      /Connection must contain "upgrade"/,
    );
    failure(
      101,
      ['Upgrade', 'websocket', 'Connection', 'keep-alive', 'Sec-WebSocket-Accept', acceptFor(KEY)],
      {},
      /Connection must contain/,
    );
    failure(101, ['Upgrade', 'websocket', 'Connection', 'Upgrade'], {}, /no Sec-WebSocket-Accept/);
    failure(
      101,
      ['Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Accept', acceptFor('other')],
      {},
      /wrong Sec-WebSocket-Accept/,
    );
    failure(101, ok(['Sec-WebSocket-Accept', acceptFor(KEY)]), {}, /wrong Sec-WebSocket-Accept/);
    failure(101, ok(['Sec-WebSocket-Protocol', 'chat']), {}, /none was offered/);
    failure(101, ok(['Sec-WebSocket-Protocol', 'chat']), { protocols: ['other'] }, /not offered/);
    failure(
      101,
      ok(['Sec-WebSocket-Protocol', 'chat', 'Sec-WebSocket-Protocol', 'chat']),
      { protocols: ['chat'] },
      /more than one/,
    );
    failure(101, ok(['Sec-WebSocket-Extensions', 'permessage-deflate']), {}, /not offered/);
    failure(
      101,
      ok(['Sec-WebSocket-Extensions', 'permessage-deflate; bogus']),
      { perMessageDeflate: true },
      /unknown permessage-deflate parameter/,
    );
    failure(
      101,
      ok([
        'Sec-WebSocket-Extensions',
        'permessage-deflate',
        'Sec-WebSocket-Extensions',
        'permessage-deflate',
      ]),
      { perMessageDeflate: true },
      /more extensions/,
    );
    // Firefox's offer has no client_max_window_bits: a server that sets it fails the handshake.
    failure(
      101,
      ok(['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits=10']),
      { perMessageDeflate: true, family: 'firefox' },
      /not offered/,
    );
  });
});
