'use strict';
// One engine per port across real processes: election (over a stale socket too), the Unix-socket
// link and its kernel-checked peers (a real process of another user), mixed loads with every body
// checked, the host leaving in every way a process can leave, foreign peers, a slow consumer whose
// memory stays flat in both processes, and a 70 000-byte URL. Every child is bounded (spawn.js kills
// it at its deadline). Every run has its own private socket directory.
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const { childEnv, start, killAll } = require('./spawn');
const { startServer, uniquePort } = require('../helpers/servers');

const WORKER = path.join(__dirname, '..', 'fixtures', 'scripts', 'share-worker.js');

let upstream;
let dir;
let socketDir;
let env;

beforeAll(async () => {
  // Plain HTTP upstream: these tests are about the link, not TLS; large headers allowed for the long URL.
  upstream = await startServer({ tls: false });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-sharing-'));
  socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-sock-')); // 0700
  env = childEnv({ CYCLETLS_NATIVE_SOCKET_DIR: socketDir });
});

const socketOf = (port) => path.join(socketDir, `${port}.sock`);

afterAll(async () => {
  killAll();
  await upstream.close();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(socketDir, { recursive: true, force: true });
});

let fileSeq = 0;
const tmpFile = (name) => path.join(dir, `${name}-${++fileSeq}`);

function worker(cfg, { timeoutMs = 60000, extraEnv } = {}) {
  return start(
    process.execPath,
    [WORKER, JSON.stringify({ base: `http://127.0.0.1:${upstream.port}`, ...cfg })],
    { env: extraEnv ? { ...env, ...extraEnv } : env, timeoutMs },
  );
}

async function doneOf(w) {
  const line = await w.waitFor(/^DONE /, 60000);
  return JSON.parse(line.slice(5));
}

const roleOf = (line) => line.split(' ')[1];

test('two processes on one port: one hosts, the other is its client; mixed bodies, none crossed', async () => {
  const port = uniquePort();
  const holdFile = tmpFile('hold');
  const cfg = {
    port,
    mode: 'load',
    count: 150,
    concurrency: 6,
    largeEvery: 10,
    largeSize: 1 << 20,
    holdFile,
  };
  const a = worker(cfg);
  expect(roleOf(await a.waitFor(/^READY /))).toBe('host');
  const b = worker(cfg);
  expect(roleOf(await b.waitFor(/^READY /))).toBe('client');
  const [ra, rb] = await Promise.all([doneOf(a), doneOf(b)]);
  for (const r of [ra, rb]) {
    expect(r).toMatchObject({ ok: 150, crossed: 0, hung: 0, codes: {} });
  }
  expect(rb.link.hostPid).toBe(ra.pid);
  fs.writeFileSync(holdFile, 'go');
  await Promise.all([a.done, b.done]);
});

test('eight processes on one port: mixed large and small bodies, zero crossed or corrupted', async () => {
  const port = uniquePort();
  const startFile = tmpFile('start');
  const holdFile = tmpFile('hold');
  const cfg = {
    port,
    mode: 'load',
    count: 60,
    concurrency: 4,
    largeEvery: 6,
    largeSize: 3 << 20,
    startFile,
    holdFile,
  };
  const ws = Array.from({ length: 8 }, () => worker(cfg));
  fs.writeFileSync(startFile, 'go');
  const roles = await Promise.all(ws.map((w) => w.waitFor(/^READY /).then(roleOf)));
  expect(roles.filter((r) => r === 'host')).toHaveLength(1);
  expect(roles.filter((r) => r === 'client')).toHaveLength(7);
  const results = await Promise.all(ws.map(doneOf));
  for (const r of results) expect(r).toMatchObject({ ok: 60, crossed: 0, hung: 0, codes: {} });
  expect(new Set(results.map((r) => r.link.hostPid)).size).toBe(1);
  fs.writeFileSync(holdFile, 'go');
  await Promise.all(ws.map((w) => w.done));
}, 120000);

// A host killed with SIGKILL leaves its socket file behind: nothing accepts on it any more.
async function leaveStaleSocket(port) {
  const dead = start(
    process.execPath,
    [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socketOf(port))}, () => process.kill(process.pid, 'SIGKILL'))`,
    ],
    { env, timeoutMs: 10000 },
  );
  await dead.done;
  expect(fs.lstatSync(socketOf(port)).isSocket()).toBe(true);
}

test.each([
  ['a free port', 50, false],
  ['a stale socket left by a killed host', 20, true],
])(
  'an election race over %s, repeated, ends with exactly one host every time',
  async (_name, rounds, stale) => {
    for (let round = 0; round < rounds; round++) {
      const port = uniquePort();
      if (stale) await leaveStaleSocket(port);
      const startFile = tmpFile('race');
      const holdFile = tmpFile('hold');
      const cfg = { port, mode: 'load', count: 1, concurrency: 1, startFile, holdFile };
      const ws = Array.from({ length: 3 }, () => worker(cfg, { timeoutMs: 30000 }));
      // Every racer is loaded and polling before the gun.
      await new Promise((r) => setTimeout(r, 150));
      fs.writeFileSync(startFile, 'go');
      const roles = await Promise.all(ws.map((w) => w.waitFor(/^READY /, 20000).then(roleOf)));
      const results = await Promise.all(ws.map(doneOf));
      fs.writeFileSync(holdFile, 'go');
      await Promise.all(ws.map((w) => w.done));
      expect({ round, hosts: roles.filter((r) => r === 'host').length }).toEqual({ round, hosts: 1 });
      for (const r of results) expect(r).toMatchObject({ ok: 1, crossed: 0, hung: 0 });
    }
  },
  240000,
);

test('200 idle connections to the socket do not keep a new client process out', async () => {
  const port = uniquePort();
  const host = worker({ port, mode: 'host' });
  expect(roleOf(await host.waitFor(/^READY /))).toBe('host');
  const idle = await Promise.all(Array.from({ length: 200 }, () => connectRaw(port)));
  try {
    const w = worker({ port, mode: 'load', count: 20, concurrency: 4 });
    expect(roleOf(await w.waitFor(/^READY /))).toBe('client');
    expect(await doneOf(w)).toMatchObject({ ok: 20, crossed: 0, hung: 0, codes: {} });
  } finally {
    for (const s of idle) s.destroy();
    host.child.kill('SIGKILL');
    await host.done;
  }
}, 60000);

const runningAsRoot = typeof process.getuid === 'function' && process.getuid() === 0;

(runningAsRoot ? test : test.skip)(
  'a process of another user cannot use our socket directory: ERR_SHARE_SECRET, and the host never hears of it',
  async () => {
    const port = uniquePort();
    const host = worker({ port, mode: 'host' });
    expect(roleOf(await host.waitFor(/^READY /))).toBe('host');
    // uid 65534 pointed at our directory: it may not enter it, and it says so before anything else.
    const stranger = start(
      process.execPath,
      [WORKER, JSON.stringify({ base: `http://127.0.0.1:${upstream.port}`, port, mode: 'load', count: 1 })],
      { env: { ...env, HOME: '/nonexistent' }, timeoutMs: 30000, uid: 65534, gid: 65534 },
    );
    const line = await stranger.waitFor(/^(INITFAILED|READY) /, 20000);
    expect(line).toMatch(
      new RegExp(
        `^INITFAILED ERR_SHARE_SECRET .*${socketDir}.* belongs to uid 0, not to this user \\(uid 65534\\)`,
      ),
    );
    await stranger.done;
    host.child.kill('SIGKILL');
    const hr = await host.done;
    expect(hr.stderr).not.toMatch(/refused a connection/);
  },
  60000,
);

test('an unsafe socket directory is refused at initCycleTLS with ERR_SHARE_SECRET naming it', async () => {
  const open = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-open-'));
  fs.chmodSync(open, 0o777);
  try {
    const w = start(
      process.execPath,
      [
        WORKER,
        JSON.stringify({
          base: `http://127.0.0.1:${upstream.port}`,
          port: uniquePort(),
          mode: 'load',
          count: 1,
        }),
      ],
      { env: { ...env, CYCLETLS_NATIVE_SOCKET_DIR: open }, timeoutMs: 30000 },
    );
    expect(await w.waitFor(/^(INITFAILED|READY) /)).toMatch(
      new RegExp(`^INITFAILED ERR_SHARE_SECRET "the socket directory ${open} has mode 0777; it must be 0700`),
    );
    await w.done;
  } finally {
    fs.rmSync(open, { recursive: true, force: true });
  }
});

// The host leaves while two clients keep four requests each in flight: every request settles,
// only with ERR_HOST_GONE if at all, and the port is served again within a second.
describe.each([
  ['exit()', 'exit'],
  ['process.exit()', 'process.exit'],
  ['SIGTERM', 'SIGTERM'],
  ['SIGKILL', 'SIGKILL'],
])('the host leaves by %s under load', (_name, how) => {
  test('every request settles and a new host serves within 1 s', async () => {
    const port = uniquePort();
    const actionFile = tmpFile('action');
    const stopFile = tmpFile('stop');
    const host = worker({ port, mode: 'host', actionFile });
    expect(roleOf(await host.waitFor(/^READY /))).toBe('host');
    const holdFile = tmpFile('hold');
    const cfg = {
      port,
      mode: 'load',
      concurrency: 4,
      largeEvery: 8,
      largeSize: 256 << 10,
      stopFile,
      holdFile,
    };
    const clients = [worker(cfg), worker(cfg)];
    for (const c of clients) expect(roleOf(await c.waitFor(/^READY /))).toBe('client');
    await Promise.all(clients.map((c) => c.waitFor(/^PROGRESS /)));
    const leftAt = Date.now();
    if (how.startsWith('SIG')) host.child.kill(how);
    else fs.writeFileSync(actionFile, how);
    const hostResult = await host.done;
    // Let the survivors run on the new host for a while.
    await new Promise((r) => setTimeout(r, 1500));
    fs.writeFileSync(stopFile, 'stop');
    const results = await Promise.all(clients.map(doneOf));
    for (const r of results) {
      expect(r.hung).toBe(0);
      expect(r.crossed).toBe(0);
      // Codes other than ERR_HOST_GONE come with their messages (the worker keeps them), to say which path.
      expect({
        codes: Object.keys(r.codes).filter((c) => c !== 'ERR_HOST_GONE'),
        messages: r.messages,
      }).toEqual({
        codes: [],
        messages: {},
      });
    }
    // Exactly one survivor hosts now, the other is its client.
    expect(results.map((r) => r.role).sort()).toEqual(['client', 'host']);
    // The first request started after the host left and answered: the handover time.
    const served = results
      .flatMap((r) => r.okTimes)
      .filter(([s]) => s >= leftAt)
      .map(([, e]) => e);
    const firstServed = Math.min(...served);
    const handoverMs = firstServed - leftAt;
    console.log(
      `host left by ${how}: first request served ${handoverMs} ms later; errors ${JSON.stringify(results.map((r) => r.codes))}`,
    );
    expect(handoverMs).toBeLessThan(1000);
    if (how === 'exit') expect(hostResult.stdout).toMatch(/EXITED/);
    fs.writeFileSync(holdFile, 'go');
    await Promise.all(clients.map((c) => c.done));
  }, 90000);
});

function connectRaw(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketOf(port), () => resolve(s));
    s.on('error', reject);
  });
}

function closedByPeer(socket, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.on('data', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.on('error', () => undefined);
  });
}

function frame(type, stream, payload) {
  const head = Buffer.alloc(14);
  head.writeUInt32BE(10 + payload.length, 0);
  head.writeUInt8(type, 4);
  head.writeUInt8(0, 5);
  head.writeBigUInt64BE(BigInt(stream), 6);
  return Buffer.concat([head, payload]);
}

test('foreign peers are refused (garbage, oversized frame, half-open, old protocol) and the host keeps serving', async () => {
  const port = uniquePort();
  const stopFile = tmpFile('stop');
  const host = worker({ port, mode: 'host' });
  expect(roleOf(await host.waitFor(/^READY /))).toBe('host');
  const client = worker({ port, mode: 'load', concurrency: 2, stopFile });
  expect(roleOf(await client.waitFor(/^READY /))).toBe('client');

  const garbage = await connectRaw(port);
  const g = closedByPeer(garbage, 5000);
  garbage.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  expect(await g).toBe(true);

  const oversized = await connectRaw(port);
  const o = closedByPeer(oversized, 5000);
  oversized.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x01, 0x00]));
  expect(await o).toBe(true);

  // Speaks an older link protocol: told which version is required, closed, never served.
  const old = await connectRaw(port);
  const l = closedByPeer(old, 5000);
  const hello = Buffer.concat([
    Buffer.from('CTNLINK\x01', 'latin1'),
    Buffer.from([0, 3]),
    Buffer.alloc(4),
    Buffer.alloc(32, 9),
  ]);
  old.write(frame(1, 0, hello));
  old.write(frame(5, 1, Buffer.from('a request it must never run')));
  expect(await l).toBe(true);

  // Connects and never speaks.
  const silent = await connectRaw(port);
  expect(await closedByPeer(silent, 8000)).toBe(true);

  fs.writeFileSync(stopFile, 'stop');
  const r = await doneOf(client);
  expect(r.ok).toBeGreaterThan(0);
  expect(r).toMatchObject({ crossed: 0, hung: 0, codes: {} });
  host.child.kill('SIGKILL');
  const hr = await host.done;
  // The host told its user, through Node's own warning channel.
  expect(hr.stderr).toMatch(/refused a connection/);
}, 60000);

test("a port's socket held by something else fails fast with ERR_PORT_IN_USE", async () => {
  const squatter = http.createServer((req, res) => res.end('not an engine'));
  const squatterPort = uniquePort();
  await new Promise((r) => squatter.listen(socketOf(squatterPort), r));
  const silent = net.createServer(() => undefined);
  const silentPort = uniquePort();
  await new Promise((r) => silent.listen(socketOf(silentPort), r));
  try {
    for (const port of [squatterPort, silentPort]) {
      const w = worker({ port, mode: 'load', count: 1 });
      const line = await w.waitFor(/^(INITFAILED|READY) /);
      expect(line).toMatch(/^INITFAILED ERR_PORT_IN_USE .*not a cycletls-native engine/);
      await w.done;
    }
  } finally {
    squatter.close();
    silent.close();
  }
});

test('a slow consumer does not slow the others', async () => {
  const port = uniquePort();
  const stopFile = tmpFile('stop');
  const host = worker({ port, mode: 'host' });
  expect(roleOf(await host.waitFor(/^READY /))).toBe('host');
  // Pauses a 64 MiB response after its first chunk: the link must not stall behind it.
  const slow = worker({ port, mode: 'slow', largeSize: 64 << 20, stopFile });
  expect(roleOf(await slow.waitFor(/^READY /))).toBe('client');
  await slow.waitFor(/^SLOW /);
  const fast = worker({ port, mode: 'load', count: 200, concurrency: 4, largeEvery: 10, largeSize: 1 << 20 });
  const r = await doneOf(fast);
  expect(r).toMatchObject({ ok: 200, crossed: 0, hung: 0, codes: {} });
  // The slow one is still waiting on its stream: everything above happened beside it.
  expect(slow.lines.some((l) => l.line.startsWith('DONE'))).toBe(false);
  fs.writeFileSync(stopFile, 'stop');
  const s = await doneOf(slow);
  expect(s).toMatchObject({ ok: 1, bytes: 64 << 20 });
  host.child.kill('SIGKILL');
  await host.done;
}, 90000);

// Resident memory of a process, bytes.
function rssOf(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

test("a paused stream read in another process keeps both processes' memory flat", async () => {
  const port = uniquePort();
  const stopFile = tmpFile('stop');
  const host = worker({ port, mode: 'host' });
  expect(roleOf(await host.waitFor(/^READY /))).toBe('host');
  // 256 MiB offered by the server; the reader pauses after its first chunk.
  const slow = worker({ port, mode: 'slow', largeSize: 256 << 20, stopFile });
  expect(roleOf(await slow.waitFor(/^READY /))).toBe('client');
  await slow.waitFor(/^SLOW /);
  const before = { host: rssOf(host.child.pid), reader: rssOf(slow.child.pid) };
  const peak = { ...before };
  // The server keeps offering data all along: whatever windows and buffers allow would pile up here.
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 100));
    peak.host = Math.max(peak.host, rssOf(host.child.pid));
    peak.reader = Math.max(peak.reader, rssOf(slow.child.pid));
  }
  const growthMiB = {
    host: (peak.host - before.host) / 2 ** 20,
    reader: (peak.reader - before.reader) / 2 ** 20,
  };
  console.log(
    `paused stream across processes: RSS growth host ${growthMiB.host.toFixed(1)} MiB, reader ${growthMiB.reader.toFixed(1)} MiB`,
  );
  // Windows of a few MiB are what may be in flight; a leak would be a sizeable part of 256 MiB.
  expect(growthMiB.host).toBeLessThan(24);
  expect(growthMiB.reader).toBeLessThan(24);
  fs.writeFileSync(stopFile, 'stop');
  expect(await doneOf(slow)).toMatchObject({ ok: 1, bytes: 256 << 20 });
  host.child.kill('SIGKILL');
  await host.done;
}, 90000);

test('a 70 000-byte URL crosses the link', async () => {
  const big = http.createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ url: req.url }));
  });
  await new Promise((r) => big.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${big.address().port}`;
  const port = uniquePort();
  try {
    const host = worker({ port, mode: 'host', base });
    expect(roleOf(await host.waitFor(/^READY /))).toBe('host');
    const w = worker({ port, mode: 'url', urlLength: 70000, base });
    expect(roleOf(await w.waitFor(/^READY /))).toBe('client');
    const r = await doneOf(w);
    expect(r.ok).toBe(1);
    expect(r.urlSeen).toBe('/echo?x='.length + 70000);
    host.child.kill('SIGKILL');
    await host.done;
  } finally {
    big.close();
  }
});

test('maxResponseBytes crosses the link and holds for a body the host streams to a client process', async () => {
  const port = uniquePort();
  const host = worker({ port, mode: 'host' });
  expect(roleOf(await host.waitFor(/^READY /))).toBe('host');
  const over = worker({ port, mode: 'limit', n: 3 * 1024 * 1024, limit: 1024 * 1024 });
  expect(roleOf(await over.waitFor(/^READY /))).toBe('client');
  const r = await doneOf(over);
  expect(r.code).toBe('ERR_BODY_TOO_LARGE');
  expect(r.message).toMatch(/maxResponseBytes \(1048576 bytes\)/);
  const at = worker({ port, mode: 'limit', n: 1024 * 1024, limit: 1024 * 1024 });
  expect(roleOf(await at.waitFor(/^READY /))).toBe('client');
  expect((await doneOf(at)).bytes).toBe(1024 * 1024);
  host.child.kill('SIGKILL');
  await host.done;
});

test("a streamed upload and a WebSocket from a client process run on the host's engine", async () => {
  const { WebSocketServer } = require('ws');
  const wsServer = http.createServer();
  const wss = new WebSocketServer({ server: wsServer });
  const closes = [];
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    socket.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
  });
  await new Promise((r) => wsServer.listen(0, '127.0.0.1', r));
  const port = uniquePort();
  try {
    const host = worker({ port, mode: 'host' });
    expect(roleOf(await host.waitFor(/^READY /))).toBe('host');
    const w = worker({
      port,
      mode: 'stream-ws',
      uploadSize: 3 * 1024 * 1024 + 5,
      wsUrl: `ws://127.0.0.1:${wsServer.address().port}/echo`,
    });
    expect(roleOf(await w.waitFor(/^READY /))).toBe('client');
    const r = await doneOf(w);
    expect(r).toMatchObject({
      ok: 1,
      uploadEcho: true,
      wsEcho: true,
      wsClose: { code: 1000, reason: 'bye' },
    });
    // The server hears the close once the connection is down, which may be just after the client.
    for (let i = 0; i < 300 && closes.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(closes).toEqual([{ code: 1000, reason: 'bye' }]);
    host.child.kill('SIGKILL');
    await host.done;
  } finally {
    for (const c of wss.clients) c.terminate();
    wss.close();
    wsServer.close();
  }
}, 60000);

test("a Firefox WebSocket from a client process runs over the host's HTTP/2 (RFC 8441) connection", async () => {
  const http2 = require('node:http2');
  const { certPair } = require('../helpers/servers');
  const { echoClientFrames } = require('../helpers/ws-frames');
  const connects = [];
  const server = http2.createSecureServer({
    ...certPair('server'),
    settings: { enableConnectProtocol: true },
  });
  server.on('stream', (stream, headers) => {
    connects.push(headers[':protocol']);
    stream.respond({ ':status': 200 });
    echoClientFrames(stream);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = uniquePort();
  try {
    const host = worker({ port, mode: 'host' });
    expect(roleOf(await host.waitFor(/^READY /))).toBe('host');
    const w = worker({
      port,
      mode: 'stream-ws',
      uploadSize: 1000,
      wsUrl: `wss://localhost:${server.address().port}/echo`,
      wsOptions: { profile: 'firefox_153', insecureSkipVerify: true },
    });
    expect(roleOf(await w.waitFor(/^READY /))).toBe('client');
    const r = await doneOf(w);
    expect(r).toMatchObject({
      ok: 1,
      wsStatus: 200,
      wsAlpn: 'h2',
      wsEcho: true,
      wsClose: { code: 1000, reason: 'bye' },
    });
    expect(connects).toEqual(['websocket']);
    host.child.kill('SIGKILL');
    await host.done;
  } finally {
    server.close();
  }
}, 60000);

test("a caller's DNS answer crosses the link: a client process's lookup reaches a name only it knows", async () => {
  const port = uniquePort();
  const host = worker({ port, mode: 'host' });
  expect(roleOf(await host.waitFor(/^READY /))).toBe('host');
  // This process joins as the host's client: the request runs on the host's engine.
  const initCycleTLS = require('../..');
  const client = await initCycleTLS({ port, socketDir });
  try {
    const lookup = (hostname, options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]);
    const r = await client.get(`http://only-here.test:${upstream.port}/echo`, { lookup });
    expect(r.status).toBe(200);
    expect(r.data.rawHeaders).toContain(`only-here.test:${upstream.port}`);
  } finally {
    await client.exit();
    host.child.kill('SIGKILL');
    await host.done;
  }
});
