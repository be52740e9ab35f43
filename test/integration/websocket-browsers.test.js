'use strict';
// ws() opens its connections as the browsers do (../shared/fingerprints/websocket, Chromium 156 and
// Firefox ESR 153 captured on this machine), against three real listeners on 127.0.0.1:
//   A. TLS that picks http/1.1 (ALPN offered: whatever the client offers): the `ws` package;
//   B. h2 with SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (Node's http2, RFC 8441), a frame echo on the
//      extended CONNECT stream;
//   C. h2 without it (Node's http2), and the `ws` package for the http/1.1 reconnect.
// One TLS front end serves all three: it records each connection's ClientHello (the repo's own
// parser, lib/echo/) before handing the socket on by the negotiated ALPN.
const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const tls = require('node:tls');
const http = require('node:http');
const http2 = require('node:http2');
const { WebSocketServer } = require('ws');
const initCycleTLS = require('../..');
const { parseClientHello, scanClientHello } = require('../../dist/echo/clienthello');
const { computeJa } = require('../../dist/echo/ja');
const { certPair, uniquePort } = require('../helpers/servers');
const { echoClientFrames, readHead } = require('../helpers/ws-frames');

// A copy of ../shared/fingerprints/websocket (pcap and key log left out), so a clone alone runs these tests.
const CAPTURES = path.join(__dirname, '../fixtures/fingerprints/websocket');
const capture = (file) =>
  fs
    .readFileSync(path.join(CAPTURES, file), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

const FIREFOX_JA4 = 't13d1617h2_86a278354501_3cbfd9057e0d';
// Firefox's reconnect after an h2 server without RFC 8441: http/1.1 only, resumed, no 0x0023/0x001b.
const FIREFOX_RETRY_JA4 = 't13d1616h1_86a278354501_e6d2851837fd';
const CHROME_WS_JA4 = 't13d1516h1_8daaf6152771_5b37b36a67c0';

/**
 * The TLS front end. `mode`: 'h1' (picks http/1.1 even when h2 is offered), 'h2-connect' or
 * 'h2-noconnect' (picks h2 when offered; http/1.1 connections go to the `ws` server).
 */
async function startListener(mode) {
  const hellos = []; // per TCP connection: { ja4, alpn, extensions, negotiated }
  const upgrades = []; // HTTP/1.1 upgrade requests: { url, rawHeaders, head }
  const connects = []; // HTTP/2 extended CONNECTs: { rawHeaders }
  const h1 = http.createServer();
  const rawHeads = new Map();
  const wss = new WebSocketServer({ server: h1, perMessageDeflate: true });
  wss.on('connection', (socket, req) => {
    upgrades.push({ url: req.url, rawHeaders: req.rawHeaders, head: rawHeads.get(req.socket) });
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  const h2 = http2.createServer(mode === 'h2-connect' ? { settings: { enableConnectProtocol: true } } : {});
  h2.on('stream', (stream, headers, _flags, rawHeaders) => {
    if (headers[':method'] === 'GET') {
      stream.respond({ ':status': 200 });
      stream.end('page');
      return;
    }
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 404 });
      stream.end();
      return;
    }
    connects.push({ rawHeaders });
    if (headers[':path'].startsWith('/refuse')) {
      stream.respond({ ':status': 403, 'content-type': 'text/plain' });
      stream.end('not here');
      return;
    }
    stream.respond({ ':status': 200 }); // no permessage-deflate: the frames arrive as sent
    if (headers[':path'].startsWith('/reset')) {
      stream.on('error', () => {});
      stream.on('data', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
      return;
    }
    echoClientFrames(stream);
  });
  const front = tls.createServer({
    ...certPair('server'),
    ALPNCallback: ({ protocols }) => (mode !== 'h1' && protocols.includes('h2') ? 'h2' : 'http/1.1'),
  });
  front.on('secureConnection', (socket) => {
    const hello = hellos[hellos.length - 1];
    hello.negotiated = { alpn: socket.alpnProtocol, resumed: socket.isSessionReused() };
    socket.on('close', () => {
      hello.closed = true;
    });
    if (socket.alpnProtocol === 'h2') {
      h2.emit('connection', socket);
      return;
    }
    // The request head as it came (for the byte-for-byte check), then the `ws` server.
    readHead(socket, (head, rest) => {
      socket.pause();
      rawHeads.set(socket, head);
      socket.unshift(Buffer.concat([head, rest]));
      h1.emit('connection', socket);
      socket.resume();
    });
  });
  front.on('tlsClientError', () => {});
  // TCP first: the ClientHello is read whole, parsed, given back to the socket and TLS begins.
  const tcp = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const scan = scanClientHello(buf);
      if (scan.status === 'incomplete') return;
      socket.off('data', onData);
      socket.pause();
      if (scan.status === 'complete') {
        const hello = parseClientHello(buf.subarray(0, scan.length));
        hellos.push({
          ja4: computeJa(hello).ja4,
          alpn: hello.alpn,
          extensions: hello.extensions.map((e) => e.id),
        });
      }
      socket.unshift(buf);
      front.emit('connection', socket);
    };
    socket.on('data', onData);
  });
  await new Promise((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const { port } = tcp.address();
  return {
    port,
    hellos,
    upgrades,
    connects,
    url: (p) => `wss://localhost:${port}${p}`,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        h2.close();
        h1.closeAllConnections?.();
        tcp.close(() => resolve());
      }),
  };
}

function nextMessage(ws) {
  return new Promise((resolve) => ws.onMessage((m) => resolve(m)));
}

async function echoOnce(ws, text) {
  const got = nextMessage(ws);
  await ws.send(text);
  return (await got).data.toString();
}

const names = (raw) => raw.filter((_, i) => i % 2 === 0);

/** A captured request head with Host's port, the key and the path made comparable. */
function normalizeHead(head) {
  return head
    .toString('latin1')
    .replace(/^GET \S+ /, 'GET /PATH ')
    .replace(/\r\nHost: [^\r]+/, '\r\nHost: HOST')
    .replace(/\r\nSec-WebSocket-Key: [^\r]+/, '\r\nSec-WebSocket-Key: KEY')
    .replace(/\r\nOrigin: [^\r]+/, '\r\nOrigin: ORIGIN');
}

let client;
const listeners = {};

beforeAll(async () => {
  client = await initCycleTLS({ port: uniquePort() });
  listeners.h1 = await startListener('h1');
  listeners.connect = await startListener('h2-connect');
  listeners.noconnect = await startListener('h2-noconnect');
});

afterAll(async () => {
  await client.exit();
  await Promise.all(Object.values(listeners).map((l) => l.close()));
});

describe('Firefox presets open a WebSocket as Firefox ESR 153', () => {
  test('the first attempt uses the navigation hello (h2, http/1.1); a server picking http/1.1 gets the upgrade', async () => {
    const l = listeners.h1;
    const ws = await client.ws(l.url('/echo?t=ff-h1'), {
      profile: 'firefox_153',
      origin: `https://localhost:${l.port}`,
    });
    expect(ws.status).toBe(101);
    expect(ws.tls.alpn).toBe('http/1.1');
    expect(await echoOnce(ws, 'hello over h1')).toBe('hello over h1');
    await ws.close();
    expect(l.hellos[0].alpn).toEqual(['h2', 'http/1.1']);
    expect(l.hellos[0].ja4).toBe(FIREFOX_JA4);
  });

  test("the upgrade request is Firefox's, byte for byte (but key, host and origin) against the capture", async () => {
    const l = listeners.h1;
    const ws = await client.ws(l.url('/echo?t=ff-bytes'), {
      profile: 'firefox_153',
      origin: 'https://localhost:1',
      cookies: { wsfp: '1' },
    });
    await ws.close();
    const up = l.upgrades.find((u) => u.url === '/echo?t=ff-bytes');
    // Firefox's same-site page with a cookie, from the capture (its origin is another port of the same host).
    const golden = capture('requests.jsonl').find(
      (r) =>
        r.type === 'websocket_upgrade' &&
        /Firefox/.test(r.user_agent) &&
        r.header_names.includes('Cookie') &&
        !r.header_names.includes('Sec-Fetch-Storage-Access'),
    );
    const goldenHead = Buffer.from(golden.raw_head_hex, 'hex');
    expect(normalizeHead(up.head)).toBe(normalizeHead(goldenHead));
    const value = (n) => up.rawHeaders[up.rawHeaders.indexOf(n) + 1];
    expect(value('Connection')).toBe('Upgrade');
    expect(value('Sec-Fetch-Site')).toBe('same-site'); // another port of the same host, as in the capture
  });

  test('Sec-Fetch-Site and Sec-Fetch-Storage-Access: none for a cross-site or null origin, as captured', async () => {
    const l = listeners.h1;
    for (const [tag, origin, site] of [
      ['xs', 'https://fp.example', 'cross-site'],
      ['null', 'null', 'cross-site'],
    ]) {
      const ws = await client.ws(l.url(`/echo?t=ff-${tag}`), { profile: 'firefox_153', origin });
      await ws.close();
      const up = l.upgrades.find((u) => u.url === `/echo?t=ff-${tag}`);
      const value = (n) => up.rawHeaders[up.rawHeaders.indexOf(n) + 1];
      expect(value('Sec-Fetch-Site')).toBe(site);
      expect(value('Sec-Fetch-Storage-Access')).toBe('none');
      const golden = capture('requests.jsonl').find(
        (r) =>
          r.type === 'websocket_upgrade' &&
          /Firefox/.test(r.user_agent) &&
          r.header_names.includes('Sec-Fetch-Storage-Access') &&
          !r.header_names.includes('Cookie'),
      );
      expect(names(up.rawHeaders)).toEqual(golden.header_names);
    }
  });

  test("an h2 server with RFC 8441: the WebSocket runs over an extended CONNECT stream, in Firefox's header order", async () => {
    const l = listeners.connect;
    // Another port of the same host: same-site, as the capture's page.
    const ws = await client.ws(l.url('/ws?t=ff-h2'), {
      profile: 'firefox_153',
      origin: 'https://localhost:1',
    });
    expect(ws.status).toBe(200);
    expect(ws.tls.alpn).toBe('h2');
    expect(await echoOnce(ws, 'hello over h2')).toBe('hello over h2');
    const big = 'x'.repeat(100000);
    expect(await echoOnce(ws, big)).toBe(big);
    // A second socket to the same origin shares the h2 connection, as Firefox's did.
    const ws2 = await client.ws(l.url('/ws?t=ff-h2-2'), {
      profile: 'firefox_153',
      origin: 'https://localhost:1',
    });
    expect(await echoOnce(ws2, 'second')).toBe('second');
    expect(ws2.connection.id).toBe(ws.connection.id);
    expect(ws2.connection.reused).toBe(true);
    await ws.close();
    await ws2.close();
    expect(l.hellos).toHaveLength(1);
    expect(l.hellos[0].ja4).toBe(FIREFOX_JA4);
    const golden = capture('h2-connect.jsonl').find((r) => r.type === 'websocket_extended_connect');
    expect(l.connects).toHaveLength(2);
    const raw = l.connects[0].rawHeaders;
    expect(names(raw)).toEqual(golden.header_names);
    const value = (n) => raw[raw.indexOf(n) + 1];
    expect(value(':method')).toBe('CONNECT');
    expect(value(':protocol')).toBe('websocket');
    expect(value(':path')).toBe('/ws?t=ff-h2');
    for (const n of [
      'accept',
      'accept-language',
      'accept-encoding',
      'sec-websocket-version',
      'sec-websocket-extensions',
      'sec-fetch-dest',
      'sec-fetch-mode',
      'sec-fetch-site',
      'pragma',
      'cache-control',
    ]) {
      expect([n, value(n)]).toEqual([
        n,
        golden.headers.find((h) => h.startsWith(`${n}: `)).slice(n.length + 2),
      ]);
    }
  });

  test("an h2 server without RFC 8441: the connection is dropped and Firefox's http/1.1-only reconnect upgrades", async () => {
    const l = listeners.noconnect;
    const ws = await client.ws(l.url('/echo?t=ff-retry'), { profile: 'firefox_153' });
    expect(ws.status).toBe(101);
    expect(ws.tls.alpn).toBe('http/1.1');
    expect(await echoOnce(ws, 'after the retry')).toBe('after the retry');
    await ws.close();
    expect(l.hellos).toHaveLength(2);
    expect(l.hellos[0].alpn).toEqual(['h2', 'http/1.1']);
    expect(l.hellos[0].negotiated.alpn).toBe('h2');
    expect(l.hellos[1].alpn).toEqual(['http/1.1']);
    // The reconnect resumes the first connection's session, as Firefox's does.
    expect(l.hellos[1].negotiated.resumed).toBe(true);
    expect(l.connects).toHaveLength(0);
    // The h2 connection that could not carry it is closed by the client (not left idle in the pool).
    for (let i = 0; i < 200 && !l.hellos[0].closed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(l.hellos[0].closed).toBe(true);
  });

  // The TLS side of issue 14 (branch tlsfid, merged here): Firefox's resumed hello has no
  // session_ticket (0x0023), and the reconnect's hello no compress_certificate (0x001b).
  test("the reconnect's ClientHello is Firefox's retry hello: resumed, no 0x0023, no 0x001b", async () => {
    const l = listeners.noconnect;
    const before = l.hellos.length;
    // A client of its own: a fresh first attempt (as in the capture) whose session the retry resumes.
    const fresh = await initCycleTLS({ port: uniquePort() });
    try {
      const ws = await fresh.ws(l.url('/echo?t=ff-retry-ja4'), { profile: 'firefox_153' });
      await ws.close();
    } finally {
      await fresh.exit();
    }
    const later = l.hellos.slice(before);
    expect(later.map((h) => h.alpn)).toEqual([['h2', 'http/1.1'], ['http/1.1']]);
    expect(later[0].ja4).toBe(FIREFOX_JA4);
    const retry = later[1];
    expect(retry.negotiated.resumed).toBe(true);
    expect(retry.extensions).not.toContain(0x0023);
    expect(retry.extensions).not.toContain(0x001b);
    expect(retry.extensions).toContain(0x0029);
    expect(retry.ja4).toBe(FIREFOX_RETRY_JA4);
  });
});

describe('Firefox over HTTP/2: sharing, closing, failures, bounds', () => {
  test('a page request and the WebSocket share one h2 connection; the closing handshake ends the stream', async () => {
    const l = listeners.connect;
    const before = l.hellos.length;
    const page = await client.get(`https://localhost:${l.port}/page`, { profile: 'firefox_153' });
    expect(page.status).toBe(200);
    const ws = await client.ws(l.url('/ws?t=ff-share'), { profile: 'firefox_153' });
    expect(ws.connection.id).toBe(page.connection.id);
    const closed = new Promise((resolve) => ws.onClose((code) => resolve(code)));
    await ws.close(1000, 'bye');
    expect(await closed).toBe(1000);
    expect(ws.readyState).toBe(3);
    expect(l.hellos.length - before).toBeLessThanOrEqual(1);
  });

  test('a refused extended CONNECT resolves with its status and body, as a refused upgrade does', async () => {
    const ws = await client.ws(listeners.connect.url('/refuse'), { profile: 'firefox_153' });
    expect(ws.status).toBe(403);
    expect(ws.data).toBe('not here');
    expect(ws.error).toMatchObject({ code: 'ERR_PROTOCOL' });
    expect(ws.error.message).toMatch(/answered 403 instead of 200/);
    expect(ws.readyState).toBe(3);
    await expect(ws.send('x')).rejects.toBeDefined();
  });

  test('a stream the server resets after the 200 closes the socket with 1006', async () => {
    const ws = await client.ws(listeners.connect.url('/reset'), { profile: 'firefox_153' });
    expect(ws.status).toBe(200);
    const closed = new Promise((resolve) => ws.onClose((code) => resolve(code)));
    ws.onError(() => {});
    await ws.send('trigger').catch(() => undefined);
    expect(await closed).toBe(1006);
  });

  test('an h2 server that never sends SETTINGS: the wait is bounded by the timeout, and an abort ends it', async () => {
    // TLS with ALPN h2 that reads everything and answers nothing.
    const silent = tls.createServer({ ...certPair('server'), ALPNProtocols: ['h2'] }, (socket) => {
      socket.on('data', () => {});
      socket.on('error', () => {});
    });
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `wss://localhost:${silent.address().port}/ws`;
    try {
      // The handshake is done well before this: what times out is the wait for the server's SETTINGS.
      const timedOut = await client.ws(url, { profile: 'firefox_153', timeout: 1 }); // seconds, as cycletls's
      expect(timedOut.error).toMatchObject({ code: 'ERR_TIMEOUT', stage: 'headers' });
      expect(timedOut.readyState).toBe(3);
      const controller = new AbortController();
      const pending = client.ws(url, { profile: 'firefox_153', signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      const aborted = await pending;
      expect(aborted.error).toMatchObject({ code: 'ERR_ABORTED' });
    } finally {
      silent.close();
    }
  });
});

describe('Chrome presets keep what matched', () => {
  test.each([['h1'], ['connect'], ['noconnect']])(
    'listener %s: the http/1.1-only hello, one connection, the exact header list',
    async (which) => {
      const l = listeners[which];
      const before = l.hellos.length;
      const tag = `/echo?t=chrome-${which}`;
      const ws = await client.ws(l.url(tag), { cookies: { wsfp: '1' } });
      expect(ws.status).toBe(101);
      expect(ws.tls.alpn).toBe('http/1.1');
      expect(await echoOnce(ws, 'chrome')).toBe('chrome');
      await ws.close();
      const hellos = l.hellos.slice(before);
      expect(hellos).toHaveLength(1);
      expect(hellos[0].alpn).toEqual(['http/1.1']);
      if (!hellos[0].extensions.includes(0x0029)) expect(hellos[0].ja4).toBe(CHROME_WS_JA4);
      const up = l.upgrades.find((u) => u.url === tag);
      const golden = capture('requests.jsonl').find(
        (r) =>
          r.type === 'websocket_upgrade' && /Chrome/.test(r.user_agent) && r.header_names.includes('Cookie'),
      );
      expect(names(up.rawHeaders)).toEqual(golden.header_names);
      expect(normalizeHead(up.head)).toBe(
        normalizeHead(Buffer.from(golden.raw_head_hex, 'hex')).replace(
          /User-Agent: [^\r]+/,
          `User-Agent: ${up.rawHeaders[up.rawHeaders.indexOf('User-Agent') + 1]}`,
        ),
      );
    },
  );
});
