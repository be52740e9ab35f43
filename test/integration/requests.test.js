'use strict';
// Every option that works today, end to end against real local HTTPS/HTTP servers.
const { Readable } = require('node:stream');
const initCycleTLS = require('../..');
const { startServer, patternBytes, uniquePort } = require('../helpers/servers');

let server;
let plain;
let client;

beforeAll(async () => {
  server = await startServer();
  plain = await startServer({ tls: false });
  client = await initCycleTLS({ port: uniquePort() });
});

afterAll(async () => {
  await client.exit();
  await server.close();
  await plain.close();
});

function pairs(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
}

describe('request shape', () => {
  test('orderAsProvided: exactly the headers given, in order, with their casing', async () => {
    const r = await client.get(server.url('/echo'), {
      headers: { 'x-lower': 'a', 'X-Mixed-Case': 'b', ACCEPT: 'c', 'sec-ch-ua': '"x"' },
      orderAsProvided: true,
    });
    expect(r.status).toBe(200);
    const sent = pairs(r.data.rawHeaders);
    expect(sent.map(([n]) => n)).toEqual([
      'Host',
      'x-lower',
      'X-Mixed-Case',
      'ACCEPT',
      'sec-ch-ua',
      'User-Agent',
    ]);
    expect(sent[0][1]).toBe(`localhost:${server.port}`);
  });

  test('headerOrder puts the listed headers first, the rest after in their order', async () => {
    const r = await client.get(server.url('/echo'), {
      headers: {
        'x-lower': '1',
        'X-Mixed-Case': '2',
        accept: '3',
        'Accept-Language': '4',
        Host: `localhost:${server.port}`,
      },
      headerOrder: ['host', 'accept-language', 'x-lower', 'accept'],
      orderAsProvided: true,
    });
    expect(pairs(r.data.rawHeaders).map(([n]) => n)).toEqual([
      'Host',
      'Accept-Language',
      'x-lower',
      'accept',
      'X-Mixed-Case',
      'User-Agent',
    ]);
  });

  test('userAgent replaces the user-agent header in place; the default is a current Chrome', async () => {
    let r = await client.get(server.url('/echo'), {
      headers: { 'user-agent': 'mine', a: '1' },
      userAgent: 'UA/1.0',
      orderAsProvided: true,
    });
    expect(pairs(r.data.rawHeaders).slice(1)).toEqual([
      ['user-agent', 'UA/1.0'],
      ['a', '1'],
    ]);
    r = await client.get(server.url('/echo'));
    expect(pairs(r.data.rawHeaders).find(([n]) => n.toLowerCase() === 'user-agent')[1]).toMatch(
      /Chrome\/156/,
    );
  });

  test('by default the Chrome preset headers go first; given headers override them in place', async () => {
    // An https server that speaks HTTP/1.1 only: Chrome's HTTP/1.1 lines (Connection, Title-Case names).
    const r = await client.get(server.url('/echo'), {
      headers: { Accept: 'application/json', 'X-Extra': '1' },
      userAgent: 'UA/2',
    });
    const sent = pairs(r.data.rawHeaders);
    expect(sent.map(([n]) => n)).toEqual([
      'Host',
      'Connection',
      'sec-ch-ua',
      'sec-ch-ua-mobile',
      'sec-ch-ua-platform',
      'Upgrade-Insecure-Requests',
      'User-Agent',
      'Accept',
      'Sec-Fetch-Site',
      'Sec-Fetch-Mode',
      'Sec-Fetch-User',
      'Sec-Fetch-Dest',
      'Accept-Encoding',
      'Accept-Language',
      'X-Extra',
    ]);
    expect(sent[7][1]).toBe('application/json');
    expect(sent[6][1]).toBe('UA/2');
  });

  test('the Firefox preset brings its own headers', async () => {
    const r = await client.get(server.url('/echo'), { profile: 'firefox_153' });
    const sent = pairs(r.data.rawHeaders);
    expect(sent[1]).toEqual([
      'User-Agent',
      'Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0',
    ]);
    expect(sent.map(([n]) => n)).toContain('Connection');
    expect(sent.map(([n]) => n)).not.toContain('te'); // HTTP/2 only
  });

  test('cookies in both cycletls forms become one Cookie header', async () => {
    let r = await client.get(server.url('/echo'), { cookies: { a: '1', b: '2' } });
    expect(pairs(r.data.rawHeaders).find(([n]) => n === 'Cookie')[1]).toBe('a=1; b=2');
    r = await client.get(server.url('/echo'), {
      cookies: [
        { name: 'x', value: 'y', expires: 'Mon, 02-Jan-2022 15:04:05 EST', sameSite: 'Lax' },
        { name: 'z', value: '' },
      ],
    });
    expect(pairs(r.data.rawHeaders).find(([n]) => n === 'Cookie')[1]).toBe('x=y; z=');
  });

  test.each([
    ['string', 'hello wörld', Buffer.from('hello wörld')],
    [
      'Buffer with every byte value',
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
    ],
    [
      'Uint8Array view with an offset',
      new Uint8Array(Buffer.from('xxpayloadyy')).subarray(2, 9),
      Buffer.from('payload'),
    ],
    ['URLSearchParams', new URLSearchParams({ a: '1', b: 'two words' }), Buffer.from('a=1&b=two+words')],
  ])('body as %s arrives byte-exact with a content-length', async (_name, body, expected) => {
    const r = await client.post(server.url('/echo'), { body });
    expect(Buffer.from(r.data.body, 'base64')).toEqual(expected);
    expect(pairs(r.data.rawHeaders).find(([n]) => n === 'Content-Length')[1]).toBe(String(expected.length));
  });

  test('URLSearchParams adds a form content-type only when none is given', async () => {
    let r = await client.post(server.url('/echo'), { body: new URLSearchParams({ a: '1' }) });
    expect(pairs(r.data.rawHeaders).find(([n]) => n.toLowerCase() === 'content-type')[1]).toMatch(
      /x-www-form-urlencoded/,
    );
    r = await client.post(server.url('/echo'), {
      body: new URLSearchParams({ a: '1' }),
      headers: { 'content-type': 'text/x' },
    });
    expect(pairs(r.data.rawHeaders).filter(([n]) => n.toLowerCase() === 'content-type')).toEqual([
      ['content-type', 'text/x'],
    ]);
  });

  test('bodyBytes (base64) wins over body', async () => {
    const bytes = patternBytes(300, 7);
    const r = await client.put(server.url('/echo'), { body: 'ignored', bodyBytes: bytes.toString('base64') });
    expect(Buffer.from(r.data.body, 'base64')).toEqual(bytes);
    expect(r.data.method).toBe('PUT');
  });

  test('every method name works, from the call signature and the named functions', async () => {
    for (const m of ['get', 'post', 'put', 'delete', 'patch', 'options', 'trace']) {
      const r = await client[m](server.url('/echo'), {});
      expect(r.data.method).toBe(m.toUpperCase());
      const r2 = await client(server.url('/echo'), {}, m);
      expect(r2.data.method).toBe(m.toUpperCase());
    }
    const head = await client.head(server.url('/echo'), {});
    expect(head.status).toBe(200);
    expect(Buffer.isBuffer(head.data) && head.data.length).toBe(0);
  });

  test('plain HTTP works too', async () => {
    const r = await client.get(plain.url('/echo'));
    expect(r.status).toBe(200);
    expect(r.tls).toBeNull();
    expect(r.data.tls).toBeNull();
  });
});

describe('responses', () => {
  test('headers come in cycletls shape, raw headers in wire order', async () => {
    const r = await client.get(server.url('/set-cookie'));
    expect(r.headers['Set-Cookie']).toEqual(['c1=v1; Path=/', 'c2=v2; Path=/']);
    expect(r.rawHeaders.filter((_, i) => i % 2 === 0)).toContain('Set-Cookie');
    expect(r.finalUrl).toBe(server.url('/set-cookie'));
    expect(r.protocol).toBe('http/1.1');
    expect(r.tls).toEqual(expect.objectContaining({ version: 'TLSv1.3', alpn: 'http/1.1' }));
  });

  test('responseType json / text / arraybuffer / blob', async () => {
    expect((await client.get(server.url('/echo'))).data.method).toBe('GET');
    const html = await client.get(server.url('/html'));
    expect(Buffer.isBuffer(html.data)).toBe(true); // cycletls: raw Buffer when not JSON
    await expect(html.json()).rejects.toThrow('Failed to parse response as JSON');
    expect((await client.get(server.url('/text'), { responseType: 'text' })).data).toBe('héllo wörld');
    const ab = await client.get(server.url('/bytes?n=5000&seed=3'), { responseType: 'arraybuffer' });
    expect(ab.data).toBeInstanceOf(ArrayBuffer);
    expect(Buffer.from(ab.data)).toEqual(patternBytes(5000, 3));
    const blob = await client.get(server.url('/text'), { responseType: 'blob' });
    expect(blob.data.type).toMatch(/text\/plain/);
    expect(await blob.data.text()).toBe('héllo wörld');
    const r = await client.get(server.url('/echo'));
    expect(await r.text()).toBe(JSON.stringify(r.data));
    expect(await r.json()).toEqual(r.data);
    expect(Buffer.from(await r.arrayBuffer()).toString()).toBe(JSON.stringify(r.data));
  });

  test('responseType stream resolves on the head and streams a large body', async () => {
    const r = await client.get(server.url('/bytes?n=3000000&seed=9'), { responseType: 'stream' });
    expect(r.status).toBe(200);
    expect(r.data).toBeInstanceOf(Readable);
    const chunks = [];
    for await (const c of r.data) chunks.push(c);
    expect(Buffer.concat(chunks).equals(patternBytes(3000000, 9))).toBe(true);
  });

  test('a slow stream reader pauses the socket and still gets every byte', async () => {
    const r = await client.get(server.url('/bytes?n=4000000&seed=2'), { responseType: 'stream' });
    const chunks = [];
    await new Promise((resolve, reject) => {
      r.data.on('data', (c) => {
        chunks.push(c);
        r.data.pause();
        setImmediate(() => r.data.resume());
      });
      r.data.on('end', resolve);
      r.data.on('error', reject);
    });
    expect(Buffer.concat(chunks).equals(patternBytes(4000000, 2))).toBe(true);
  });

  test('destroying a stream early cancels the request and the client keeps working', async () => {
    const r = await client.get(server.url('/bytes?n=20000000'), { responseType: 'stream' });
    await new Promise((resolve) => r.data.once('data', resolve));
    r.data.destroy();
    const next = await client.get(server.url('/echo'));
    expect(next.status).toBe(200);
  });

  test('json()/text() consume a stream response', async () => {
    const r = await client.get(server.url('/echo'), { responseType: 'stream' });
    expect((await r.json()).method).toBe('GET');
  });
});

describe('redirects', () => {
  test('followed by default, finalUrl is the last URL (same-host HTTPS/1.1)', async () => {
    const r = await client.get(server.url('/redirect/3'));
    expect(r.status).toBe(200);
    expect(r.finalUrl).toBe(server.url('/echo'));
    expect(r.redirects).toBe(3);
    expect(r.data.url).toBe('/echo');
  });

  test('disableRedirect returns the 3xx as is', async () => {
    const r = await client.get(server.url('/redirect/1'), { disableRedirect: true });
    expect(r.status).toBe(302);
    expect(r.headers.Location).toEqual(['/echo']);
    expect(r.finalUrl).toBe(server.url('/redirect/1'));
  });

  test('303 turns POST into GET without a body; 307 keeps both', async () => {
    let r = await client.post(server.url('/redirect/1?status=303'), { body: 'payload' });
    expect(r.data.method).toBe('GET');
    expect(r.data.bodyLength).toBe(0);
    r = await client.post(server.url('/redirect/1?status=307'), { body: 'payload' });
    expect(r.data.method).toBe('POST');
    expect(Buffer.from(r.data.body, 'base64').toString()).toBe('payload');
  });

  test('cross-origin redirects drop cookies and authorization; https → http works', async () => {
    const to = plain.url('/echo');
    const r = await client.get(server.url(`/redirect-to?url=${encodeURIComponent(to)}`), {
      headers: { Authorization: 'secret', 'X-Keep': '1' },
      cookies: { s: '1' },
    });
    expect(r.finalUrl).toBe(to);
    const names = pairs(r.data.rawHeaders).map(([n]) => n.toLowerCase());
    expect(names).toContain('x-keep');
    expect(names).not.toContain('authorization');
    expect(names).not.toContain('cookie');
  });

  test('a redirect loop stops with ERR_TOO_MANY_REDIRECTS', async () => {
    const r = await client.get(server.url('/redirect/50'), { maxRedirects: 5 });
    expect(r.error.code).toBe('ERR_TOO_MANY_REDIRECTS');
    await expect(
      client.get(server.url('/redirect/50'), { maxRedirects: 5, rejectOnError: true }),
    ).rejects.toMatchObject({ code: 'ERR_TOO_MANY_REDIRECTS' });
  });
});

describe('connections', () => {
  test('keep-alive: sequential requests reuse one connection and one handshake', async () => {
    const s = await startServer();
    const c = await initCycleTLS({ port: uniquePort() });
    for (let i = 0; i < 20; i++) expect((await c.get(s.url('/echo'))).status).toBe(200);
    expect(s.stats.requests).toBe(20);
    expect(s.stats.connections).toBe(1);
    expect(s.stats.handshakes).toBe(1);
    expect(c.stats().engine.connectionsReused).toBe(19);
    await c.exit();
    await s.close();
  });

  test('a connection the server closed while idle is never used again (no failed request)', async () => {
    const s = await startServer();
    const c = await initCycleTLS({ port: uniquePort() });
    for (let i = 0; i < 5; i++) {
      expect((await c.get(s.url('/echo'))).status).toBe(200);
      s.dropConnections();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(s.stats.connections).toBe(5);
    // Even without time for the close to be noticed, the request succeeds (stale reuse is retried).
    for (let i = 0; i < 5; i++) {
      expect((await c.get(s.url('/echo'))).status).toBe(200);
      s.dropConnections();
    }
    await c.exit();
    await s.close();
  });

  test('insecureSkipVerify, serverName and forceHTTP1', async () => {
    const r = await client.get(`https://127.0.0.1:${server.port}/echo`, {
      serverName: 'localhost',
      forceHTTP1: true,
    });
    expect(r.status).toBe(200);
    expect(r.data.tls.servername).toBe('localhost');
    expect(r.data.tls.alpn).toBe('http/1.1');
  });
});
