'use strict';
// The upstream pool and request lifecycle from the user's side: reuse ratios, connection limits,
// per-client limits and fair queueing, the queue bound, a server closing idle connections, graceful
// close, abort and per-phase timeouts in every phase, stats, and no fd or memory growth over 20 000
// requests. Real local servers that count their connections.
const fs = require('node:fs');
const net = require('node:net');
const initCycleTLS = require('../..');
const { startServer, uniquePort } = require('../helpers/servers');
const { childEnv, runScript } = require('../process/spawn');

let server;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
});

const opts = (extra = {}) => ({ rejectOnError: true, responseType: 'text', ...extra });

async function codeOf(promise) {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    return `${err.code}/${err.stage}`;
  }
}

test('HTTP/1.1: sequential requests ride one kept-alive connection (reuse ratio ≈ 1)', async () => {
  const client = await initCycleTLS({ port: uniquePort() });
  const before = server.stats.handshakes;
  for (let i = 0; i < 50; i++) {
    const r = await client.get(server.url('/echo'), opts());
    expect(r.status).toBe(200);
  }
  expect(server.stats.handshakes - before).toBe(1);
  const s = client.stats();
  expect(s.engine.exchanges).toBe(50);
  expect(s.engine.exchangesReused).toBe(49);
  expect(s.engine.reuseRatio).toBeCloseTo(0.98, 2);
  await client.exit();
});

test('maxConnectionsPerOrigin bounds the connections; the rest wait and succeed', async () => {
  const client = await initCycleTLS({ port: uniquePort(), maxConnectionsPerOrigin: 2 });
  const before = server.stats.connections;
  const rs = await Promise.all(
    Array.from({ length: 20 }, () => client.get(server.url('/delay?ms=20'), opts())),
  );
  expect(rs.every((r) => r.status === 200)).toBe(true);
  expect(server.stats.connections - before).toBeLessThanOrEqual(2);
  const origins = client.stats().origins;
  expect(origins).toHaveLength(1);
  expect(origins[0].open).toBeLessThanOrEqual(2);
  await client.exit();
}, 30000);

test('per-client limits: one busy client cannot starve another; the queue is fair', async () => {
  const port = uniquePort();
  // One connection for the origin: every request queues, and the queue takes clients in turn.
  const a = await initCycleTLS({ port, maxConnectionsPerOrigin: 1 });
  const b = await initCycleTLS({ port });
  const order = [];
  const run = (c, tag, i) => c.get(server.url(`/delay?ms=5&${tag}${i}`), opts()).then(() => order.push(tag));
  const all = [];
  for (let i = 0; i < 10; i++) all.push(run(a, 'a', i));
  for (let i = 0; i < 10; i++) all.push(run(b, 'b', i));
  await Promise.all(all);
  // B's first request does not wait behind all of A's: round-robin between the clients.
  expect(order.slice(0, 6).filter((t) => t === 'b').length).toBeGreaterThanOrEqual(2);
  await a.exit();
  await b.exit();
}, 30000);

test('maxInFlight: a client with a limit of 1 runs its requests one at a time', async () => {
  const client = await initCycleTLS({ port: uniquePort(), maxInFlight: 1 });
  const before = server.stats.connections;
  const rs = await Promise.all(
    Array.from({ length: 8 }, () => client.get(server.url('/delay?ms=10'), opts())),
  );
  expect(rs.every((r) => r.status === 200)).toBe(true);
  expect(server.stats.connections - before).toBe(1);
  await client.exit();
});

test('maxQueued: past the bound requests fail at once with ERR_QUEUE_FULL', async () => {
  const client = await initCycleTLS({ port: uniquePort(), maxConnectionsPerOrigin: 1, maxQueued: 3 });
  // The origin's connection exists: what cannot go on it waits in the (bounded) queue. (Requests
  // that arrive while an origin's first connection is being set up wait on that attempt instead.)
  await client.get(server.url('/echo'), opts());
  const results = await Promise.all(
    Array.from({ length: 10 }, () => codeOf(client.get(server.url('/delay?ms=50'), opts()))),
  );
  expect(results.filter((r) => r === 'ok').length).toBeGreaterThanOrEqual(4);
  expect(results.filter((r) => r.startsWith('ERR_QUEUE_FULL')).length).toBeGreaterThan(0);
  expect(results.every((r) => r === 'ok' || r === 'ERR_QUEUE_FULL/queue')).toBe(true);
  await client.exit();
});

test('a server that closes idle connections between requests never fails a request', async () => {
  const client = await initCycleTLS({ port: uniquePort() });
  for (let i = 0; i < 10; i++) {
    const r = await client.get(server.url('/echo'), opts());
    expect(r.status).toBe(200);
    server.dropConnections();
    await new Promise((res) => setTimeout(res, 5));
  }
  await client.exit();
});

test('close({graceMs}) lets requests in flight finish, refuses new ones, then cancels the rest', async () => {
  const client = await initCycleTLS({ port: uniquePort() });
  const quick = client.get(server.url('/delay?ms=100'), opts());
  const stuck = codeOf(client.get(server.url('/stall'), opts()));
  await new Promise((r) => setTimeout(r, 20));
  const closing = client.close({ graceMs: 600 });
  expect(await codeOf(client.get(server.url('/echo'), opts()))).toBe('ERR_CLIENT_CLOSED/queue');
  expect((await quick).status).toBe(200);
  expect(await stuck).toMatch(/^ERR_CLIENT_CLOSED\//);
  await closing;
  await expect(client.close()).resolves.toBeUndefined(); // twice is fine
  await expect(client.exit()).resolves.toBeUndefined();
});

test('abort in every phase settles promptly with ERR_ABORTED and leaves the engine healthy', async () => {
  const client = await initCycleTLS({ port: uniquePort() });
  // A TCP server that never speaks TLS: the request sits in the handshake.
  const mute = net.createServer(() => undefined);
  await new Promise((r) => mute.listen(0, '127.0.0.1', r));
  const phases = {
    before: (signal) => {
      const c = new AbortController();
      c.abort();
      return client.get(server.url('/echo'), opts({ signal: c.signal }));
    },
    tls: (signal) => client.get(`https://127.0.0.1:${mute.address().port}/`, opts({ signal })),
    headers: (signal) => client.get(server.url('/stall'), opts({ signal })),
    body: (signal) =>
      client.get(server.url('/stall-body'), opts({ signal, responseType: 'stream' })).then(
        (r) =>
          new Promise((resolve, reject) => {
            r.data.on('data', () => undefined);
            r.data.on('error', reject);
            r.data.on('end', resolve);
          }),
      ),
  };
  for (const [phase, start] of Object.entries(phases)) {
    const c = new AbortController();
    const p = codeOf(start(c.signal));
    setTimeout(() => c.abort(), 100);
    expect([phase, await p]).toEqual([phase, expect.stringMatching(/^ERR_ABORTED\//)]);
  }
  const r = await client.get(server.url('/echo'), opts());
  expect(r.status).toBe(200);
  mute.close();
  await client.exit();
});

test('per-phase timeouts name their phase', async () => {
  const client = await initCycleTLS({ port: uniquePort() });
  const mute = net.createServer(() => undefined);
  await new Promise((r) => mute.listen(0, '127.0.0.1', r));
  expect(
    await codeOf(client.get(`https://127.0.0.1:${mute.address().port}/`, opts({ tlsTimeout: 0.2 }))),
  ).toBe('ERR_TIMEOUT/tls');
  expect(await codeOf(client.get(server.url('/stall'), opts({ headersTimeout: 0.2 })))).toBe(
    'ERR_TIMEOUT/headers',
  );
  expect(await codeOf(client.get(server.url('/stall-body'), opts({ bodyIdleTimeout: 0.2 })))).toBe(
    'ERR_TIMEOUT/body',
  );
  mute.close();
  const s = client.stats().engine;
  expect(s.errors.ERR_TIMEOUT).toBe(3);
  await client.exit();
});

test('stats: documented fields, per-origin view', async () => {
  const client = await initCycleTLS({ port: uniquePort() });
  const stalled = codeOf(client.get(server.url('/stall'), opts()));
  await new Promise((r) => setTimeout(r, 50));
  const s = client.stats();
  for (const k of [
    'requestsStarted',
    'requestsInFlight',
    'requestsQueued',
    'connectionsOpen',
    'connectionsIdle',
    'connectionsConnecting',
    'connectionsLive',
    'tlsHandshakes',
    'tlsResumed',
    'exchanges',
    'exchangesReused',
    'reuseRatio',
    'bytesIn',
    'bytesOut',
    'errors',
  ]) {
    expect(s.engine).toHaveProperty(k);
  }
  expect(s.engine.requestsInFlight).toBe(1);
  expect(s.origins).toHaveLength(1);
  expect(s.origins[0]).toMatchObject({
    key: expect.stringContaining(`https://localhost:${server.port}`),
    open: 1,
  });
  await client.exit();
  expect(await stalled).toMatch(/^ERR_CLIENT_CLOSED\//);
});

// Measured in a process of its own, started with --expose-gc, so RSS is read after a full GC (the
// test runner's heap would otherwise hide or fake growth).
test('20 000 requests: no file descriptor or memory growth', async () => {
  const result = await runScript('long-run.js', [server.url('/bytes?n=2048'), '5000', '20000'], {
    env: childEnv({ PORT: String(uniquePort()) }),
    timeoutMs: 110000,
    nodeArgs: ['--expose-gc'],
  });
  const line = result.stdout.trim().split('\n').pop();
  const r = JSON.parse(line);
  const mib = (b) => (b / 2 ** 20).toFixed(1);
  console.log(
    `20 000 requests: fds ${r.before.fds} -> ${r.after.fds}, RSS ${mib(r.before.rss)} -> ${mib(r.after.rss)} MiB, ` +
      `young generation ${mib(r.before.young)} -> ${mib(r.after.young)} MiB, reuse ratio ${r.reuseRatio.toFixed(4)} (${r.opened} connections for ${r.exchanges} requests)`,
  );
  expect(r.after.fds - r.before.fds).toBeLessThanOrEqual(2);
  // Under AddressSanitizer (npm run test:asan) freed memory waits in its quarantine (up to 256 MiB)
  // on purpose, to catch uses after free: RSS says nothing about growth there.
  // The young generation's own growth (long-run.js) is V8 sizing its nursery, not a leak.
  const youngGrowth = r.after.young - r.before.young;
  if (!process.env.CTN_ASAN_JEST) expect(r.after.rss - r.before.rss - youngGrowth).toBeLessThan(24 * 2 ** 20);
  expect(r.reuseRatio).toBeGreaterThan(0.99);
}, 120000);
