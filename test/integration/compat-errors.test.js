'use strict';
// cycletls's error texts against real failing servers: every synthetic status resolves with `data`
// (and text()) in cycletls 2.0.5's shape — "<summary>-> \n<Method> "<url>": <Go error>" — while
// `error` keeps our stable code, stage and the engine's own message.
const net = require('node:net');
const tls = require('node:tls');
const initCycleTLS = require('../..');
const { startServer, startRawServer, certPair, uniquePort, closedPort } = require('../helpers/servers');
const { startHttpProxy, startSocksServer, startBlackHole } = require('../helpers/proxies');

const SYSCALL = 'Request returned a Syscall Error: ';
const TIMEOUT = 'Request timeout: deadline exceeded';
/** Escapes a literal for a RegExp. */
const lit = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let client;
const closers = [];
async function listen(server) {
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)));
  return server.address().port;
}

beforeAll(async () => {
  client = await initCycleTLS({ port: uniquePort() });
});
afterAll(async () => {
  await client.exit();
  for (const close of closers) await close();
});

/** Asserts data === text() and returns data. */
async function dataOf(r) {
  expect(await r.text()).toBe(r.data);
  return r.data;
}

test("502 refused: Go's dial error in the summary and the detail; error keeps our code and message", async () => {
  const port = await closedPort();
  const url = `https://127.0.0.1:${port}/`;
  const r = await client.post(url, { body: 'x' });
  expect(r.status).toBe(502);
  const detail = `Post "${url}": dial tcp 127.0.0.1:${port}: connect: connection refused`;
  expect(await dataOf(r)).toBe(`${SYSCALL}${detail}-> \n${detail}`);
  expect(r.error).toMatchObject({ code: 'ERR_CONNECT_REFUSED', stage: 'connect' });
  expect(r.error.message).toMatch(/Connection refused/);
});

test('421 DNS: "lookup <host> on <server>: no such host"', async () => {
  const r = await client.get('https://no-such-host.invalid/x');
  expect(r.status).toBe(421);
  expect(await dataOf(r)).toMatch(
    /^Request returned a Syscall Error: lookup no-such-host\.invalid on \S+:53: no such host-> \nGet "https:\/\/no-such-host\.invalid\/x": dial tcp: lookup no-such-host\.invalid on \S+:53: no such host$/,
  );
  expect(r.error).toMatchObject({ code: 'ERR_DNS', stage: 'dns' });
});

test("502 refused by name: Go's text names the address dialed; our message names both", async () => {
  const port = await closedPort();
  const url = `https://localhost:${port}/`;
  const r = await client.get(url);
  expect(r.error.message).toMatch(
    new RegExp(`^connect to localhost:${port} \\((127\\.0\\.0\\.1|\\[::1\\]):${port}\\) failed: `),
  );
  const address = /\((\S+)\)/.exec(r.error.message)[1];
  const detail = `Get "${url}": dial tcp ${address}: connect: connection refused`;
  expect(await dataOf(r)).toBe(`${SYSCALL}${detail}-> \n${detail}`);
});

describe('495 certificates', () => {
  test.each([
    [
      'expired',
      /^x509: certificate has expired or is not yet valid: current time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ is after 2021-01-01T00:00:00Z$/,
      '(not after 2021-01-01T00:00:00Z)',
    ],
    ['self-signed', /^x509: certificate signed by unknown authority$/, 'self signed certificate'],
    [
      'wronghost',
      /^x509: certificate is valid for wrong\.example, not localhost$/,
      '(certificate names: DNS:wrong.example)',
    ],
  ])('%s', async (cert, why, ours) => {
    const server = await startServer({ cert });
    closers.push(() => server.close());
    const url = server.url('/echo');
    const r = await client.get(url);
    expect(r.status).toBe(495);
    const data = await dataOf(r);
    const prefix = `Get "${url}": uTlsConn.Handshake() error: tls: failed to verify certificate: `;
    const [summary, detail] = data.split('-> \n');
    expect(summary).toBe(`${SYSCALL}${detail}`);
    expect(detail.startsWith(prefix)).toBe(true);
    expect(detail.slice(prefix.length)).toMatch(why);
    expect(r.error).toMatchObject({ code: 'ERR_TLS_CERT', stage: 'tls' });
    expect(r.error.message).toContain(ours);
  });
});

test('handshake failures: an alert from the server, a peer that does not speak TLS', async () => {
  const picky = tls.createServer({
    ...certPair('server'),
    maxVersion: 'TLSv1.2',
    ciphers: 'ECDHE-ECDSA-AES256-SHA384',
  });
  picky.on('tlsClientError', () => {});
  const pickyUrl = `https://localhost:${await listen(picky)}/`;
  const r = await client.get(pickyUrl);
  expect(r.status).toBe(495); // cycletls resolves every failed handshake with 495, as a certificate failure
  const alert = `Get "${pickyUrl}": uTlsConn.Handshake() error: remote error: tls: handshake failure`;
  expect(await dataOf(r)).toBe(`${SYSCALL}${alert}-> \n${alert}`);
  expect(r.error).toMatchObject({ code: 'ERR_TLS_HANDSHAKE', stage: 'tls' });

  const liar = net.createServer((s) => {
    s.on('error', () => {});
    s.resume();
    s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  });
  const liarUrl = `https://127.0.0.1:${await listen(liar)}/`;
  const notTls = `Get "${liarUrl}": uTlsConn.Handshake() error: tls: first record does not look like a TLS handshake`;
  const liarResponse = await client.get(liarUrl);
  expect(liarResponse.status).toBe(495);
  expect(await dataOf(liarResponse)).toBe(`${SYSCALL}${notTls}-> \n${notTls}`);
});

describe('408 timeouts', () => {
  let server;
  beforeAll(async () => {
    server = await startServer();
    closers.push(() => server.close());
  });

  test('waiting for the head', async () => {
    const url = server.url('/stall');
    const r = await client.get(url, { timeout: 0.3 });
    expect(r.status).toBe(408);
    expect(await dataOf(r)).toBe(
      `${TIMEOUT}-> \nGet "${url}": net/http: request canceled (Client.Timeout exceeded while awaiting headers)`,
    );
    expect(r.error).toMatchObject({ code: 'ERR_TIMEOUT', stage: 'headers' });
  });

  test('in the body: the summary alone', async () => {
    const r = await client.get(server.url('/stall-body'), { timeout: 0.3, responseType: 'text' });
    expect(r.status).toBe(408);
    expect(await dataOf(r)).toBe(TIMEOUT);
    expect(r.error).toMatchObject({ code: 'ERR_TIMEOUT', stage: 'body' });
  });

  test('a silent SOCKS5 proxy', async () => {
    const hole = await startBlackHole();
    closers.push(() => hole.close());
    const url = server.url('/echo');
    const r = await client.get(url, { timeout: 0.3, proxy: `socks5://127.0.0.1:${hole.port}` });
    expect(r.status).toBe(408);
    expect(await dataOf(r)).toBe(
      `${TIMEOUT}-> \nGet "${url}": socks connect tcp 127.0.0.1:${hole.port}->localhost:${server.port}: read tcp 127.0.0.1:${hole.port}: i/o timeout (Client.Timeout exceeded while awaiting headers)`,
    );
    expect(r.error).toMatchObject({ code: 'ERR_TIMEOUT', stage: 'proxy' });
  });
});

test("status 0: the server hangs up before answering (Go's EOF), or in the middle of the body (empty)", async () => {
  const closer = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.end());
  });
  const url = `http://127.0.0.1:${await listen(closer)}/`;
  const r = await client.get(url);
  expect(r.status).toBe(0);
  expect(await dataOf(r)).toBe(`-> \nGet "${url}": EOF`);
  expect(r.error).toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });

  const cut = await startRawServer({
    tls: false,
    onRequest: (s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
      setTimeout(() => s.destroy(), 20);
    },
  });
  closers.push(() => cut.close());
  const mid = await client.get(cut.url('/'));
  expect(mid.status).toBe(0);
  expect(await dataOf(mid)).toBe('');
  expect(mid.error).toMatchObject({ code: 'ERR_BODY_TRUNCATED', stage: 'body' });
  expect(mid.error.message).toMatch(/before the body was complete/);
});

describe('502 proxies', () => {
  let target;
  beforeAll(async () => {
    target = await startServer();
    closers.push(() => target.close());
  });

  test('a refused proxy: Go dials the proxy ("dial tcp <proxy>"); SOCKS5 wraps it in "socks connect"', async () => {
    const port = await closedPort();
    const url = target.url('/echo');
    const http = await client.get(url, { proxy: `http://127.0.0.1:${port}` });
    expect(http.status).toBe(502);
    const detail = `Get "${url}": dial tcp 127.0.0.1:${port}: connect: connection refused`;
    expect(await dataOf(http)).toBe(`${SYSCALL}${detail}-> \n${detail}`);
    const socks = await client.get(url, { proxy: `socks5://127.0.0.1:${port}` });
    const socksDetail = `Get "${url}": socks connect tcp 127.0.0.1:${port}->localhost:${target.port}: dial tcp 127.0.0.1:${port}: connect: connection refused`;
    expect(await dataOf(socks)).toBe(`${SYSCALL}${socksDetail}-> \n${socksDetail}`);
    expect(socks.error).toMatchObject({ code: 'ERR_PROXY', stage: 'connect' });
  });

  test('CONNECT answered 407: "Proxy responded with non 200 code: … StatusCode:407"', async () => {
    const proxy = await startHttpProxy({ auth: { user: 'u', pass: 'p' } });
    closers.push(() => proxy.close());
    const url = target.url('/echo');
    const r = await client.get(url, { proxy: proxy.url() });
    expect(r.status).toBe(407); // as cycletls: the proxy's own status (Go's parseError reads "StatusCode:407")
    const detail = `Get "${url}": Proxy responded with non 200 code: 407 Proxy Authentication Required StatusCode:407`;
    expect(await dataOf(r)).toBe(`${SYSCALL}${detail}-> \n${detail}`);
    expect(r.error).toMatchObject({ code: 'ERR_PROXY', stage: 'proxy' });
  });

  test('SOCKS5 rejects the credentials', async () => {
    const socks = await startSocksServer({ auth: { user: 'u', pass: 'p' } });
    closers.push(() => socks.close());
    const url = target.url('/echo');
    const r = await client.get(url, { proxy: `socks5://x:y@127.0.0.1:${socks.port}` });
    expect(r.status).toBe(421); // as cycletls: a dial error, not a refused connection
    const cause = `socks connect tcp 127.0.0.1:${socks.port}->localhost:${target.port}: username/password authentication failed`;
    expect(await dataOf(r)).toBe(`${SYSCALL}${cause}-> \nGet "${url}": ${cause}`);
  });
});

test('rejectOnError keeps our message: the code and stage say what happened', async () => {
  const port = await closedPort();
  await expect(client.get(`https://127.0.0.1:${port}/`, { rejectOnError: true })).rejects.toMatchObject({
    code: 'ERR_CONNECT_REFUSED',
    message: expect.stringMatching(
      new RegExp(`^connect to 127\\.0\\.0\\.1:${port} failed: ${lit('Connection refused')}`),
    ),
  });
});
