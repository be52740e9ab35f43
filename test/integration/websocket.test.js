'use strict';
// ws()/webSocket() against a real WebSocket server (the `ws` package) on 127.0.0.1, over TLS (wss)
// and plain (ws), directly and through an HTTP CONNECT proxy and a SOCKS5 proxy: binary and text
// echo, the close handshake both ways, permessage-deflate, ping/pong, fragmentation, the browser's
// upgrade headers, refusals and misuse.
const https = require('node:https');
const http = require('node:http');
const { WebSocketServer } = require('ws');
const initCycleTLS = require('../..');
const { certPair, patternBytes, uniquePort, startServer, startRawServer } = require('../helpers/servers');
const { startHttpProxy, startSocksServer } = require('../helpers/proxies');

let client;
const servers = {};
const proxies = {};

/** A WebSocket server: echoes every message (as text or binary, as it came); `behave` per path. */
async function startWsServer({ tls = true, perMessageDeflate = true } = {}) {
  const server = tls ? https.createServer(certPair('server')) : http.createServer();
  const upgrades = [];
  const closes = [];
  const pongs = [];
  const wss = new WebSocketServer({
    server,
    perMessageDeflate,
    verifyClient: (info, cb) => {
      if (info.req.url.startsWith('/refuse')) cb(false, 403, 'Forbidden');
      else cb(true);
    },
    handleProtocols: (set) => (set.has('chat.v2') ? 'chat.v2' : false),
  });
  wss.on('connection', (socket, req) => {
    upgrades.push({ url: req.url, rawHeaders: req.rawHeaders });
    socket.on('pong', (data) => pongs.push(data.toString()));
    socket.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
    if (req.url.startsWith('/server-closes')) {
      socket.send('about to close');
      setTimeout(() => socket.close(4001, 'server says bye'), 20);
      return;
    }
    if (req.url.startsWith('/ping')) {
      socket.on('message', () => socket.ping(Buffer.from('are you there')));
      return;
    }
    if (req.url.startsWith('/fragments')) {
      socket.send('frag', { fin: false });
      socket.send('men', { fin: false });
      socket.send('ted', { fin: true });
      return;
    }
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    upgrades,
    closes,
    pongs,
    wss,
    url: (p = '/echo') => `${tls ? 'wss' : 'ws'}://localhost:${port}${p}`,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

beforeAll(async () => {
  client = await initCycleTLS({ port: uniquePort() });
  servers.wss = await startWsServer();
  servers.ws = await startWsServer({ tls: false });
  servers.plain = await startWsServer({ perMessageDeflate: false });
  proxies.http = await startHttpProxy();
  proxies.socks = await startSocksServer();
});

afterAll(async () => {
  await client.exit();
  await Promise.all([...Object.values(servers), ...Object.values(proxies)].map((s) => s.close()));
});

/** The next `n` messages of a socket. */
function nextMessages(ws, n) {
  return new Promise((resolve) => {
    const got = [];
    ws.onMessage((m) => {
      got.push(m);
      if (got.length === n) resolve(got);
    });
  });
}

function closed(ws) {
  return new Promise((resolve) => ws.onClose((code, reason) => resolve({ code, reason })));
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('echo and the close handshake', () => {
  test.each([
    ['wss', 'wss'],
    ['ws', 'ws'],
  ])('%s: binary and text echo byte-exact, then a normal close', async (_name, which) => {
    const server = servers[which];
    const ws = await client.ws(server.url('/echo'), {});
    expect(ws.status).toBe(101);
    expect(ws.readyState).toBe(1);
    const big = patternBytes(1024 * 1024 + 7, 5);
    const got = nextMessages(ws, 4);
    await ws.send(ALL_BYTES);
    await ws.send('héllo wörld');
    await ws.send(big);
    await ws.send(Buffer.from('as text'), false);
    const [a, b, c, d] = await got;
    expect(a.type).toBe('binary');
    expect(Buffer.compare(a.data, ALL_BYTES)).toBe(0);
    expect(b).toEqual({ type: 'text', data: 'héllo wörld' });
    expect(c.type).toBe('binary');
    expect(c.data.equals(big)).toBe(true);
    expect(d).toEqual({ type: 'text', data: 'as text' });
    const whenClosed = closed(ws);
    await ws.close(1000, 'done');
    expect(await whenClosed).toEqual({ code: 1000, reason: 'done' });
    expect(ws.readyState).toBe(3);
    await waitFor(() => server.closes.length > 0 && server.closes[server.closes.length - 1].code === 1000);
    expect(server.closes[server.closes.length - 1]).toEqual({ code: 1000, reason: 'done' });
    await expect(ws.send('late')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });

  test('webSocket() is ws(); a server-initiated close reaches onClose with its code and reason', async () => {
    const ws = await client.webSocket(servers.wss.url('/server-closes'), {});
    const [m] = await nextMessages(ws, 1);
    expect(m).toEqual({ type: 'text', data: 'about to close' });
    expect(await closed(ws)).toEqual({ code: 4001, reason: 'server says bye' });
  });

  test('messages() iterates until the close', async () => {
    const ws = await client.ws(servers.wss.url('/server-closes'), {});
    const got = [];
    for await (const m of ws.messages()) got.push(m.data);
    expect(got).toEqual(['about to close']);
  });

  test("cycletls's options.body goes out as the first text message", async () => {
    const ws = await client.ws(servers.wss.url('/echo'), { body: 'hello first' });
    const [m] = await nextMessages(ws, 1);
    expect(m).toEqual({ type: 'text', data: 'hello first' });
    await ws.close();
  });
});

describe('protocol features', () => {
  test('permessage-deflate is negotiated by default and can be turned off', async () => {
    let ws = await client.ws(servers.wss.url('/echo'), {});
    expect(ws.extensions).toMatch(/permessage-deflate/);
    const text = 'compressible '.repeat(10000);
    const got = nextMessages(ws, 1);
    await ws.send(text);
    expect((await got)[0].data).toBe(text);
    await ws.close();
    ws = await client.ws(servers.wss.url('/echo'), { perMessageDeflate: false });
    expect(ws.extensions).toBe('');
    await ws.close();
    // A server that does not take it: no extension, still works.
    ws = await client.ws(servers.plain.url('/echo'), {});
    expect(ws.extensions).toBe('');
    const again = nextMessages(ws, 1);
    await ws.send('plain');
    expect((await again)[0].data).toBe('plain');
    await ws.close();
  });

  test('a server ping is answered with a pong; a client ping gets its pong', async () => {
    const ws = await client.ws(servers.wss.url('/ping'), {});
    const pinged = new Promise((resolve) => ws.onPing((data) => resolve(data.toString())));
    await ws.send('ping me');
    expect(await pinged).toBe('are you there');
    await waitFor(() => servers.wss.pongs.includes('are you there'));
    const ponged = new Promise((resolve) => ws.onPong((data) => resolve(data.toString())));
    await ws.ping('hello?');
    expect(await ponged).toBe('hello?');
    await ws.close();
  });

  test('fragmented messages both ways', async () => {
    let ws = await client.ws(servers.wss.url('/fragments'), {});
    expect((await nextMessages(ws, 1))[0]).toEqual({ type: 'text', data: 'fragmented' });
    await ws.close();
    ws = await client.ws(servers.wss.url('/echo'), { fragmentSize: 1000 });
    const data = patternBytes(10_500, 3);
    const got = nextMessages(ws, 1);
    await ws.send(data);
    expect((await got)[0].data.equals(data)).toBe(true);
    await ws.close();
  });

  test('a subprotocol the server picks is reported', async () => {
    const ws = await client.ws(servers.wss.url('/echo'), { protocols: ['chat.v1', 'chat.v2'] });
    expect(ws.subprotocol).toBe('chat.v2');
    await ws.close();
  });
});

describe('fingerprint and headers', () => {
  test("the upgrade goes over HTTP/1.1 with the preset's WebSocket headers in Chrome's order", async () => {
    const ws = await client.ws(servers.wss.url('/echo?h=chrome'), {
      headers: { 'X-Extra': '1' },
      cookies: { sid: 'abc' },
    });
    expect(ws.tls.alpn).toBe('http/1.1');
    expect(ws.protocol).toBe('http/1.1');
    const up = servers.wss.upgrades.find((u) => u.url === '/echo?h=chrome');
    const names = up.rawHeaders.filter((_, i) => i % 2 === 0);
    expect(names).toEqual([
      'Host',
      'Connection',
      'Pragma',
      'Cache-Control',
      'User-Agent',
      'Upgrade',
      'Origin',
      'Sec-WebSocket-Version',
      'Accept-Encoding',
      'Accept-Language',
      'Cookie',
      'X-Extra',
      'Sec-WebSocket-Key',
      'Sec-WebSocket-Extensions',
    ]);
    const value = (n) => up.rawHeaders[up.rawHeaders.indexOf(n) + 1];
    expect(value('User-Agent')).toMatch(/Chrome\/156/);
    expect(value('Origin')).toBe(`https://localhost:${servers.wss.port}`);
    expect(value('Cookie')).toBe('sid=abc');
    expect(value('Sec-WebSocket-Extensions')).toBe('permessage-deflate; client_max_window_bits');
    await ws.close();
  });

  test("a Firefox preset sends Firefox's upgrade headers", async () => {
    const ws = await client.ws(servers.wss.url('/echo?h=firefox'), { profile: 'firefox_153' });
    const up = servers.wss.upgrades.find((u) => u.url === '/echo?h=firefox');
    const value = (n) => up.rawHeaders[up.rawHeaders.indexOf(n) + 1];
    expect(value('User-Agent')).toMatch(/Firefox\/153/);
    expect(value('Connection')).toBe('Upgrade');
    expect(value('Sec-WebSocket-Extensions')).toBe('permessage-deflate');
    expect(up.rawHeaders.filter((_, i) => i % 2 === 0).indexOf('User-Agent')).toBe(1);
    await ws.close();
  });
});

describe('through proxies', () => {
  test('wss through an HTTP CONNECT proxy: the TLS handshake is end to end', async () => {
    const ws = await client.ws(servers.wss.url('/echo?via=connect'), { proxy: proxies.http.url() });
    const got = nextMessages(ws, 1);
    await ws.send(ALL_BYTES);
    expect(Buffer.compare((await got)[0].data, ALL_BYTES)).toBe(0);
    await ws.close();
    expect(
      proxies.http.log.some((e) => e.method === 'CONNECT' && e.target === `localhost:${servers.wss.port}`),
    ).toBe(true);
  });

  test('plain ws through an HTTP proxy is tunnelled too (the frames must reach the server untouched)', async () => {
    const ws = await client.ws(servers.ws.url('/echo?via=http-proxy'), { proxy: proxies.http.url() });
    const got = nextMessages(ws, 1);
    await ws.send('through');
    expect((await got)[0].data).toBe('through');
    await ws.close();
    expect(
      proxies.http.log.some((e) => e.method === 'CONNECT' && e.target === `localhost:${servers.ws.port}`),
    ).toBe(true);
  });

  test('wss through SOCKS5', async () => {
    const ws = await client.ws(servers.wss.url('/echo?via=socks'), { proxy: proxies.socks.url('socks5') });
    const got = nextMessages(ws, 1);
    await ws.send('socks');
    expect((await got)[0].data).toBe('socks');
    await ws.close();
  });
});

describe('failures', () => {
  test('a refused upgrade resolves with the status and body, a closed socket and the error', async () => {
    const ws = await client.ws(servers.wss.url('/refuse'), {});
    expect(ws.status).toBe(403);
    expect(ws.error.code).toBe('ERR_PROTOCOL');
    expect(ws.readyState).toBe(3);
    const errored = new Promise((resolve) => ws.onError(resolve));
    expect((await errored).code).toBe('ERR_PROTOCOL');
    expect(await closed(ws)).toEqual({ code: 1006, reason: '' });
    await expect(ws.send('x')).rejects.toBeDefined();
    await expect(client.ws(servers.wss.url('/refuse'), { rejectOnError: true })).rejects.toMatchObject({
      code: 'ERR_PROTOCOL',
    });
  });

  test('an ordinary HTTP answer, and a 101 with a wrong Sec-WebSocket-Accept, are refusals', async () => {
    const plain = await startServer();
    const raw = await startRawServer({
      onRequest: (socket) =>
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm90IHRoZSByaWdodCBvbmU=\r\n\r\n',
        ),
    });
    try {
      let ws = await client.ws(plain.url('/echo').replace('https', 'wss'), {});
      expect(ws.status).toBe(200);
      expect(ws.error.code).toBe('ERR_PROTOCOL');
      expect(JSON.parse(ws.data).method).toBe('GET'); // up to 64 KiB of the body, as text
      ws = await client.ws(raw.url('/').replace('https', 'wss'), {});
      expect(ws.status).toBe(101);
      expect(ws.error.code).toBe('ERR_PROTOCOL');
      expect(ws.error.message).toMatch(/Sec-WebSocket-Accept/);
      expect(ws.readyState).toBe(3);
    } finally {
      await plain.close();
      await raw.close();
    }
  });

  test('a refused connection and misuse', async () => {
    const ws = await client.ws('wss://127.0.0.1:1/', {});
    expect(ws.status).toBe(502);
    expect(ws.error.code).toBe('ERR_CONNECT_REFUSED');
    await expect(client.ws('ftp://x/', {})).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(client.ws(servers.wss.url(), { headers: { Upgrade: 'h2c' } })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    await expect(client.ws(servers.wss.url(), { protocols: ['bad protocol'] })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    // A JA3 this stack cannot send is misuse: it rejects, as for any request.
    await expect(
      client.ws(servers.wss.url(), {
        ja3: '771,4865-4866-4867-49195,0-23-65281-10-11-13-43-45-51-42,29-23,0',
      }),
    ).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_FINGERPRINT' });
    await expect(client.get(servers.wss.url())).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(
      client.get(servers.wss.url().replace('wss', 'https'), { protocol: 'websocket' }),
    ).rejects.toMatchObject({ code: 'ERR_NOT_IMPLEMENTED' });
  });
});

async function waitFor(pred, ms = 3000) {
  const until = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
