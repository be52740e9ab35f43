'use strict';
// Certificate verification against the trusted test CA, and connection failures.
const net = require('node:net');
const initCycleTLS = require('../..');
const { startServer, uniquePort } = require('../helpers/servers');

let client;
const servers = {};
beforeAll(async () => {
  client = await initCycleTLS({ port: uniquePort() });
  for (const cert of ['server', 'expired', 'wronghost', 'self-signed'])
    servers[cert] = await startServer({ cert });
});
afterAll(async () => {
  await client.exit();
  await Promise.all(Object.values(servers).map((s) => s.close()));
});

test('a certificate from a trusted CA verifies, by name and by IP', async () => {
  expect((await client.get(servers.server.url('/echo'))).status).toBe(200);
  const byIp = await client.get(`https://127.0.0.1:${servers.server.port}/echo`);
  expect(byIp.status).toBe(200);
  expect(byIp.data.tls.servername).toBeNull(); // no SNI for IP literals, as browsers do
});

test.each([
  ['expired', /expired/],
  ['wronghost', /hostname mismatch|host/i],
  ['self-signed', /self[- ]signed|local issuer/i],
])('%s certificate → 495 ERR_TLS_CERT; insecureSkipVerify → 200', async (name, why) => {
  const r = await client.get(servers[name].url('/echo'));
  expect(r.status).toBe(495);
  expect(r.error.code).toBe('ERR_TLS_CERT');
  expect(r.error.stage).toBe('tls');
  expect(r.error.message).toMatch(why);
  const ok = await client.get(servers[name].url('/echo'), { insecureSkipVerify: true });
  expect(ok.status).toBe(200);
});

test('serverName is what the certificate must match', async () => {
  const r = await client.get(servers.wronghost.url('/echo'), { serverName: 'wrong.example' });
  expect(r.status).toBe(200);
  expect(r.data.tls.servername).toBe('wrong.example');
});

test('a refused port → 502 ERR_CONNECT_REFUSED', async () => {
  const probe = net.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address();
  await new Promise((r) => probe.close(r));
  const r = await client.get(`https://127.0.0.1:${port}/`);
  expect(r.status).toBe(502);
  expect(r.error).toMatchObject({ code: 'ERR_CONNECT_REFUSED', stage: 'connect' });
  await expect(client.get(`https://127.0.0.1:${port}/`, { rejectOnError: true })).rejects.toMatchObject({
    name: 'CycleTLSError',
    code: 'ERR_CONNECT_REFUSED',
    retryable: true,
  });
});

test('a plain-TCP peer that never speaks TLS times out in the tls stage', async () => {
  const held = [];
  const silent = net.createServer((sock) => held.push(sock));
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  const t0 = Date.now();
  const r = await client.get(`https://127.0.0.1:${silent.address().port}/`, { timeout: 0.3 });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  expect(r.status).toBe(408);
  expect(r.error).toMatchObject({ code: 'ERR_TIMEOUT', stage: 'tls' });
  for (const sock of held) sock.destroy();
  await new Promise((res) => silent.close(res));
});

test('a peer that speaks something else than TLS → ERR_TLS_HANDSHAKE', async () => {
  const liar = net.createServer((s) => {
    s.resume();
    s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  });
  await new Promise((r) => liar.listen(0, '127.0.0.1', r));
  const r = await client.get(`https://127.0.0.1:${liar.address().port}/`);
  expect(r.error.code).toBe('ERR_TLS_HANDSHAKE');
  await new Promise((res) => liar.close(res));
});
