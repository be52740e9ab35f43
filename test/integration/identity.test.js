'use strict';
// Identities and rotation (issue #19) from the user's side, on real local servers and a real
// proxy that count their connections: two identities never share a connection or a TLS session,
// the built-in cookie jar never carries a cookie from one to the other, stats per identity; and
// enableConnectionReuse: false, maxRequestsPerConnection, maxConnectionAgeMs, over HTTP/1.1,
// HTTP/2 and through a proxy.
const http2 = require('node:http2');
const initCycleTLS = require('../..');
const { certPair, startServer, uniquePort } = require('../helpers/servers');
const { startHttpProxy } = require('../helpers/proxies');

let server;
let proxy;
beforeAll(async () => {
  server = await startServer();
  proxy = await startHttpProxy();
});
afterAll(async () => {
  await server.close();
  await proxy.close();
});

const opts = (extra = {}) => ({ rejectOnError: true, responseType: 'json', ...extra });
const tunnels = () => proxy.log.filter((e) => e.method === 'CONNECT').length;

/** Node's HTTP/2 server (h1 allowed), counting its TLS sessions. */
async function startH2() {
  const stats = { sessions: 0 };
  const h2 = http2.createSecureServer({ ...certPair('server'), allowHTTP1: true }, (req, res) => {
    res.end('ok');
  });
  h2.on('session', () => stats.sessions++);
  await new Promise((resolve) => h2.listen(0, '127.0.0.1', resolve));
  return {
    stats,
    url: `https://localhost:${h2.address().port}/`,
    close: () => new Promise((resolve) => h2.close(resolve)),
  };
}

describe('identities', () => {
  test('two identities never share a connection; one identity keeps its own (HTTP/1.1 and HTTP/2)', async () => {
    const client = await initCycleTLS({ port: uniquePort() });
    const h2 = await startH2();
    try {
      for (const url of [server.url('/echo'), h2.url]) {
        const a1 = await client.get(url, opts({ identity: 'alice', responseType: 'text' }));
        const b1 = await client.get(url, opts({ identity: 'bob', responseType: 'text' }));
        const a2 = await client.get(url, opts({ identity: 'alice', responseType: 'text' }));
        const plain = await client.get(url, opts({ responseType: 'text' }));
        expect(a2.connection.id).toBe(a1.connection.id);
        expect(a2.connection.reused).toBe(true);
        expect(b1.connection.id).not.toBe(a1.connection.id);
        expect(b1.connection.reused).toBe(false);
        expect(plain.connection.id).not.toBe(a1.connection.id);
        expect(plain.connection.id).not.toBe(b1.connection.id);
      }
      expect(h2.stats.sessions).toBe(3);
      const keys = client.stats().origins.map((o) => o.key);
      expect(keys.filter((k) => k.includes(' identity="alice"'))).toHaveLength(2);
      expect(keys.filter((k) => k.includes(' identity="bob"'))).toHaveLength(2);
    } finally {
      await client.exit();
      await h2.close();
    }
  });

  test("the second identity's first connection is not resumed; the same identity's second one is", async () => {
    const client = await initCycleTLS({ port: uniquePort(), enableConnectionReuse: false });
    try {
      const get = (identity) => client.get(server.url('/echo'), opts({ identity }));
      expect((await get('alice')).connection.tlsResumed).toBe(false);
      expect((await get('alice')).connection.tlsResumed).toBe(true);
      expect((await get('bob')).connection.tlsResumed).toBe(false);
      expect((await get('bob')).connection.tlsResumed).toBe(true);
      expect((await get('')).connection.tlsResumed).toBe(false);
      const { identities, tlsHandshakes, tlsResumed } = client.stats().engine;
      expect(tlsHandshakes).toBe(5);
      expect(tlsResumed).toBe(2);
      expect(identities).toEqual([
        { identity: 'alice', connectionsOpened: 2, tlsHandshakes: 2, tlsResumed: 1, exchanges: 2 },
        { identity: 'bob', connectionsOpened: 2, tlsHandshakes: 2, tlsResumed: 1, exchanges: 2 },
      ]);
    } finally {
      await client.exit();
    }
  });

  test("initCycleTLS's identity is every request's unless one names its own", async () => {
    const client = await initCycleTLS({ port: uniquePort(), identity: 'profile-1' });
    try {
      const first = await client.get(server.url('/echo'), opts());
      const own = await client.get(server.url('/echo'), opts({ identity: 'profile-2' }));
      const again = await client.get(server.url('/echo'), opts());
      expect(again.connection.id).toBe(first.connection.id);
      expect(own.connection.id).not.toBe(first.connection.id);
      expect(client.stats().engine.identities.map((i) => i.identity)).toEqual(['profile-1', 'profile-2']);
    } finally {
      await client.exit();
    }
  });

  test("the built-in cookie jar never carries one identity's cookie to another", async () => {
    const client = await initCycleTLS({ port: uniquePort() });
    try {
      const cookieOf = (r) => {
        const raw = r.data.rawHeaders;
        const i = raw.findIndex((h, k) => k % 2 === 0 && h.toLowerCase() === 'cookie');
        return i < 0 ? undefined : raw[i + 1];
      };
      // alice's redirect chain sets a cookie and sends it on its next hop...
      const set = encodeURIComponent('session=alice; Path=/');
      const alice = await client.get(
        server.url(`/cookie-redirect?set=${set}&to=/echo`),
        opts({ identity: 'alice' }),
      );
      expect(cookieOf(alice)).toBe('session=alice');
      // ... and bob, on the same origin right after, gets nothing of it.
      const bob = await client.get(server.url('/echo'), opts({ identity: 'bob' }));
      expect(cookieOf(bob)).toBeUndefined();
      expect(bob.connection.id).not.toBe(alice.connection.id);
    } finally {
      await client.exit();
    }
  });

  test('a bad identity is refused with ERR_INVALID_OPTION before anything goes out', async () => {
    const client = await initCycleTLS({ port: uniquePort() });
    try {
      const before = server.stats.connections;
      for (const identity of [42, 'x'.repeat(257), 'a\0b']) {
        await expect(client.get(server.url('/echo'), opts({ identity }))).rejects.toMatchObject({
          code: 'ERR_INVALID_OPTION',
        });
      }
      expect(server.stats.connections).toBe(before);
    } finally {
      await client.exit();
    }
  });
});

describe('rotation', () => {
  const N = 5;

  test('enableConnectionReuse: false: N requests make N connections, direct and through a proxy', async () => {
    const client = await initCycleTLS({ port: uniquePort() });
    try {
      const direct = server.stats.connections;
      for (let i = 0; i < N; i++) {
        const r = await client.get(server.url('/echo'), opts({ enableConnectionReuse: false }));
        expect(r.connection.reused).toBe(false);
      }
      expect(server.stats.connections - direct).toBe(N);
      const before = tunnels();
      for (let i = 0; i < N; i++) {
        await client.get(server.url('/echo'), opts({ enableConnectionReuse: false, proxy: proxy.url() }));
      }
      expect(tunnels() - before).toBe(N);
      // Each was closed after its request: nothing stays open.
      await waitFor(() => client.stats().engine.connectionsLive === 0);
      // Reuse on (cycletls's default): one connection for N requests.
      const reused = tunnels();
      for (let i = 0; i < N; i++) await client.get(server.url('/echo'), opts({ proxy: proxy.url() }));
      expect(tunnels() - reused).toBe(1);
    } finally {
      await client.exit();
    }
  });

  test('maxRequestsPerConnection 2: ceil(N/2) connections, through a proxy and over HTTP/2', async () => {
    const client = await initCycleTLS({ port: uniquePort(), maxRequestsPerConnection: 2 });
    const h2 = await startH2();
    try {
      const before = tunnels();
      for (let i = 0; i < N; i++) await client.get(server.url('/echo'), opts({ proxy: proxy.url() }));
      expect(tunnels() - before).toBe(Math.ceil(N / 2));
      for (let i = 0; i < N; i++) {
        const r = await client.get(h2.url, opts({ responseType: 'text' }));
        expect(r.protocol).toBe('h2');
      }
      expect(h2.stats.sessions).toBe(Math.ceil(N / 2));
    } finally {
      await client.exit();
      await h2.close();
    }
  });

  test('maxConnectionAgeMs: a connection past its age closes when idle and takes no new request', async () => {
    // A server that keeps idle connections for minutes: only the age limit can close this one.
    const patient = await startServer({ keepAliveTimeout: 120000 });
    const client = await initCycleTLS({ port: uniquePort() });
    const aged = opts({ proxy: proxy.url(), maxConnectionAgeMs: 300 });
    try {
      const before = tunnels();
      const first = await client.get(patient.url('/echo'), aged);
      // Closed by its age (the engine's idle timeout is a minute away, the server's two).
      await waitFor(() => client.stats().engine.connectionsLive === 0);
      const second = await client.get(patient.url('/echo'), aged);
      expect(second.connection.id).not.toBe(first.connection.id);
      expect(tunnels() - before).toBe(2);
    } finally {
      await client.exit();
      await patient.close();
    }
  });
});

/** Polls `pred` until true (bounded: the test fails if it never is). */
async function waitFor(pred, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
