'use strict';
// cycletls v3's client beyond the guide's examples: the default export serving both styles (CJS and
// ESM), the lazy engine start, milliseconds, CycleTLSError's statusCode, close(), and the `ws`
// package's socket surface (ping/pong both ways, binaryType, terminate, send callbacks).
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { WebSocketServer } = require('ws');
const mod = require('../..');
const { CycleTLS, CycleTLSError, initCycleTLS } = mod;
const { startServer, startFirehose, certPair, closedPort, uniquePort } = require('../helpers/servers');

const ROOT = path.resolve(__dirname, '..', '..');
let server;
let wsServer;
let client;
const serverSide = { pings: [], pongs: [], sockets: [] };

beforeAll(async () => {
  server = await startServer();
  const hs = https.createServer(certPair('server'));
  const wss = new WebSocketServer({ server: hs });
  wss.on('connection', (socket) => {
    serverSide.sockets.push(socket);
    socket.on('ping', (d) => serverSide.pings.push(d.toString()));
    socket.on('pong', (d) => serverSide.pongs.push(d.toString()));
    socket.on('message', (data, isBinary) => {
      if (data.toString() === 'ping me') socket.ping(Buffer.from('from server'));
      else socket.send(data, { binary: isBinary });
    });
  });
  await new Promise((r) => hs.listen(0, '127.0.0.1', r));
  wsServer = {
    url: `wss://localhost:${hs.address().port}/`,
    close: () =>
      new Promise((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        hs.close(() => r());
      }),
  };
  client = new CycleTLS({ port: uniquePort() });
});

afterAll(async () => {
  await client.close();
  await Promise.all([server.close(), wsServer.close()]);
});

describe('the default export serves both styles', () => {
  test('called: the legacy client promise; with new: the v3 client (CommonJS)', async () => {
    const v3 = new mod({ port: uniquePort() });
    expect(v3).toBeInstanceOf(CycleTLS);
    expect(v3).toBeInstanceOf(mod);
    expect(typeof v3.request).toBe('function');
    const legacy = mod({ port: uniquePort() });
    expect(legacy).toBeInstanceOf(Promise);
    const legacyClient = await legacy;
    expect(typeof legacyClient).toBe('function');
    expect(typeof legacyClient.exit).toBe('function');
    await legacyClient.exit();
    expect(mod.default).toBe(mod);
    expect(initCycleTLS).toBe(mod);
    await v3.close();
  });

  test('the same from ESM: default, { initCycleTLS, CycleTLS, fetch, createFetch }', async () => {
    const code = `
      import CycleTLS, { initCycleTLS, CycleTLS as Named, fetch, createFetch, CycleTLSError } from ${JSON.stringify(
        path.join(ROOT, 'dist', 'index.mjs'),
      )};
      const v3 = new CycleTLS({ port: ${uniquePort()} });
      const legacy = await initCycleTLS({ port: ${uniquePort()} });
      console.log(JSON.stringify({
        v3: v3 instanceof Named, legacy: typeof legacy.get, same: initCycleTLS === CycleTLS,
        fetch: typeof fetch, createFetch: typeof createFetch, error: typeof CycleTLSError,
      }));
      await legacy.exit();
      await v3.close();`;
    const out = await new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        ['--input-type=module', '-e', code],
        { timeout: 30000 },
        (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout))),
      ),
    );
    expect(out).toEqual({
      v3: true,
      legacy: 'function',
      same: true,
      fetch: 'function',
      createFetch: 'function',
      error: 'function',
    });
  });
});

describe('new CycleTLS()', () => {
  test('the constructor starts nothing: the engine starts with the first request', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-v3-lazy-'));
    fs.chmodSync(dir, 0o700);
    const port = uniquePort();
    const lazy = new CycleTLS({ port, socketDir: dir });
    try {
      expect(fs.existsSync(path.join(dir, `${port}.sock`))).toBe(false);
      expect((await lazy.get(server.url('/echo'))).statusCode).toBe(200);
      expect(fs.existsSync(path.join(dir, `${port}.sock`))).toBe(true);
    } finally {
      await lazy.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("cycletls's Go-only options are accepted and change nothing", async () => {
    const c = new CycleTLS({
      port: uniquePort(),
      autoSpawn: false,
      initialWindow: 1024,
      creditThreshold: 10,
      executablePath: '/nonexistent',
    });
    const r = await c.get(server.url(`/bytes?n=${1024 * 1024}`));
    expect((await r.buffer()).length).toBe(1024 * 1024);
    await c.close();
  });

  test('timeout is milliseconds up to the response head; a failure is a CycleTLSError with statusCode', async () => {
    const err = await client.get(server.url('/stall'), { timeout: 300 }).catch((e) => e);
    expect(err).toBeInstanceOf(CycleTLSError);
    expect(err.code).toBe('ERR_TIMEOUT');
    expect(err.statusCode).toBe(408);
    expect(err.requestId).toMatch(/^\d+:\d+$/);
    const refused = await client.get(`https://localhost:${await closedPort()}/`).catch((e) => e);
    expect(refused.code).toBe('ERR_CONNECT_REFUSED');
    expect(refused.statusCode).toBe(502);
  });

  test('readTimeout (ms) bounds the silence in the body stream', async () => {
    const r = await client.get(server.url('/stall-body'), { readTimeout: 300 });
    const err = await r.text().catch((e) => e);
    expect(err).toBeInstanceOf(CycleTLSError);
    expect(err.code).toBe('ERR_TIMEOUT');
    expect(err.stage).toBe('body');
  });

  test('json()/text()/… twice give the same; after reading response.body they reject', async () => {
    const r = await client.get(server.url('/echo'));
    const text = await r.text();
    expect(await r.json()).toEqual(JSON.parse(text));
    expect((await r.buffer()).toString()).toBe(text);
    const streamed = await client.get(server.url('/bytes?n=1000'));
    let n = 0;
    for await (const chunk of streamed.body) n += chunk.length;
    expect(n).toBe(1000);
    await expect(streamed.text()).rejects.toThrow(/already read/);
  });

  test('every verb; put/patch take a body', async () => {
    for (const verb of ['get', 'delete', 'options', 'trace']) {
      const r = await client[verb](server.url('/echo'));
      expect((await r.json()).method).toBe(verb.toUpperCase());
    }
    expect((await client.head(server.url('/echo'))).statusCode).toBe(200);
    for (const verb of ['put', 'patch', 'post']) {
      const j = await (await client[verb](server.url('/echo'), 'b', {})).json();
      expect([j.method, Buffer.from(j.body, 'base64').toString()]).toEqual([verb.toUpperCase(), 'b']);
    }
    await expect(client.connect(server.url('/echo'))).rejects.toMatchObject({ code: 'ERR_NOT_IMPLEMENTED' });
  });

  test('after close() requests reject with ERR_CLIENT_CLOSED; closing an unused client is fine', async () => {
    const c = new CycleTLS({ port: uniquePort() });
    await c.close();
    await expect(c.get(server.url('/echo'))).rejects.toMatchObject({ code: 'ERR_CLIENT_CLOSED' });
  });
});

describe('ws(): the ws package surface', () => {
  const opened = async () => {
    const ws = await client.ws(wsServer.url);
    await new Promise((r) => ws.once('open', r));
    return ws;
  };

  test('ping/pong both ways, binaryType, send callbacks, terminate → close 1006', async () => {
    const ws = await opened();
    expect(ws.readyState).toBe(ws.OPEN);
    const pinged = new Promise((r) => ws.once('ping', (d) => r(d.toString())));
    ws.send('ping me');
    expect(await pinged).toBe('from server');
    await new Promise((resolve, reject) =>
      ws.ping('hi', undefined, (err) => (err ? reject(err) : resolve())),
    );
    // The pong of 'hi' may come first: wait for the one of 'again'.
    const pong = new Promise((r) => ws.on('pong', (d) => d.toString() === 'again' && r(d.toString())));
    ws.ping('again');
    expect(await pong).toBe('again');
    ws.pong('beat');
    ws.binaryType = 'arraybuffer';
    const message = new Promise((r) => ws.once('message', (data, isBinary) => r({ data, isBinary })));
    ws.send(Buffer.from([7, 8]));
    const m = await message;
    expect(m.isBinary).toBe(true);
    expect(m.data).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(m.data)]).toEqual([7, 8]);
    ws.binaryType = 'fragments';
    const fragments = new Promise((r) => ws.once('message', (data) => r(data)));
    ws.send('text', { binary: false });
    expect((await fragments).map(String)).toEqual(['text']);
    expect(serverSide.pings).toEqual(expect.arrayContaining(['hi', 'again']));
    // The server hears the unsolicited pong (nothing answers it: wait until it is there).
    while (!serverSide.pongs.includes('beat')) await new Promise((r) => setImmediate(r));
    const closed = new Promise((r) => ws.once('close', (code, reason) => r({ code, reason })));
    ws.terminate();
    const c = await closed;
    expect(c.code).toBe(1006);
    expect(Buffer.isBuffer(c.reason)).toBe(true);
    expect(ws.readyState).toBe(ws.CLOSED);
    const err = await new Promise((r) => ws.send('late', r));
    expect(err).toBeInstanceOf(Error);
  });

  test('a refused WebSocket rejects with a CycleTLSError', async () => {
    const err = await client.ws(`wss://localhost:${await closedPort()}/`).catch((e) => e);
    expect(err).toBeInstanceOf(CycleTLSError);
    expect(err.code).toBe('ERR_CONNECT_REFUSED');
  });
});

test('back-pressure: an unread response.body stops the engine reading the socket', async () => {
  const fast = await startFirehose(200 * 1024 * 1024, 0x63);
  try {
    const r = await client.get(fast.url);
    await new Promise((resolve) => r.body.once('readable', resolve));
    // Nobody reads for a while: the server is as fast as it gets, yet what it could write stays small.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(fast.written()).toBeLessThan(40 * 1024 * 1024);
    r.body.destroy();
  } finally {
    await fast.close();
  }
}, 60000);
