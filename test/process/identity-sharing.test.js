'use strict';
// Identities across processes sharing a port (issue #19): the identity travels the link with the
// request, so on the host's one engine two identities never share a connection or a TLS session,
// whichever process asks, and one identity named by two processes is one identity. The host is this
// test's process; the others are real child processes (share-worker.js, mode 'requests').
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const initCycleTLS = require('../..');
const { childEnv, start, killAll } = require('./spawn');
const { startServer, uniquePort } = require('../helpers/servers');

const WORKER = path.join(__dirname, '..', 'fixtures', 'scripts', 'share-worker.js');

let upstream;
let socketDir;
let env;

beforeAll(async () => {
  upstream = await startServer(); // TLS: sessions and their resumption are part of the question
  socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-sock-')); // 0700
  env = childEnv({ CYCLETLS_NATIVE_SOCKET_DIR: socketDir });
});

afterAll(async () => {
  killAll();
  await upstream.close();
  fs.rmSync(socketDir, { recursive: true, force: true });
});

/** A client process that runs `requests` ([{path, options}]) in order; resolves with its DONE. */
async function run(port, requests) {
  const w = start(
    process.execPath,
    [
      WORKER,
      JSON.stringify({ port, base: `https://localhost:${upstream.port}`, mode: 'requests', requests }),
    ],
    { env, timeoutMs: 60000 },
  );
  expect((await w.waitFor(/^READY /)).split(' ')[1]).toBe('client');
  const line = await w.waitFor(/^DONE /, 60000);
  await w.done;
  return JSON.parse(line.slice(5));
}

test('two identities never share a connection across processes; one identity is one across them', async () => {
  const port = uniquePort();
  const host = await initCycleTLS({ port, socketDir });
  try {
    expect(host.stats().role).toBe('host');
    const mine = await host.get(upstream.url('/echo'), { identity: 'alice', responseType: 'text' });
    const first = await run(port, [
      { path: '/echo', options: { identity: 'alice' } },
      { path: '/echo', options: { identity: 'bob' } },
    ]);
    const second = await run(port, [
      { path: '/echo', options: { identity: 'bob' } },
      { path: '/echo', options: { identity: 'carol' } },
    ]);
    expect(first.ok).toBe(1);
    expect(second.ok).toBe(1);
    const [aliceThere, bobThere] = first.seen;
    const [bobAgain, carol] = second.seen;
    expect(aliceThere.id).toBe(mine.connection.id); // alice in two processes: one identity
    expect(bobThere.id).not.toBe(mine.connection.id);
    expect(bobAgain.id).toBe(bobThere.id);
    expect(carol.id).not.toBe(bobThere.id);
    expect(carol.id).not.toBe(mine.connection.id);
    expect(new Set(host.stats().engine.identities.map((i) => i.identity))).toEqual(
      new Set(['alice', 'bob', 'carol']),
    );
  } finally {
    await host.exit();
  }
});

test('a TLS session of one identity never resumes another, whichever process asks', async () => {
  const port = uniquePort();
  const host = await initCycleTLS({ port, socketDir });
  try {
    const fresh = { enableConnectionReuse: false }; // a new connection (and handshake) per request
    const first = await run(port, [
      { path: '/echo', options: { identity: 'alice', ...fresh } },
      { path: '/echo', options: { identity: 'alice', ...fresh } },
    ]);
    expect(first.seen.map((s) => s.tlsResumed)).toEqual([false, true]);
    const second = await run(port, [
      { path: '/echo', options: { identity: 'bob', ...fresh } },
      { path: '/echo', options: { identity: 'bob', ...fresh } },
      { path: '/echo', options: { identity: 'alice', ...fresh } },
    ]);
    expect(second.seen.map((s) => s.tlsResumed)).toEqual([false, true, true]);
    expect(new Set(second.seen.map((s) => s.id)).size).toBe(3);
    const stats = host.stats().engine;
    expect(stats.identities).toEqual([
      { identity: 'alice', connectionsOpened: 3, tlsHandshakes: 3, tlsResumed: 2, exchanges: 3 },
      { identity: 'bob', connectionsOpened: 2, tlsHandshakes: 2, tlsResumed: 1, exchanges: 2 },
    ]);
  } finally {
    await host.exit();
  }
});
