'use strict';
// The caller's DNS (issue #19): a Node-style `lookup` function and DNS over HTTPS through our own
// engine. Real parts on 127.0.0.1: an HTTPS echo server reached under made-up names, a DoH server
// (Node https, RFC 8484 GET ?dns=, answers encoded with dns-packet) counting its queries.
const https = require('node:https');

const dnsPacket = require('dns-packet');
const rcodes = require('dns-packet/rcodes');
const initCycleTLS = require('../..');
const { certPair, closedPort, startServer, uniquePort } = require('../helpers/servers');
const { recordSpecs } = require('../helpers/spec-recorder');
const { startEchoServer } = require('../../dist/echo');

const TYPE_HTTPS = 'UNKNOWN_65';
// An ECHConfigList's bytes as the HTTPS record carries them (opaque to lib: passed on as they are).
const ECH_CONFIG = Buffer.from('0045fe0d0041aa00200020' + '11'.repeat(32) + '0004000100010012', 'hex');

/** An HTTPS record's RDATA (RFC 9460): priority, target ".", then SvcParams in key order. */
function httpsRdata({ priority = 1, alpn = [], ech } = {}) {
  const params = [];
  const param = (key, value) => {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(key, 0);
    head.writeUInt16BE(value.length, 2);
    params.push(head, value);
  };
  if (alpn.length)
    param(1, Buffer.concat(alpn.map((id) => Buffer.concat([Buffer.from([id.length]), Buffer.from(id)]))));
  if (ech) param(5, ech);
  const prio = Buffer.alloc(2);
  prio.writeUInt16BE(priority, 0);
  return Buffer.concat([prio, Buffer.from([0]), ...params]);
}

/**
 * A DoH server: `zone` maps a name to { A, AAAA, HTTPS, ttl } or { rcode } or { status } (an HTTP
 * error). Counts queries per "TYPE name" and keeps each query's request headers.
 */
async function startDohServer(zone) {
  const queries = new Map();
  const requests = [];
  const server = https.createServer(certPair('server'), (req, res) => {
    const url = new URL(req.url, 'https://x');
    requests.push({
      method: req.method,
      path: url.pathname,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
    });
    const query = dnsPacket.decode(Buffer.from(url.searchParams.get('dns') ?? '', 'base64url'));
    const [q] = query.questions;
    const type = q.type === TYPE_HTTPS ? 'HTTPS' : q.type;
    const key = `${type} ${q.name}`;
    queries.set(key, (queries.get(key) ?? 0) + 1);
    const entry = zone[q.name];
    if (entry?.status) {
      res.statusCode = entry.status;
      res.end('no');
      return;
    }
    const ttl = entry?.ttl ?? 300;
    const answers = [];
    if (entry && !entry.rcode) {
      for (const data of (type === 'A' ? entry.A : type === 'AAAA' ? entry.AAAA : []) ?? [])
        answers.push({ type, name: q.name, ttl, data });
      if (type === 'HTTPS' && entry.HTTPS)
        answers.push({ type: TYPE_HTTPS, name: q.name, ttl, data: entry.HTTPS });
    }
    const rcode = entry ? (entry.rcode ?? 'NOERROR') : 'NXDOMAIN';
    // dns-packet reads the RCODE from the flags' low 4 bits (its encoder takes no `rcode`).
    const flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcodes.toRcode(rcode);
    res.setHeader('content-type', 'application/dns-message');
    res.end(dnsPacket.encode({ type: 'response', id: query.id, flags, questions: query.questions, answers }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `https://localhost:${port}/dns-query`,
    queries,
    requests,
    count: (name) => ['A', 'AAAA', 'HTTPS'].reduce((n, t) => n + (queries.get(`${t} ${name}`) ?? 0), 0),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** The local address a request to https://<name>:<port>/ reached, on a server listening on ::1 only. */
async function addressReached(c, name) {
  const v6 = https.createServer(certPair('server'), (req, res) => res.end(req.socket.localAddress));
  await new Promise((resolve) => v6.listen(0, '::1', resolve));
  try {
    const url = `https://${name}:${v6.address().port}/`;
    return (await c.get(url, { insecureSkipVerify: true, responseType: 'text' })).data;
  } finally {
    await new Promise((resolve) => v6.close(resolve));
  }
}

let site;
let doh;
let client;
beforeAll(async () => {
  site = await startServer();
  doh = await startDohServer({
    'site.test': { A: ['127.0.0.1'], HTTPS: httpsRdata({ alpn: ['h2'] }) },
    'short.test': { A: ['127.0.0.1'], ttl: 0 },
    'nx.test': { rcode: 'NXDOMAIN' },
    'broken.test': { rcode: 'SERVFAIL' },
    'http500.test': { status: 500 },
    'v6.test': { AAAA: ['::1'] },
    'ech.test': {
      A: ['127.0.0.1'],
      AAAA: ['::1'],
      HTTPS: httpsRdata({ alpn: ['h3', 'h2'], ech: ECH_CONFIG }),
    },
  });
  client = await initCycleTLS({ port: uniquePort(), dnsOverHttps: doh.url });
});
afterAll(async () => {
  await client.exit();
  await site.close();
  await doh.close();
});

const siteUrl = (name, path = '/echo') => `https://${name}:${site.port}${path}`;
const header = (raw, name) => raw[raw.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === name) + 1];

describe('dnsOverHttps', () => {
  test('a made-up name reaches the server through the DoH answer; SNI and Host are the name', async () => {
    const r = await client.get(siteUrl('site.test'), { insecureSkipVerify: true });
    expect(r.status).toBe(200);
    expect(r.data.tls.servername).toBe('site.test');
    expect(header(r.data.rawHeaders, 'host')).toBe(`site.test:${site.port}`);
    expect(['A', 'AAAA', 'HTTPS'].map((t) => doh.queries.get(`${t} site.test`))).toEqual([1, 1, 1]);
  });

  test("the DoH queries go as the request's browser sends them: GET ?dns=, its User-Agent", async () => {
    const r = await client.get(siteUrl('site.test'), { insecureSkipVerify: true });
    const query = doh.requests.find((q) => q.path === '/dns-query');
    expect(query.method).toBe('GET');
    expect(query.headers.accept).toBe('application/dns-message');
    expect(query.headers['user-agent']).toBe(header(r.data.rawHeaders, 'user-agent'));
    expect(query.headers.cookie).toBeUndefined();
  });

  test("the DoH request carries the request's preset fingerprint (seen by the echo server)", async () => {
    // The echo server as the DoH server: it answers JSON (so the lookup fails), but records the
    // DoH request's ClientHello and HTTP/2 first flight, held against the same preset's own request.
    const records = [];
    const echo = await startEchoServer({ ...certPair('server'), onRecord: (r) => records.push(r) });
    const c = await initCycleTLS({ port: uniquePort() });
    try {
      const dohUrl = `https://localhost:${echo.port}/dns-query`;
      const r = await c.get(siteUrl('site.test'), { profile: 'firefox_153', dnsOverHttps: dohUrl });
      expect(r.error.code).toBe('ERR_DNS');
      expect(r.error.message).toMatch(/not application\/dns-message/);
      const direct = (await c.get(`https://localhost:${echo.port}/direct`, { profile: 'firefox_153' })).data;
      const query = records.find((x) => x.path?.startsWith('/dns-query?dns='));
      expect(query.ja4).toBe(direct.ja4);
      expect(query.http2.akamai_fingerprint).toBe(direct.http2.akamai_fingerprint);
      expect(query.user_agent).toBe(direct.user_agent);
      expect(query.headers.find(([n]) => n === 'accept')[1]).toBe('application/dns-message');
    } finally {
      await c.exit();
      await echo.close();
    }
  });

  test("an HTTPS record with h3 in the DoH answer races QUIC on the first request (http3: 'alt-svc')", async () => {
    const echo = await startEchoServer({ quic: true }); // HTTP/3 on its TCP port's number, no Alt-Svc
    const own = await startDohServer({
      'h3.test': { A: ['127.0.0.1'], HTTPS: httpsRdata({ alpn: ['h3', 'h2'] }) },
    });
    const c = await initCycleTLS({ port: uniquePort(), dnsOverHttps: own.url, http3: 'alt-svc' });
    const o = { insecureSkipVerify: true, profile: 'chrome_156', responseType: 'json' };
    try {
      const first = await c.get(`https://h3.test:${echo.port}/anything`, o);
      expect(first.status).toBe(200);
      expect(first.connection.protocol).toBe('h3');
      const off = await c.get(`https://h3.test:${echo.port}/anything`, { ...o, http3: 'off' });
      expect(off.connection.protocol).toBe('h2');
    } finally {
      await c.exit();
      await own.close();
      await echo.close();
    }
  });

  test('the certificate is checked against the name, not the address', async () => {
    const r = await client.get(siteUrl('site.test'));
    expect(r.status).toBe(495);
    expect(r.error.code).toBe('ERR_TLS_CERT');
  });

  test('answers are cached for their TTL; a TTL of 0 is asked again', async () => {
    await client.get(siteUrl('site.test'), { insecureSkipVerify: true });
    const before = doh.count('site.test');
    await client.get(siteUrl('site.test', '/echo/again'), { insecureSkipVerify: true });
    expect(doh.count('site.test')).toBe(before);
    await client.get(siteUrl('short.test'), { insecureSkipVerify: true });
    await client.get(siteUrl('short.test'), { insecureSkipVerify: true });
    expect(doh.count('short.test')).toBe(6);
  });

  test('concurrent requests for one name share one set of queries', async () => {
    const fresh = await startDohServer({ 'site.test': { A: ['127.0.0.1'] } });
    const c = await initCycleTLS({ port: uniquePort(), dnsOverHttps: fresh.url });
    try {
      const rs = await Promise.all(
        [1, 2, 3, 4].map(() => c.get(siteUrl('site.test'), { insecureSkipVerify: true })),
      );
      expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(fresh.count('site.test')).toBe(3);
    } finally {
      await c.exit();
      await fresh.close();
    }
  });

  test.each([
    ['nx.test', /NXDOMAIN/],
    ['broken.test', /SERVFAIL/],
    ['http500.test', /HTTP 500/],
  ])("%s → ERR_DNS with the server's reason", async (name, why) => {
    const r = await client.get(siteUrl(name), { insecureSkipVerify: true });
    expect(r.error.code).toBe('ERR_DNS');
    expect(r.error.stage).toBe('dns');
    expect(r.error.message).toMatch(why);
  });

  test('a DoH server that is down → ERR_DNS naming why', async () => {
    const c = await initCycleTLS({
      port: uniquePort(),
      dnsOverHttps: `https://localhost:${await closedPort()}/q`,
    });
    try {
      const r = await c.get(siteUrl('site.test'), { insecureSkipVerify: true });
      expect(r.error.code).toBe('ERR_DNS');
      expect(r.error.message).toMatch(/refused/i);
    } finally {
      await c.exit();
    }
  });

  test('an AAAA answer is dialled over IPv6', async () => {
    expect(await addressReached(client, 'v6.test')).toBe('::1');
  });

  test('a request-level dnsOverHttps; IP literals and proxies are not resolved', async () => {
    const plain = await initCycleTLS({ port: uniquePort() });
    try {
      const r = await plain.get(siteUrl('site.test'), { insecureSkipVerify: true, dnsOverHttps: doh.url });
      expect(r.status).toBe(200);
      const before = doh.requests.length;
      const literal = await client.get(`https://127.0.0.1:${site.port}/echo`);
      expect(literal.status).toBe(200);
      expect(doh.requests.length).toBe(before);
    } finally {
      await plain.exit();
    }
  });
});

describe("the answer in the engine's spec", () => {
  let recorder;
  let sent;
  let spied;
  beforeAll(async () => {
    recorder = recordSpecs();
    sent = recorder.sent;
    spied = await initCycleTLS({ port: uniquePort(), shareAcrossProcesses: false, dnsOverHttps: doh.url });
  });
  afterAll(async () => {
    recorder.restore();
    await spied.exit();
  });

  test("the HTTPS record's ECH config and ALPN travel with the addresses", async () => {
    // (Whether the engine then sends a real ECH is the ECH part's business: only the spec is held here.)
    await spied.get(siteUrl('ech.test'), { insecureSkipVerify: true });
    const spec = sent.find((x) => x.host === 'ech.test');
    expect(spec.dnsAddresses).toEqual(['::1', '127.0.0.1']);
    expect(spec.dnsEchConfig).toBe(ECH_CONFIG.toString('hex'));
    expect(spec.dnsAlpn).toEqual(['h3', 'h2']);
    // The DoH queries themselves carry no answer: the engine resolved the DoH server's name.
    expect(sent.filter((x) => x.host === 'localhost').every((x) => x.dnsAddresses === undefined)).toBe(true);
  });

  test('a lookup answer travels as addresses only; through a proxy nothing is resolved', async () => {
    let called = 0;
    const lookup = (h, o, cb) => {
      called++;
      cb(null, [{ address: '127.0.0.1', family: 4 }]);
    };
    await spied.get(siteUrl('looked.test'), { insecureSkipVerify: true, lookup });
    const spec = sent.find((x) => x.host === 'looked.test');
    expect([spec.dnsAddresses, spec.dnsEchConfig, spec.dnsAlpn]).toEqual([
      ['127.0.0.1'],
      undefined,
      undefined,
    ]);
    await spied.get(siteUrl('proxied.test'), { lookup, proxy: `http://127.0.0.1:${await closedPort()}` });
    expect(called).toBe(1);
    expect(sent.find((x) => x.host === 'proxied.test').dnsAddresses).toBeUndefined();
  });
});

describe('lookup', () => {
  let plain;
  beforeAll(async () => {
    plain = await initCycleTLS({ port: uniquePort() });
  });
  afterAll(() => plain.exit());

  test('a custom mapping: called with (hostname, { family, all: true }); both answer shapes', async () => {
    const calls = [];
    const lookup = (hostname, options, callback) => {
      calls.push([hostname, options]);
      callback(null, [{ address: '127.0.0.1', family: 4 }]);
    };
    const r = await plain.get(siteUrl('mapped.test'), { insecureSkipVerify: true, lookup });
    expect(r.status).toBe(200);
    expect(r.data.tls.servername).toBe('mapped.test');
    expect(calls).toEqual([['mapped.test', { family: 0, all: true }]]);
    const single = await plain.get(siteUrl('single.test'), {
      insecureSkipVerify: true,
      lookup: (h, o, cb) => cb(null, '127.0.0.1', 4),
    });
    expect(single.status).toBe(200);
  });

  test('an init-level lookup; an IPv6 answer', async () => {
    const c = await initCycleTLS({
      port: uniquePort(),
      lookup: (h, o, cb) => setImmediate(() => cb(null, [{ address: '::1', family: 6 }])),
    });
    try {
      expect(await addressReached(c, 'six.test')).toBe('::1');
    } finally {
      await c.exit();
    }
  });

  test.each([
    [
      'an error',
      (h, o, cb) => cb(Object.assign(new Error('no such host here'), { code: 'ENOTFOUND' })),
      /no such host here \(ENOTFOUND\)/,
    ],
    [
      'a throw',
      () => {
        throw new Error('lookup exploded');
      },
      /lookup exploded/,
    ],
    ['a bad address', (h, o, cb) => cb(null, [{ address: 'not-an-ip', family: 4 }]), /not an IP address/],
    ['a wrong family', (h, o, cb) => cb(null, '127.0.0.1', 6), /not an IP address/],
    ['no address', (h, o, cb) => cb(null, []), /no address/],
  ])('%s → ERR_DNS with its message', async (_, lookup, why) => {
    const r = await plain.get(siteUrl('bad.test'), { insecureSkipVerify: true, lookup });
    expect(r.status).toBe(421);
    expect(r.error.code).toBe('ERR_DNS');
    expect(r.error.stage).toBe('dns');
    expect(r.error.message).toMatch(why);
  });

  test('a lookup that never calls back fails at the connect timeout', async () => {
    const r = await plain.get(siteUrl('silent.test'), { connectTimeout: 1, lookup: () => {} });
    expect(r.error.code).toBe('ERR_CONNECT_TIMEOUT');
    expect(r.error.stage).toBe('dns');
  });

  test('an abort while the lookup runs settles the request then', async () => {
    const controller = new AbortController();
    const lookup = () => setImmediate(() => controller.abort());
    await expect(
      plain.get(siteUrl('slow.test'), {
        lookup,
        timeout: 120,
        signal: controller.signal,
        rejectOnError: true,
      }),
    ).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  test('lookup and dnsOverHttps together are refused', async () => {
    await expect(
      plain.get(siteUrl('x.test'), { lookup: (h, o, cb) => cb(null, '127.0.0.1', 4), dnsOverHttps: doh.url }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(
      plain.get(siteUrl('x.test'), { dnsOverHttps: 'http://localhost/dns' }),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  });

  test('connections made to other addresses are not reused for a pinned name', async () => {
    // localhost resolved by the engine, then localhost pinned by a lookup: a second connection.
    const before = site.stats.connections;
    await plain.get(site.url('/echo'));
    await plain.get(site.url('/echo'), { lookup: (h, o, cb) => cb(null, '127.0.0.1', 4) });
    await plain.get(site.url('/echo'), { lookup: (h, o, cb) => cb(null, '127.0.0.1', 4) });
    expect(site.stats.connections - before).toBe(2);
  });
});
