'use strict';
// HTTP/3 end to end through the one engine: Debian's caddy (quic-go) serving h3 on 127.0.0.1 as a
// reverse proxy in front of our own backend (test/helpers/caddy-h3.js). forceHTTP3 / protocol
// 'http3' / http3 'force' with the presets that have a QUIC fingerprint, bodies both ways, streams,
// abort, deadlines, the pool (one QUIC connection for many requests), refusals, and alt-svc mode
// (discovery over TCP, then QUIC; TCP again when the UDP port is closed).
const dgram = require('node:dgram');
const initCycleTLS = require('../..');
const { patternBytes, startServer, uniquePort } = require('../helpers/servers');
const { startCaddyH3 } = require('../helpers/caddy-h3');

let backend;
let caddy;
let client;

beforeAll(async () => {
  backend = await startServer({ tls: false });
  caddy = await startCaddyH3({ backendPort: backend.port });
  client = await initCycleTLS({ port: uniquePort() });
});

afterAll(async () => {
  await client?.exit();
  await caddy?.close();
  await backend?.close();
});

const echo = (res) => res.json();

describe('forceHTTP3', () => {
  test.each([['chrome_156'], ['firefox_153'], ['edge_156']])('GET with %s goes over h3', async (profile) => {
    const res = await client.get(`${caddy.url}/echo`, { profile, forceHTTP3: true, responseType: 'json' });
    expect(res.status).toBe(200);
    expect(res.protocol).toBe('h3');
    expect(res.connection.protocol).toBe('h3');
    expect(res.httpVersion).toBe('3.0');
    expect(res.tls.version).toBe('TLSv1.3');
    const seen = res.data;
    expect(seen.method).toBe('GET');
    // The preset's h2 header list goes out over h3 (caddy passes it on to the backend).
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names).toContain('user-agent');
    expect(names).toContain('accept-language');
  });

  test("protocol 'http3' and http3 'force' are the same as forceHTTP3", async () => {
    for (const opts of [{ protocol: 'http3' }, { http3: 'force' }]) {
      const res = await client.get(`${caddy.url}/text`, {
        profile: 'chrome_156',
        ...opts,
        responseType: 'text',
      });
      expect(res.protocol).toBe('h3');
      expect(res.data).toBe('héllo wörld');
    }
  });

  test('POST with a body, and a streamed upload', async () => {
    const body = patternBytes(300_000, 7);
    const res = await client.post(`${caddy.url}/echo`, { body, profile: 'chrome_156', forceHTTP3: true });
    expect(res.protocol).toBe('h3');
    const seen = await echo(res);
    expect(seen.bodyLength).toBe(body.length);
    expect(Buffer.from(seen.body, 'base64').equals(body)).toBe(true);

    async function* pieces() {
      for (let i = 0; i < 5; i++) yield patternBytes(50_000, i);
    }
    // With its length declared: caddy 2.6.2 (quic-go) takes an h3 request without Content-Length
    // for an empty one, whatever DATA follows.
    const streamed = await client.post(`${caddy.url}/echo`, {
      body: pieces(),
      headers: { 'content-length': '250000' },
      profile: 'firefox_153',
      forceHTTP3: true,
    });
    const seen2 = await echo(streamed);
    expect(streamed.protocol).toBe('h3');
    expect(seen2.bodyLength).toBe(250_000);
  });

  test('a streamed response arrives whole, with back-pressure', async () => {
    const n = 8 * 1024 * 1024;
    const res = await client.get(`${caddy.url}/bytes?n=${n}&seed=3`, {
      profile: 'chrome_156',
      forceHTTP3: true,
      responseType: 'stream',
    });
    expect(res.protocol).toBe('h3');
    const chunks = [];
    for await (const c of res.data) {
      chunks.push(c);
      // A slow consumer: the engine stops reading ahead (the QUIC window is held back).
      if (chunks.length % 8 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(Buffer.concat(chunks).equals(patternBytes(n, 3))).toBe(true);
  });

  test('maxRequestsPerConnection rotates QUIC connections too; identities never share one (issue #19)', async () => {
    const own = await initCycleTLS({ port: uniquePort() });
    try {
      const h3 = { profile: 'chrome_156', forceHTTP3: true, responseType: 'text' };
      const ids = [];
      for (let i = 0; i < 5; i++) {
        const r = await own.get(`${caddy.url}/text`, { ...h3, maxRequestsPerConnection: 2 });
        expect(r.protocol).toBe('h3');
        ids.push(r.connection.id);
      }
      expect(ids[1]).toBe(ids[0]);
      expect(ids[3]).toBe(ids[2]);
      expect(new Set(ids).size).toBe(3);
      const alice = await own.get(`${caddy.url}/text`, { ...h3, identity: 'alice' });
      const bob = await own.get(`${caddy.url}/text`, { ...h3, identity: 'bob' });
      const alice2 = await own.get(`${caddy.url}/text`, { ...h3, identity: 'alice' });
      expect(alice2.connection.id).toBe(alice.connection.id);
      expect(bob.connection.id).not.toBe(alice.connection.id);
    } finally {
      await own.exit();
    }
  });

  test('many requests share one QUIC connection (streams multiplexed)', async () => {
    const own = await initCycleTLS({ port: uniquePort() });
    try {
      const first = await own.get(`${caddy.url}/echo`, { profile: 'chrome_156', forceHTTP3: true });
      const rest = await Promise.all(
        Array.from({ length: 20 }, () =>
          own.get(`${caddy.url}/delay?ms=20`, {
            profile: 'chrome_156',
            forceHTTP3: true,
            responseType: 'text',
          }),
        ),
      );
      const ids = new Set(rest.map((r) => r.connection.id));
      expect(ids).toEqual(new Set([first.connection.id]));
      expect(rest.every((r) => r.protocol === 'h3' && r.connection.reused)).toBe(true);
      const h3 = own.stats().origins.filter((o) => / h3$/.test(o.key));
      expect(h3).toHaveLength(1);
      expect(h3[0].open).toBe(1);
    } finally {
      await own.exit();
    }
  });

  test('abort settles with ERR_ABORTED and the connection goes on', async () => {
    const ac = new AbortController();
    const p = client.get(`${caddy.url}/stall`, {
      profile: 'chrome_156',
      forceHTTP3: true,
      signal: ac.signal,
      rejectOnError: true,
    });
    setTimeout(() => ac.abort(), 100);
    await expect(p).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const after = await client.get(`${caddy.url}/text`, {
      profile: 'chrome_156',
      forceHTTP3: true,
      responseType: 'text',
    });
    expect(after.data).toBe('héllo wörld');
  });

  test('the headers deadline and the body idle deadline', async () => {
    await expect(
      client.get(`${caddy.url}/stall`, {
        profile: 'chrome_156',
        forceHTTP3: true,
        headersTimeout: 0.3,
        rejectOnError: true,
      }),
    ).rejects.toMatchObject({ code: 'ERR_TIMEOUT', stage: 'headers' });
    await expect(
      client.get(`${caddy.url}/stall-body`, {
        profile: 'chrome_156',
        forceHTTP3: true,
        bodyIdleTimeout: 0.3,
        rejectOnError: true,
      }),
    ).rejects.toMatchObject({ code: 'ERR_TIMEOUT', stage: 'body' });
  });

  test('a redirect from h3 to a TCP-only origin switches protocol', async () => {
    const tcpOnly = await startServer();
    try {
      const res = await client.get(
        `${caddy.url}/redirect-to?url=${encodeURIComponent(tcpOnly.url('/echo'))}`,
        { profile: 'chrome_156', http3: 'alt-svc' },
      );
      expect(res.status).toBe(200);
      expect(res.protocol).not.toBe('h3');
    } finally {
      await tcpOnly.close();
    }
  });
});

test("a caller's lookup answer is what QUIC dials (issue #19's lookup over h3)", async () => {
  const asked = [];
  const lookup = (hostname, options, callback) => {
    asked.push(hostname);
    callback(null, [{ address: '127.0.0.1', family: 4 }]);
  };
  // A name only the lookup knows; caddy's site is localhost (its certificate and its Host).
  const { port } = new URL(caddy.url);
  const res = await client.get(`https://h3-lookup.test:${port}/text`, {
    profile: 'chrome_156',
    http3: 'force',
    lookup,
    serverName: 'localhost',
    headers: { host: `localhost:${port}` },
    responseType: 'text',
  });
  expect([res.status, res.protocol, res.data, asked]).toEqual([200, 'h3', 'héllo wörld', ['h3-lookup.test']]);
});

describe('refusals', () => {
  test('a preset without a QUIC fingerprint → ERR_UNSUPPORTED_FINGERPRINT', async () => {
    await expect(
      client.get(`${caddy.url}/echo`, { profile: 'safari_18', forceHTTP3: true, rejectOnError: true }),
    ).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_FINGERPRINT' });
  });

  test('forceHTTP3 through an HTTP proxy or SOCKS5 → ERR_INVALID_OPTION naming why', async () => {
    await expect(
      client.get(`${caddy.url}/echo`, {
        profile: 'chrome_156',
        forceHTTP3: true,
        proxy: 'http://127.0.0.1:1',
        rejectOnError: true,
      }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/HTTP proxy/) });
    await expect(
      client.get(`${caddy.url}/echo`, {
        profile: 'chrome_156',
        forceHTTP3: true,
        proxy: 'socks5://127.0.0.1:1',
        rejectOnError: true,
      }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/UDP ASSOCIATE/) });
  });

  test('forceHTTP3 to a closed UDP port fails with a code (no fallback)', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise((r) => sock.bind(0, '127.0.0.1', r));
    const port = sock.address().port;
    sock.close();
    await expect(
      client.get(`https://localhost:${port}/`, {
        profile: 'chrome_156',
        forceHTTP3: true,
        rejectOnError: true,
      }),
    ).rejects.toMatchObject({ code: 'ERR_CONNECT_REFUSED', stage: 'connect' });
  });
});

describe("http3: 'alt-svc'", () => {
  test('the first request goes over TCP and learns Alt-Svc; then QUIC wins the race', async () => {
    const own = await initCycleTLS({ port: uniquePort(), http3: 'alt-svc' });
    try {
      const first = await own.get(`${caddy.url}/echo`, { profile: 'chrome_156' });
      expect(first.protocol).toBe('h2');
      expect(first.headers['Alt-Svc'].join()).toMatch(/h3=/);
      // The next request races QUIC against TCP: on loopback the QUIC handshake wins well within its
      // 300 ms head start, but a loaded machine may let TCP win once; the QUIC connection is then
      // there for the request after.
      let second;
      for (let i = 0; i < 3 && second?.protocol !== 'h3'; i++) {
        second = await own.get(`${caddy.url}/echo`, { profile: 'chrome_156' });
        expect(second.status).toBe(200);
      }
      expect(second.protocol).toBe('h3');
      // Requests that say 'off' stay on TCP.
      const off = await own.get(`${caddy.url}/echo`, { profile: 'chrome_156', http3: 'off' });
      expect(off.protocol).toBe('h2');
    } finally {
      await own.exit();
    }
  });

  test('Alt-Svc learnt by one identity is never used by another (issue #19)', async () => {
    const own = await initCycleTLS({ port: uniquePort(), http3: 'alt-svc' });
    try {
      const alice = { profile: 'chrome_156', identity: 'alice' };
      expect((await own.get(`${caddy.url}/echo`, alice)).protocol).toBe('h2');
      let again;
      for (let i = 0; i < 3 && again?.protocol !== 'h3'; i++)
        again = await own.get(`${caddy.url}/echo`, alice);
      expect(again.protocol).toBe('h3');
      // bob (and the default identity) learnt nothing: TCP, with no QUIC attempt to race.
      const bob = await own.get(`${caddy.url}/echo`, { profile: 'chrome_156', identity: 'bob' });
      expect(bob.protocol).toBe('h2');
      const plain = await own.get(`${caddy.url}/echo`, { profile: 'chrome_156' });
      expect(plain.protocol).toBe('h2');
      expect(own.stats().engine.identities.map((i) => i.identity)).toEqual(['alice', 'bob']);
    } finally {
      await own.exit();
    }
  });

  test('an advertised h3 port that does not answer: TCP, silently, and the alternative backs off', async () => {
    const tcp = await startServer({
      handler: (req, res) => {
        // An h3 alternative on a UDP port nobody listens on.
        res.setHeader('Alt-Svc', `h3=":${closedUdp}"; ma=3600`);
        res.end('over tcp');
      },
    });
    const sock = dgram.createSocket('udp4');
    await new Promise((r) => sock.bind(0, '127.0.0.1', r));
    const closedUdp = sock.address().port;
    sock.close();
    const own = await initCycleTLS({ port: uniquePort(), http3: 'alt-svc' });
    try {
      const first = await own.get(tcp.url('/x'), { profile: 'chrome_156', responseType: 'text' });
      expect(first.data).toBe('over tcp');
      const second = await own.get(tcp.url('/x'), { profile: 'chrome_156', responseType: 'text' });
      expect(second.status).toBe(200);
      expect(second.data).toBe('over tcp');
      expect(second.protocol).not.toBe('h3');
    } finally {
      await own.exit();
      await tcp.close();
    }
  });
});

test('alt-svc: an h3 alternative that swallows UDP silently loses the race; TCP serves', async () => {
  const silent = dgram.createSocket('udp4');
  await new Promise((r) => silent.bind(0, '127.0.0.1', r)); // reads nothing, answers nothing
  const tcp = await startServer({
    handler: (req, res) => {
      res.setHeader('Alt-Svc', `h3=":${silent.address().port}"; ma=3600`);
      res.end('over tcp');
    },
  });
  const own = await initCycleTLS({ port: uniquePort(), http3: 'alt-svc' });
  try {
    for (let i = 0; i < 3; i++) {
      const res = await own.get(tcp.url('/x'), { profile: 'firefox_153', responseType: 'text' });
      expect(res.data).toBe('over tcp');
      expect(res.protocol).not.toBe('h3');
    }
  } finally {
    await own.exit();
    await tcp.close();
    silent.close();
  }
});

describe('hostile HTTP/3 servers settle with codes', () => {
  let hostile;
  let hostileBackend;
  beforeAll(async () => {
    hostileBackend = await startServer({
      tls: false,
      handler: (req, res) => {
        if (req.url === '/dies-mid-body') {
          // Half the promised body, then the backend's connection dies: caddy ends the h3 stream short.
          res.writeHead(200, { 'Content-Length': '100000' });
          res.write(Buffer.alloc(30000, 7), () => setTimeout(() => req.socket.destroy(), 50));
          return;
        }
        if (req.url === '/trickle') {
          // A body that keeps coming, a little at a time, until the client goes away.
          res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
          const timer = setInterval(() => res.write(Buffer.alloc(100, 1)), 20);
          res.on('close', () => clearInterval(timer));
          return;
        }
        res.end('fine');
      },
    });
    hostile = await startCaddyH3({
      backendPort: hostileBackend.port,
      extra: ['  header /huge X-Huge ' + 'h'.repeat(300000), '  respond /huge "never seen" 200'].join('\n'),
    });
  });
  afterAll(async () => {
    await hostile?.close();
    await hostileBackend?.close();
  });
  const h3get = (path, extra = {}) =>
    client.get(`${hostile.url}${path}`, {
      profile: 'chrome_156',
      forceHTTP3: true,
      responseType: 'text',
      rejectOnError: true,
      ...extra,
    });

  test('the connection to the origin dies mid-body → ERR_BODY_TRUNCATED', async () => {
    await expect(h3get('/dies-mid-body')).rejects.toMatchObject({
      code: 'ERR_BODY_TRUNCATED',
      stage: 'body',
    });
  });

  test('a header section beyond the limit (QPACK) → ERR_PROTOCOL, and a new connection works', async () => {
    await expect(h3get('/huge')).rejects.toMatchObject({ code: 'ERR_PROTOCOL' });
    expect((await h3get('/ok')).data).toBe('fine');
  });

  test('a server that stops answering mid-body (its process stopped) → ERR_TIMEOUT (body)', async () => {
    const pending = h3get('/trickle', { bodyIdleTimeout: 0.5 });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(hostile.pid, 'SIGSTOP');
    try {
      await expect(pending).rejects.toMatchObject({ code: 'ERR_TIMEOUT', stage: 'body' });
    } finally {
      process.kill(hostile.pid, 'SIGCONT');
    }
  });
});
