'use strict';
// The engine's own resolver (native/dns) against a local dnsmasq (test/helpers/dnsmasq.js): A, AAAA
// and HTTPS records asked at once and used, answers cached by TTL, NXDOMAIN and a dead or silent name
// server as ERR_DNS with the resolver's reason, `family`, Happy Eyeballs falling back from a dead IPv6
// address to IPv4, and option validation. Everything stays on the loopback interface.
const dgram = require('node:dgram');
const http = require('node:http');
const { WebSocketServer } = require('ws');
const initCycleTLS = require('../..');
const { startDnsmasq, httpsRdata } = require('../helpers/dnsmasq');
const { startServer, uniquePort } = require('../helpers/servers');
const { startEchoServer } = require('../../dist/echo');

let dns;
let v4; // plain HTTP on 127.0.0.1
let v6; // plain HTTP on ::1 only
let client;

function listen(host) {
  const server = http.createServer((req, res) => res.end(`hello from ${host}`));
  return new Promise((resolve) => server.listen(0, host, () => resolve(server)));
}

beforeAll(async () => {
  v4 = await startServer({ tls: false });
  v6 = await listen('::1');
  dns = await startDnsmasq({
    hosts: {
      'both.dns.test': ['127.0.0.1', '::1'],
      'v4.dns.test': ['127.0.0.1'],
      'v6.dns.test': ['::1'],
      'cached.dns.test': ['127.0.0.1'],
      'tls.dns.test': ['127.0.0.1'],
    },
    https: { [`_${v4.port}._https.tls.dns.test`]: httpsRdata({ alpn: ['h3', 'h2'] }) },
    nxdomain: ['missing.dns.test'],
  });
  client = await initCycleTLS({ port: uniquePort(), dnsServers: [dns.address] });
});
afterAll(async () => {
  await client?.exit();
  await dns?.close();
  await v4?.close();
  await new Promise((resolve) => (v6 ? v6.close(resolve) : resolve()));
});

const opts = (extra = {}) => ({ rejectOnError: true, responseType: 'text', ...extra });

async function failure(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

test('a name the engine resolves with the given dnsServers (A record) is connected to', async () => {
  const r = await client.get(`http://v4.dns.test:${v4.port}/echo`, opts());
  expect(r.status).toBe(200);
  expect(await dns.asked('v4.dns.test', 'A')).toBeGreaterThan(0);
  expect(await dns.asked('v4.dns.test', 'AAAA')).toBeGreaterThan(0); // both families, at once
});

test('an AAAA-only name is connected to over IPv6', async () => {
  const r = await client.get(`http://v6.dns.test:${v6.address().port}/`, opts());
  expect(r.data).toBe('hello from ::1');
});

test('an https:// lookup also asks the HTTPS record (type 65) at the port-prefixed name', async () => {
  const tls = await startServer({ tls: true });
  try {
    // The server's certificate is for localhost: the name here is another one.
    const url = `https://tls.dns.test:${tls.port}/echo`;
    const name = `_${tls.port}._https.tls.dns.test`;
    const r = await client.get(url, opts({ insecureSkipVerify: true }));
    expect(r.status).toBe(200);
    expect(await dns.asked(name, 'HTTPS')).toBe(1);
  } finally {
    await tls.close();
  }
});

test('localhost asks no name server, not even for its HTTPS record', async () => {
  const tls = await startServer({ tls: true });
  try {
    const r = await client.get(tls.url('/echo'), opts());
    expect(r.status).toBe(200);
    expect(dns.log()).not.toMatch(/localhost/);
  } finally {
    await tls.close();
  }
});

test('answers are kept for their TTL: a second connection asks nothing', async () => {
  const fresh = await initCycleTLS({ port: uniquePort(), dnsServers: [dns.address] });
  try {
    await fresh.get(`http://cached.dns.test:${v4.port}/echo`, opts());
    const asked = await dns.asked('cached.dns.test', 'A');
    expect(asked).toBe(1);
    v4.dropConnections(); // the next request needs a new connection, and so a name
    await new Promise((resolve) => setTimeout(resolve, 50));
    await fresh.get(`http://cached.dns.test:${v4.port}/echo`, opts());
    // A question the cache should have spared would be in the log by now.
    expect(await dns.asked('cached.dns.test', 'A', { atLeast: asked + 1, timeoutMs: 300 })).toBe(asked);
  } finally {
    await fresh.exit();
  }
});

test('NXDOMAIN rejects with ERR_DNS and says so', async () => {
  const err = await failure(client.get(`http://missing.dns.test:${v4.port}/`, opts()));
  expect(err.code).toBe('ERR_DNS');
  expect(err.message).toMatch(/NXDOMAIN/);
});

test('a name server that never answers: ERR_DNS with "timeout"; one that is not there: refused', async () => {
  const silent = dgram.createSocket('udp4');
  await new Promise((resolve) => silent.bind(0, '127.0.0.1', resolve));
  try {
    const quiet = `127.0.0.1:${silent.address().port}`;
    let err = await failure(client.get(`http://v4.dns.test:${v4.port}/`, opts({ dnsServers: [quiet] })));
    expect(err.code).toBe('ERR_DNS');
    expect(err.message).toMatch(/timeout/);
  } finally {
    silent.close();
  }
  const gone = dgram.createSocket('udp4');
  await new Promise((resolve) => gone.bind(0, '127.0.0.1', resolve));
  const port = gone.address().port;
  await new Promise((resolve) => gone.close(resolve));
  const err = await failure(
    client.get(`http://v4.dns.test:${v4.port}/`, opts({ dnsServers: [`127.0.0.1:${port}`] })),
  );
  expect(err.code).toBe('ERR_DNS');
  expect(err.message).toMatch(/refused|timeout/);
});

test('family 4 and 6 keep to their family', async () => {
  // both.dns.test has 127.0.0.1 and ::1; v4 listens on 127.0.0.1 only, v6 on ::1 only.
  const r4 = await client.get(`http://both.dns.test:${v4.port}/echo`, opts({ family: 4 }));
  expect(r4.status).toBe(200);
  const r6 = await client.get(`http://both.dns.test:${v6.address().port}/`, opts({ family: 6 }));
  expect(r6.data).toBe('hello from ::1');
  // A client of its own: family is not part of a pooled connection's identity (the connection to
  // v6.dns.test from an earlier test would be reused without a lookup).
  const fresh = await initCycleTLS({ port: uniquePort(), dnsServers: [dns.address] });
  try {
    const err = await failure(fresh.get(`http://v6.dns.test:${v6.address().port}/`, opts({ family: 4 })));
    expect(err.code).toBe('ERR_DNS');
  } finally {
    await fresh.exit();
  }
});

test('Happy Eyeballs: IPv6 first, and the IPv4 address when IPv6 has no listener', async () => {
  // A client of its own for each: a pooled connection would be reused without a lookup.
  const fresh = () => initCycleTLS({ port: uniquePort(), dnsServers: [dns.address] });
  // both.dns.test: ::1 (no listener on v4's port) and 127.0.0.1 (v4 listens): the request lands on v4.
  let c = await fresh();
  try {
    const before = v4.stats.requests;
    const r = await c.get(`http://both.dns.test:${v4.port}/echo`, opts({ family: 0 }));
    expect(r.status).toBe(200);
    expect(v4.stats.requests).toBe(before + 1);
  } finally {
    await c.exit();
  }
  // With a listener on both addresses at the same port, IPv6 is tried first and wins.
  const twin = await listen('127.0.0.1');
  const v6twin = http.createServer((req, res) => res.end('hello from ::1'));
  await new Promise((resolve) => v6twin.listen(twin.address().port, '::1', resolve));
  c = await fresh();
  try {
    const r = await c.get(`http://both.dns.test:${twin.address().port}/`, opts());
    expect(r.data).toBe('hello from ::1');
  } finally {
    await c.exit();
    await new Promise((resolve) => twin.close(resolve));
    await new Promise((resolve) => v6twin.close(resolve));
  }
});

// HTTP/3 discovery from the HTTPS record (Chrome's DNS ALPN job): the echo answers HTTP/3 on its TCP
// port's number and sends no Alt-Svc, so only the record can advertise h3.
// `body` gets a client asking that name server, with `clientOptions`.
async function withRecord(alpn, echoOptions, clientOptions, body) {
  const echo = await startEchoServer(echoOptions);
  const name = `h3-${alpn.join('-')}-${echo.port}.dns.test`;
  const records = await startDnsmasq({
    hosts: { [name]: ['127.0.0.1'] },
    https: { [`_${echo.port}._https.${name}`]: httpsRdata({ alpn }) },
  });
  const c = await initCycleTLS({ port: uniquePort(), dnsServers: [records.address], ...clientOptions });
  try {
    await body({ url: `https://${name}:${echo.port}/anything`, echo, c });
  } finally {
    await c.exit();
    await records.close();
    await echo.close();
  }
}
const h3opts = (extra = {}) =>
  opts({ insecureSkipVerify: true, profile: 'chrome_156', responseType: 'json', ...extra });

test("an HTTPS record whose alpn has h3 races QUIC on the origin's first request (http3: 'alt-svc')", async () => {
  await withRecord(['h3', 'h2'], { quic: true }, { http3: 'alt-svc' }, async ({ url, c }) => {
    const first = await c.get(url, h3opts());
    expect(first.status).toBe(200);
    expect(first.protocol).toBe('h3');
    expect(first.connection.protocol).toBe('h3');
    const second = await c.get(url, h3opts());
    expect(second.connection.protocol).toBe('h3');
    expect(second.connection.reused).toBe(true);
  });
});

test('a burst of first requests shares one lookup and rides on the one QUIC connection', async () => {
  await withRecord(['h3'], { quic: true }, { http3: 'alt-svc' }, async ({ url, c }) => {
    const all = await Promise.all([1, 2, 3, 4].map(() => c.get(url, h3opts())));
    for (const r of all) expect(r.connection.protocol).toBe('h3');
    expect(new Set(all.map((r) => r.connection.id)).size).toBe(1);
  });
});

test("with http3 'off' (the default) the record's h3 sends nothing over QUIC", async () => {
  await withRecord(['h3', 'h2'], { quic: true }, {}, async ({ url, c }) => {
    for (let i = 0; i < 2; i++) {
      const r = await c.get(url, h3opts());
      expect(r.connection.protocol).toBe('h2');
    }
  });
});

test('an HTTPS record without h3 in its alpn changes nothing in alt-svc mode', async () => {
  await withRecord(['h2'], { quic: true }, { http3: 'alt-svc' }, async ({ url, c }) => {
    for (let i = 0; i < 2; i++) {
      const r = await c.get(url, h3opts({ maxRequestsPerConnection: 1 }));
      expect(r.connection.protocol).toBe('h2');
    }
  });
});

test('the QUIC side unreachable (UDP port closed): the first request goes over TCP at once, so do later ones', async () => {
  await withRecord(['h3', 'h2'], {}, { http3: 'alt-svc' }, async ({ url, c }) => {
    const started = Date.now();
    const first = await c.get(url, h3opts({ maxRequestsPerConnection: 1 }));
    expect(first.connection.protocol).toBe('h2');
    expect(Date.now() - started).toBeLessThan(1000); // well before QUIC's 1.5 s handshake budget
    for (let i = 0; i < 2; i++) {
      const r = await c.get(url, h3opts({ maxRequestsPerConnection: 1 }));
      expect(r.connection.protocol).toBe('h2');
      expect(r.connection.reused).toBe(false);
    }
  });
});

test('UDP dropped: the first request goes over TCP after the head start; the origin is marked broken for h3', async () => {
  await withRecord(['h3', 'h2'], {}, { http3: 'alt-svc' }, async ({ url, echo, c }) => {
    // A UDP socket on the origin's port that reads and never answers: every QUIC attempt is seen.
    const silent = dgram.createSocket('udp4');
    let datagrams = 0;
    silent.on('message', () => datagrams++);
    await new Promise((resolve) => silent.bind(echo.port, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const first = await c.get(url, h3opts({ maxRequestsPerConnection: 1 }));
      expect(first.connection.protocol).toBe('h2');
      expect(Date.now() - started).toBeLessThan(1400); // the 300 ms head start, not the whole budget
      expect(datagrams).toBeGreaterThan(0);
      // The abandoned handshake gives up within its 1.5 s budget and marks the alternative broken.
      await new Promise((resolve) => setTimeout(resolve, 1800));
      const seen = datagrams;
      for (let i = 0; i < 2; i++) {
        const r = await c.get(url, h3opts({ maxRequestsPerConnection: 1 }));
        expect(r.connection.protocol).toBe('h2');
      }
      expect(datagrams).toBe(seen);
    } finally {
      silent.close();
    }
  });
});

test("a WebSocket's name is resolved with the client's dnsServers too", async () => {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket) => socket.on('message', (m) => socket.send(`echo ${m}`)));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const ws = await client.ws(`ws://v4.dns.test:${server.address().port}/`);
    expect(ws.status).toBe(101); // not cycletls's 421 for a name that did not resolve
    const reply = new Promise((resolve) => ws.onMessage((m) => resolve(String(m.data ?? m))));
    ws.send('hi');
    expect(await reply).toMatch(/echo hi/);
    ws.close();
  } finally {
    wss.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('dnsServers and family are validated', async () => {
  const bad = [
    [{ dnsServers: '127.0.0.1' }, 'ERR_INVALID_OPTION'],
    [{ dnsServers: [] }, 'ERR_INVALID_OPTION'],
    [{ dnsServers: ['dns.example'] }, 'ERR_INVALID_OPTION'],
    [{ dnsServers: ['127.0.0.1:99999'] }, 'ERR_INVALID_OPTION'],
    [{ dnsServers: Array(9).fill('127.0.0.1') }, 'ERR_INVALID_OPTION'],
    [{ family: 5 }, 'ERR_INVALID_OPTION'],
  ];
  for (const [extra, code] of bad) {
    const err = await failure(client.get(`http://v4.dns.test:${v4.port}/`, opts(extra)));
    expect([JSON.stringify(extra), err.code]).toEqual([JSON.stringify(extra), code]);
  }
  // initCycleTLS's defaults are held to the same rules.
  await expect(initCycleTLS({ port: uniquePort(), dnsServers: '127.0.0.1' })).rejects.toMatchObject({
    code: 'ERR_INVALID_OPTION',
  });
  await expect(initCycleTLS({ port: uniquePort(), family: 'ipv4' })).rejects.toMatchObject({
    code: 'ERR_INVALID_OPTION',
  });
  // Every accepted spelling: ip, ip:port, v6, [v6]:port.
  const r = await client.get(
    `http://v4.dns.test:${v4.port}/echo`,
    opts({ dnsServers: [dns.address, '127.0.0.1', '::1', '[::1]:53'] }),
  );
  expect(r.status).toBe(200);
});
