'use strict';
// Bodies over a SharedArrayBuffer (a Uint8Array, DataView or Buffer viewing one) against a real
// HTTP/1.1 + HTTP/2 server and a real WebSocket server. The binding once read such a view's bytes
// through its ArrayBuffer, which a SharedArrayBuffer does not have: a null pointer, so a small body
// killed the process (SIGSEGV) and a larger one rejected while the request went out anyway. Every
// body must now arrive byte-exact, and the server counts requests: exactly one per call.
const http2 = require('node:http2');
const https = require('node:https');
const { WebSocketServer } = require('ws');

const initCycleTLS = require('../..');
const { certPair, patternBytes, uniquePort } = require('../helpers/servers');
const { unfold } = require('../helpers/events');

let client;
let server;
let wsServer;

/** Answers every request (h1 or h2) with the bytes of its body; counts the requests. */
function startBodyEcho() {
  const stats = { requests: 0 };
  const h = http2.createSecureServer({ ...certPair('server'), allowHTTP1: true }, (req, res) => {
    stats.requests++;
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/octet-stream');
      res.setHeader('x-http-version', req.httpVersion);
      res.end(Buffer.concat(chunks));
    });
  });
  return new Promise((resolve) =>
    h.listen(0, '127.0.0.1', () =>
      resolve({
        stats,
        url: (p = '/') => `https://localhost:${h.address().port}${p}`,
        close: () =>
          new Promise((r) => {
            h.close(() => r());
            h.closeAllConnections?.();
          }),
      }),
    ),
  );
}

async function startWsEcho() {
  const h = https.createServer(certPair('server'));
  const wss = new WebSocketServer({ server: h, perMessageDeflate: false });
  wss.on('connection', (socket) =>
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })),
  );
  await new Promise((resolve) => h.listen(0, '127.0.0.1', resolve));
  return {
    url: () => `wss://localhost:${h.address().port}/`,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        h.closeAllConnections?.();
        h.close(() => resolve());
      }),
  };
}

/** `bytes` copied into a SharedArrayBuffer (at an odd offset, with guard bytes around it), viewed as `kind`. */
function sharedView(kind, bytes) {
  const offset = 3;
  const sab = new SharedArrayBuffer(bytes.length + offset + 5);
  const all = new Uint8Array(sab);
  all.fill(0xee);
  all.set(bytes, offset);
  if (kind === 'Uint8Array') return new Uint8Array(sab, offset, bytes.length);
  if (kind === 'DataView') return new DataView(sab, offset, bytes.length);
  if (kind === 'SharedArrayBuffer') {
    const whole = new SharedArrayBuffer(bytes.length);
    new Uint8Array(whole).set(bytes);
    return whole;
  }
  return Buffer.from(sab, offset, bytes.length);
}

const KINDS = ['Uint8Array', 'DataView', 'Buffer', 'SharedArrayBuffer'];
const SIZES = [0, 1, 15, 16, 64 * 1024];
const CASES = KINDS.flatMap((kind) => SIZES.map((size) => [kind, size]));

beforeAll(async () => {
  server = await startBodyEcho();
  wsServer = await startWsEcho();
  client = await initCycleTLS({ port: uniquePort() });
});

afterAll(async () => {
  if (client) await client.exit();
  await Promise.all([server?.close(), wsServer?.close()]);
});

describe.each([
  ['HTTP/2', {}, '2.0'],
  ['HTTP/1.1', { forceHTTP1: true }, '1.1'],
])('%s request bodies', (_name, extra, version) => {
  test.each(CASES)(
    '%s of %i bytes on a SharedArrayBuffer arrives byte-exact, in one request',
    async (kind, size) => {
      const bytes = patternBytes(size, size + 1);
      const before = server.stats.requests;
      const r = await client.post(server.url('/'), {
        ...extra,
        body: sharedView(kind, bytes),
        responseType: 'arraybuffer',
      });
      expect(r.status).toBe(200);
      expect([].concat(r.headers['x-http-version'] ?? r.headers['X-Http-Version'])[0]).toBe(version);
      expect(Buffer.compare(Buffer.from(r.data), bytes)).toBe(0);
      expect(server.stats.requests).toBe(before + 1);
    },
  );
  test('a streamed body of SharedArrayBuffer chunks (write() in the binding) arrives byte-exact', async () => {
    const pieces = SIZES.map((size, i) => patternBytes(size, i + 11));
    async function* source() {
      for (let i = 0; i < pieces.length; i++) yield sharedView(KINDS[i % KINDS.length], pieces[i]);
    }
    const r = await client.post(server.url('/'), { ...extra, body: source(), responseType: 'arraybuffer' });
    expect(r.status).toBe(200);
    expect(Buffer.compare(Buffer.from(r.data), Buffer.concat(pieces))).toBe(0);
  });
});

describe('WebSocket messages', () => {
  test('send() of SharedArrayBuffer views (small frames and masked-in-the-binding ones) echo byte-exact', async () => {
    const ws = await client.ws(wsServer.url(), {});
    expect(ws.status).toBe(101);
    const expected = [];
    const got = [];
    const all = new Promise((resolve) =>
      ws.onMessage((m) => {
        got.push(m);
        if (got.length === CASES.length) resolve();
      }),
    );
    for (const [kind, size] of CASES) {
      const bytes = patternBytes(size, size + 7);
      expected.push(bytes);
      await ws.send(sharedView(kind, bytes));
    }
    await all;
    for (let i = 0; i < CASES.length; i++) {
      expect(got[i].type).toBe('binary');
      expect(Buffer.compare(got[i].data, expected[i])).toBe(0);
    }
    await ws.close(1000, 'done');
  });
});

describe('a call that rejects never sends', () => {
  test('a fingerprint the engine refuses rejects, and the server never hears of it', async () => {
    const before = server.stats.requests;
    await expect(
      client.post(server.url('/'), {
        body: sharedView('Uint8Array', patternBytes(64, 1)),
        ja3: '771,4865,0,29,0,1',
      }),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_(UNSUPPORTED_FINGERPRINT|INVALID_OPTION)$/),
    });
    // The next request on the same client goes through and is the only one the server saw.
    const r = await client.post(server.url('/'), { body: 'after', responseType: 'text' });
    expect(r.data).toBe('after');
    expect(server.stats.requests).toBe(before + 1);
  });

  test('the binding submits nothing when reading the spec threw (a JS exception is pending)', async () => {
    // The binding itself, as lib/instance.ts drives it: a spec whose reading throws part-way must
    // throw to JS and must not have reached the engine (it once did both).
    const { NativeEngine } = require('../../dist/native').loadAddon();
    const events = [];
    const engine = new NativeEngine((batch) => events.push(...unfold(batch)), {});
    const before = server.stats.requests;
    const { port } = new URL(server.url());
    const spec = () => ({
      method: 'POST',
      tls: true,
      host: 'localhost',
      port: Number(port),
      target: '/',
      headers: ['content-length', '16'],
      body: Buffer.from('0123456789abcdef'),
      insecureSkipVerify: true,
      forceHttp1: true,
      wholeBody: true,
      decompress: false,
      timeoutMs: 5000,
    });
    const throwing = Object.defineProperty(spec(), 'maxDecodedBytes', {
      get() {
        throw new Error('a getter that throws');
      },
    });
    expect(() => engine.request(1, throwing)).toThrow('a getter that throws');
    // A request that does go out afterwards proves the engine is alive and that the server counts.
    engine.request(2, spec());
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('request 2 did not finish')), 10_000);
      const poll = setInterval(() => {
        if (events.some((e) => e.id === 2 && (e.type === 2 || e.type === 3))) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve();
        }
      }, 5);
    });
    expect(events.filter((e) => e.id === 1)).toEqual([]);
    expect(events.find((e) => e.id === 2 && e.type === 0)).toMatchObject({ status: 200 });
    expect(server.stats.requests).toBe(before + 1);
    await engine.close();
  });
});
