'use strict';
// Interop of the WebSocket protocol half with a mature server (the `ws` package) on 127.0.0.1: a
// plain TCP socket is the transport, the upgrade is done by hand with handshakeHeaders and
// verifyHandshake, and WebSocketSession runs over it. Loopback only.
const net = require('node:net');
const { WebSocketServer } = require('ws');
const { createKey, handshakeHeaders, verifyHandshake } = require('../../dist/ws-protocol/handshake');
const { WebSocketSession } = require('../../dist/ws-protocol/session');
const { readHead } = require('../helpers/ws-frames');

/** An echo server; "close-please" makes it close with 1000. */
function startServer(perMessageDeflate) {
  return new Promise((resolve) => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
    const seen = { requests: [], closes: [], compressed: [] };
    wss.on('connection', (ws, req) => {
      seen.requests.push(req);
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'close-please') ws.close(1000, 'server bye');
        else ws.send(data, { binary: isBinary });
      });
      ws.on('close', (code, reason) => seen.closes.push([code, reason.toString()]));
    });
    wss.on('listening', () => resolve({ wss, seen, port: wss.address().port }));
  });
}

function stopServer(wss) {
  for (const c of wss.clients) c.terminate();
  return new Promise((resolve) => wss.close(() => resolve()));
}

/** Connects, upgrades, and returns the session over the socket, with the bytes it wrote counted. */
function connect(port, family, sessionOptions = {}, perMessageDeflate = true) {
  const url = new URL(`ws://127.0.0.1:${port}/echo?x=1`);
  const key = createKey();
  const headers = handshakeHeaders(family, url, {
    key,
    perMessageDeflate,
    userAgent: 'interop-test',
    extra: [['X-Test', '1']],
  });
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const stats = { written: 0 };
    readHead(socket, (head, rest) => {
      const lines = head.toString('latin1').trimEnd().split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const raw = lines.slice(1).flatMap((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i).trim(), l.slice(i + 1).trim()];
      });
      let result;
      try {
        result = verifyHandshake(status, raw, { key, perMessageDeflate, family });
      } catch (err) {
        socket.destroy();
        reject(err);
        return;
      }
      const session = new WebSocketSession(
        {
          write: (b) => {
            stats.written += b.length;
            socket.write(b);
          },
          writableLength: () => socket.writableLength,
          end: () => socket.end(),
          pause: (p) => (p ? socket.pause() : socket.resume()),
        },
        { ...result, ...sessionOptions },
      );
      socket.on('data', (c) => session.receive(c));
      socket.on('end', () => session.transportEnded());
      socket.on('error', (err) => session.transportFailed(err));
      socket.on('drain', () => session.drained());
      if (rest.length > 0) session.receive(rest);
      resolve({ session, result, socket, stats });
    });
    socket.on('connect', () => {
      socket.write(
        `GET ${url.pathname}${url.search} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`,
      );
    });
    socket.once('error', reject);
  });
}

/** Sends each message and waits for its echo. */
async function echo(session, messages) {
  const it = session.messages();
  const out = [];
  for (const [data, isBinary] of messages) {
    await session.send(data, isBinary);
    out.push((await it.next()).value);
  }
  return out;
}

const big = Buffer.alloc(1024 * 1024);
for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;

describe.each([
  ['permessage-deflate (ws defaults, threshold 0)', { threshold: 0 }],
  [
    'no context takeover, server 10 / client 9 window bits',
    {
      threshold: 0,
      clientNoContextTakeover: true,
      serverNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 9,
    },
  ],
  ['no compression', false],
])('against ws: %s', (_name, serverDeflate) => {
  let server;
  beforeAll(async () => {
    server = await startServer(serverDeflate);
  });
  afterAll(() => stopServer(server.wss));

  test('echo of text, binary, a 1 MiB message and fragmented sends; close 1000 from the client', async () => {
    const { session, result, stats } = await connect(server.port, 'chrome', { fragmentSize: 16 * 1024 });
    expect(Boolean(result.deflate)).toBe(serverDeflate !== false);
    if (serverDeflate && serverDeflate.clientMaxWindowBits)
      expect(result.deflate.clientMaxWindowBits).toBe(9);
    const got = await echo(session, [
      ['hello ✓'],
      [Buffer.from([0, 1, 2, 255])],
      [big],
      ['x'.repeat(100000)],
      [''],
      ['text as bytes', true],
    ]);
    expect(got[0]).toEqual({ type: 'text', data: 'hello ✓' });
    expect(got[1]).toEqual({ type: 'binary', data: Buffer.from([0, 1, 2, 255]) });
    expect(got[2].type).toBe('binary');
    expect(got[2].data.equals(big)).toBe(true);
    expect(got[3]).toEqual({ type: 'text', data: 'x'.repeat(100000) });
    expect(got[4]).toEqual({ type: 'text', data: '' });
    expect(got[5]).toEqual({ type: 'binary', data: Buffer.from('text as bytes') });
    // Compressed on the way out: the repetitive 100 kB text cost far less than itself.
    if (serverDeflate) expect(stats.written).toBeLessThan(big.length + 50000);
    else expect(stats.written).toBeGreaterThan(big.length + 100000);
    const closed = [];
    session.onClose((code, reason) => closed.push([code, reason]));
    await session.close(1000, 'client bye');
    expect(closed).toEqual([[1000, 'client bye']]);
    await new Promise((r) => setTimeout(r, 20));
    expect(server.seen.closes.at(-1)).toEqual([1000, 'client bye']);
    const req = server.seen.requests.at(-1);
    expect(req.headers['user-agent']).toBe('interop-test');
    expect(req.headers['x-test']).toBe('1');
  });

  test('close 1000 from the server (a Firefox handshake where the server allows it)', async () => {
    // A server that insists on client_max_window_bits refuses Firefox's bare offer (400): Chrome's then.
    const family = serverDeflate && serverDeflate.clientMaxWindowBits ? 'chrome' : 'firefox';
    const { session } = await connect(server.port, family);
    const closed = new Promise((resolve) => session.onClose((code, reason) => resolve([code, reason])));
    const got = await echo(session, [['firefox says hi']]);
    expect(got).toEqual([{ type: 'text', data: 'firefox says hi' }]);
    await session.send('close-please');
    expect(await closed).toEqual([1000, 'server bye']);
    expect(session.readyState).toBe(3);
    await new Promise((r) => setTimeout(r, 20));
    // Our answer echoes the code, without a reason.
    expect(server.seen.closes.at(-1)).toEqual([1000, '']);
  });
});

test('against ws: ping and pong', async () => {
  const server = await startServer(false);
  try {
    const { session } = await connect(server.port, 'chrome');
    const pong = new Promise((resolve) => session.onPong((d) => resolve(d.toString())));
    await session.ping('marco');
    expect(await pong).toBe('marco');
    // The server's pings are answered by the session itself.
    const serverSide = [...server.wss.clients][0];
    const answered = new Promise((resolve) => serverSide.once('pong', (d) => resolve(d.toString())));
    serverSide.ping('polo');
    expect(await answered).toBe('polo');
    await session.close();
  } finally {
    await stopServer(server.wss);
  }
});
