'use strict';
// HTTP/2 end to end against Node's own http2 server: ALPN, multiplexing on one session, the
// server's stream limit, the cold-origin guard, back-pressure, resets, GOAWAY, and profiles.
const http2 = require('node:http2');
const initCycleTLS = require('../..');
const { certPair, patternBytes, uniquePort } = require('../helpers/servers');
const { unfold } = require('../helpers/events');

function startH2({ maxConcurrentStreams = 100, onStream } = {}) {
  const stats = { sessions: 0, streams: 0, seen: [] };
  const server = http2.createSecureServer({
    ...certPair('server'),
    allowHTTP1: true,
    settings: { maxConcurrentStreams },
  });
  server.on('session', () => stats.sessions++);
  server.on('stream', (stream, headers, flags, rawHeaders) => {
    stats.streams++;
    stats.seen.push(rawHeaders);
    if (onStream && onStream(stream, headers)) return;
    const url = new URL(headers[':path'], 'https://x');
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      if (url.pathname === '/bytes') {
        const n = Number(url.searchParams.get('n'));
        stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
        stream.end(patternBytes(n, 5));
        return;
      }
      if (url.pathname === '/slow') {
        setTimeout(
          () => {
            if (!stream.destroyed) {
              stream.respond({ ':status': 200 });
              stream.end('slow');
            }
          },
          Number(url.searchParams.get('ms') || 200),
        );
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-multi': ['a', 'b'] });
      stream.end(
        JSON.stringify({
          method: headers[':method'],
          path: headers[':path'],
          rawHeaders,
          body: Buffer.concat(chunks).toString('base64'),
        }),
      );
    });
  });
  server.on('request', (req, res) => {
    if (req.httpVersion === '1.1') res.end(JSON.stringify({ h1: true }));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        stats,
        server,
        port,
        url: (p = '/') => `https://localhost:${port}${p}`,
        close: () =>
          new Promise((r) => {
            server.close(() => r());
            for (const s of sessionsOf(server)) s.destroy();
          }),
      });
    }),
  );
}
const sessionsOf = (server) => (server._sessions ? [...server._sessions] : []);

let h2;
let client;
beforeAll(async () => {
  h2 = await startH2({ maxConcurrentStreams: 10 });
  // Track sessions to destroy them at the end.
  h2.server._sessions = new Set();
  h2.server.on('session', (s) => {
    h2.server._sessions.add(s);
    s.on('close', () => h2.server._sessions.delete(s));
  });
  client = await initCycleTLS({ port: uniquePort() });
});
afterAll(async () => {
  await client.exit();
  await h2.close();
});

test('ALPN picks h2; the response comes back in cycletls shape', async () => {
  const r = await client.get(h2.url('/echo'));
  expect(r.status).toBe(200);
  expect(r.protocol).toBe('h2');
  expect(r.httpVersion).toBe('2.0');
  expect(r.headers['X-Multi']).toEqual(['a', 'b']);
  expect(r.data.method).toBe('GET');
});

test('Chrome preset: pseudo-headers m,a,s,p then its headers in order, lower case', async () => {
  const r = await client.get(h2.url('/echo'), { headers: { 'X-Extra': '1' } });
  const names = r.data.rawHeaders.filter((_, i) => i % 2 === 0);
  expect(names.slice(0, 4)).toEqual([':method', ':authority', ':scheme', ':path']);
  expect(names.slice(4, 8)).toEqual([
    'sec-ch-ua',
    'sec-ch-ua-mobile',
    'sec-ch-ua-platform',
    'upgrade-insecure-requests',
  ]);
  expect(names).toContain('x-extra');
  expect(names.indexOf('x-extra')).toBe(names.length - 1);
});

test('Firefox preset: pseudo-headers m,p,a,s', async () => {
  const r = await client.get(h2.url('/echo'), { profile: 'firefox' });
  const names = r.data.rawHeaders.filter((_, i) => i % 2 === 0);
  expect(names.slice(0, 4)).toEqual([':method', ':path', ':authority', ':scheme']);
  expect(names[4]).toBe('user-agent');
});

test('100 requests with 10 streams allowed: all correct, one session', async () => {
  const s = await startH2({ maxConcurrentStreams: 10 });
  const c = await initCycleTLS({ port: uniquePort() });
  await c.get(s.url('/echo?warm'));
  const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => c.get(s.url(`/echo?i=${i}`))));
  rs.forEach((r, i) => expect(r.data.path).toBe(`/echo?i=${i}`));
  expect(s.stats.sessions).toBe(1);
  await c.exit();
  await s.close();
});

test('200 streamed responses on one session, 10 streams at a time: every stream gets its own bytes', async () => {
  // After each read only the streams it touched are flushed (not every stream on the session):
  // each stream's body must still come in bursts as reads bring it, whole, in order, and nowhere
  // else. The engine itself, to count its body events.
  const s = await startH2({ maxConcurrentStreams: 10 });
  const { NativeEngine } = require('../../dist/native').loadAddon();
  const got = new Map();
  let resolveAll;
  const all = new Promise((resolve) => (resolveAll = resolve));
  let left = 200;
  const engine = new NativeEngine((batch) => {
    for (const e of unfold(batch)) {
      const g = got.get(e.id);
      if (e.type === 1) g.chunks.push(e.data);
      if (e.type === 3) g.error = e.message;
      if ((e.type === 2 || e.type === 3) && --left === 0) resolveAll();
    }
  }, {});
  const { port } = new URL(s.url('/'));
  const sizes = Array.from({ length: 200 }, (_, i) => 150000 + i * 997);
  sizes.forEach((n, i) => {
    got.set(i + 1, { chunks: [] });
    engine.request(i + 1, {
      method: 'GET',
      tls: true,
      host: '127.0.0.1',
      port: Number(port),
      target: `/bytes?n=${n}`,
      headers: [],
      insecureSkipVerify: true,
      wholeBody: false,
      decompress: false,
      timeoutMs: 30000,
    });
  });
  await all;
  await new Promise((resolve) => engine.close(resolve));
  sizes.forEach((n, i) => {
    const g = got.get(i + 1);
    expect(g.error).toBeUndefined();
    expect(Buffer.concat(g.chunks).equals(patternBytes(n, 5))).toBe(true);
  });
  // Bytes are handed on as reads bring them, not only when a stream ends.
  expect([...got.values()].filter((g) => g.chunks.length > 1).length).toBeGreaterThan(150);
  expect(s.stats.sessions).toBe(1);
  await s.close();
});

test('a server that serves one stream per connection (GOAWAY, the rest refused): 16 at once all succeed', async () => {
  // nginx with keepalive_requests 1 does this: every connection answers its first stream and
  // refuses the others with GOAWAY. Each new connection serves one more, so every refused request
  // goes again until its turn comes (a refusal by a session that served nothing still counts
  // against the few tries such a request gets).
  const s = await startH2({
    onStream: (stream, headers) => {
      const session = stream.session;
      if (session.served) return false;
      session.served = true;
      session.goaway(0, stream.id);
      stream.on('close', () => session.close());
      return false;
    },
  });
  const c = await initCycleTLS({ port: uniquePort() });
  try {
    const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => c.get(s.url(`/echo?i=${i}`))));
    rs.forEach((r, i) =>
      expect({ status: r.status, path: r.data.path }).toEqual({ status: 200, path: `/echo?i=${i}` }),
    );
    expect(s.stats.sessions).toBeGreaterThanOrEqual(16);
  } finally {
    await c.exit();
    await s.close();
  }
});

test('cold origin: 50 simultaneous requests share one handshake', async () => {
  const s = await startH2({ maxConcurrentStreams: 100 });
  const c = await initCycleTLS({ port: uniquePort() });
  const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => c.get(s.url(`/echo?i=${i}`))));
  expect(rs.every((r, i) => r.data.path === `/echo?i=${i}`)).toBe(true);
  expect(s.stats.sessions).toBe(1);
  expect(c.stats().engine.tlsHandshakes).toBe(1);
  await c.exit();
  await s.close();
});

test('POST bodies and large responses over h2', async () => {
  const body = patternBytes(200000, 3);
  const r = await client.post(h2.url('/echo'), { body });
  expect(Buffer.from(r.data.body, 'base64').equals(body)).toBe(true);
  const big = await client.get(h2.url('/bytes?n=5000000'), { responseType: 'arraybuffer' });
  expect(Buffer.from(big.data).equals(patternBytes(5000000, 5))).toBe(true);
});

test('a slow stream reader holds back only its own stream (flow control)', async () => {
  const r = await client.get(h2.url('/bytes?n=8000000'), { responseType: 'stream' });
  let received = 0;
  r.data.pause();
  // While the big stream is paused, other requests on the same session complete.
  const others = await Promise.all(Array.from({ length: 5 }, () => client.get(h2.url('/echo'))));
  expect(others.every((o) => o.status === 200 && o.connection.id === r.connection.id)).toBe(true);
  r.data.on('data', (c) => {
    received += c.length;
  });
  r.data.resume();
  await new Promise((res, rej) => {
    r.data.on('end', res);
    r.data.on('error', rej);
  });
  expect(received).toBe(8000000);
});

test('aborting one stream keeps the session for the others', async () => {
  const ac = new AbortController();
  const slow = client.get(h2.url('/slow?ms=2000'), { signal: ac.signal });
  const fast = client.get(h2.url('/echo'));
  setTimeout(() => ac.abort(), 50);
  expect((await slow).error.code).toBe('ERR_ABORTED');
  const f = await fast;
  expect(f.status).toBe(200);
  const after = await client.get(h2.url('/echo'));
  expect(after.connection.id).toBe(f.connection.id);
});

test('a stream the server resets fails alone', async () => {
  const s = await startH2({
    onStream: (stream, headers) => {
      if (headers[':path'] === '/reset') {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        return true;
      }
      return false;
    },
  });
  const c = await initCycleTLS({ port: uniquePort() });
  const [bad, good] = await Promise.all([c.get(s.url('/reset')), c.get(s.url('/echo'))]);
  expect(bad.error.code).toBe('ERR_PROTOCOL');
  expect(bad.error.message).toMatch(/HTTP\/2 code 2/);
  expect(good.status).toBe(200);
  await c.exit();
  await s.close();
});

test('forceHTTP1 talks HTTP/1.1 to the same server', async () => {
  const r = await client.get(h2.url('/echo'), { forceHTTP1: true });
  expect(r.protocol).toBe('http/1.1');
  expect(r.data.h1).toBe(true);
});

test('a session the server closes is replaced transparently', async () => {
  const c = await initCycleTLS({ port: uniquePort() });
  const s = await startH2();
  const sessions = [];
  s.server.on('session', (sess) => sessions.push(sess));
  expect((await c.get(s.url('/echo'))).status).toBe(200);
  sessions[0].close(); // graceful GOAWAY
  await new Promise((r) => setTimeout(r, 50));
  expect((await c.get(s.url('/echo'))).status).toBe(200);
  expect(s.stats.sessions).toBe(2);
  await c.exit();
  for (const x of sessions) x.destroy();
  await s.close();
});
