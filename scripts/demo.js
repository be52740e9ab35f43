#!/usr/bin/env node
// `npm run demo`: no internet needed. Starts a local HTTPS server, sends requests through the
// engine, and prints what the server saw (TLS version, cipher, ALPN, SNI, header order) with timings.
'use strict';
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const certs = path.join(root, 'test', 'fixtures', 'certs');
// The engine verifies certificates; trust the demo server's CA (read before the first request).
process.env.SSL_CERT_FILE = path.join(certs, 'ca.pem');

const initCycleTLS = require(root);

function startServer() {
  const seen = { connections: 0, handshakes: 0 };
  const server = https.createServer({
    key: fs.readFileSync(path.join(certs, 'server-key.pem')),
    cert: fs.readFileSync(path.join(certs, 'server.pem')),
    ALPNProtocols: ['http/1.1'],
  }, (req, res) => {
    const s = req.socket;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({
      tls: s.getProtocol(), cipher: s.getCipher().name, alpn: s.alpnProtocol, sni: s.servername,
      method: req.method, path: req.url, headerOrder: req.rawHeaders.filter((_, i) => i % 2 === 0),
      userAgent: req.headers['user-agent'],
    }));
  });
  server.on('connection', () => seen.connections++);
  server.on('secureConnection', () => seen.handshakes++);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, seen, port: server.address().port })));
}

const ms = (t0) => `${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(2)} ms`;

async function main() {
  const { server, seen, port } = await startServer();
  const url = `https://localhost:${port}/demo?q=1`;
  console.log(`cycletls-native demo — local HTTPS server on 127.0.0.1:${port}\n`);

  let t0 = process.hrtime.bigint();
  const client = await initCycleTLS({ port: 9119 });
  console.log(`initCycleTLS()                      ${ms(t0)}`);

  t0 = process.hrtime.bigint();
  const first = await client.get(url, {
    headers: { 'sec-ch-ua': '"Chromium";v="156"', Accept: 'text/html', 'Accept-Language': 'en-US,en;q=0.9' },
  });
  console.log(`first request (new TLS connection)  ${ms(t0)}  status ${first.status}`);
  t0 = process.hrtime.bigint();
  const second = await client.get(url);
  console.log(`second request (kept alive)         ${ms(t0)}  reused connection: ${second.connection.reused}`);

  const n = 2000;
  const inFlight = 50;
  const all = new Array(n);
  let next = 0;
  t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < n) {
      const i = next++;
      all[i] = await client.get(`${url}&i=${i}`);
    }
  }));
  const okCount = all.filter((r, i) => r.status === 200 && r.data.path.endsWith(`&i=${i}`)).length;
  console.log(`${n} requests, ${inFlight} in flight          ${ms(t0)}  ${okCount}/${n} ok, each answer matched its request`);

  const d = first.data;
  console.log('\nWhat the server saw:');
  console.log(`  TLS version    ${d.tls}`);
  console.log(`  cipher         ${d.cipher}`);
  console.log(`  ALPN           ${d.alpn}`);
  console.log(`  SNI            ${d.sni}`);
  console.log(`  header order   ${d.headerOrder.join(', ')}`);
  console.log(`  user-agent     ${d.userAgent}`);
  console.log(`  connections    ${seen.connections} TCP, ${seen.handshakes} TLS handshakes for ${2 + n} requests`);
  console.log('\nWhat the client saw:');
  console.log(`  status ${first.status}, protocol ${first.protocol}, ${first.tls.version} ${first.tls.cipher}`);
  console.log(`  headers (cycletls shape) ${JSON.stringify(first.headers)}`);

  const failed = await client.get(`https://localhost:${port}/`, { serverName: 'wrong.example' });
  console.log(`\nA certificate for the wrong name: status ${failed.status} (as cycletls), error ${failed.error.code}: ${failed.error.message}`);

  await client.exit();
  server.close();
  if (okCount !== n || first.status !== 200) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
