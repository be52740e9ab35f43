#!/usr/bin/env node
// `npm run demo`: no internet needed. Starts the package's own fingerprint echo server on
// 127.0.0.1, sends requests through the engine with the Chrome and Firefox presets and with Node's
// own clients, and prints what the server saw side by side, with timings.
'use strict';
const http2 = require('node:http2');
const https = require('node:https');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const initCycleTLS = require(root);
const { startEchoServer } = require(path.join(root, 'dist', 'echo.js'));

// What the real browsers sent on this machine kind (test/fixtures/fingerprints): the reference.
const GOLDEN = {
  chrome_156: {
    ja4: 't13d1517h2_8daaf6152771_cb7bf5808d99',
    akamai: '1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p',
  },
  firefox_153: {
    ja4: 't13d1617h2_86a278354501_3cbfd9057e0d',
    akamai: '1:65536;2:0;4:131072;5:16384|12517377|0|m,p,a,s',
  },
};

const ms = (t0) => `${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(2)} ms`;
const pad = (s, n) => String(s).padEnd(n);

function nodeHttps(url) {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
      })
      .on('error', reject);
  });
}

function nodeHttp2(origin, p) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(origin, { rejectUnauthorized: false });
    session.on('error', reject);
    const req = session.request({ ':path': p });
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      session.close();
      resolve(JSON.parse(Buffer.concat(chunks).toString()));
    });
    req.on('error', reject);
    req.end();
  });
}

function row(label, r) {
  return `  ${pad(label, 24)} ${pad(r.tls_version, 8)} ${pad(r.tls.ja4, 38)} ${r.http2 ? r.http2.akamai_fingerprint : '(HTTP/1.1: no HTTP/2 frames)'}`;
}

async function main() {
  const echo = await startEchoServer();
  const origin = `https://localhost:${echo.port}`;
  console.log(`cycletls-native demo: a local fingerprint echo server on 127.0.0.1:${echo.port}\n`);

  let t0 = process.hrtime.bigint();
  const client = await initCycleTLS({ port: 9119 });
  console.log(`initCycleTLS()                          ${ms(t0)}`);
  // The echo server's certificate is self-signed: verification would refuse it, as it should.
  const opts = { insecureSkipVerify: true };
  t0 = process.hrtime.bigint();
  const chrome = await client.get(`${origin}/demo`, opts);
  console.log(
    `first request (new TLS + HTTP/2)        ${ms(t0)}  status ${chrome.status}, ${chrome.protocol}`,
  );
  t0 = process.hrtime.bigint();
  const again = await client.get(`${origin}/demo`, opts);
  console.log(`second request (same connection)        ${ms(t0)}  reused: ${again.connection.reused}`);

  const n = 2000;
  const inFlight = 50;
  const results = new Array(n);
  let next = 0;
  t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) {
        const i = next++;
        results[i] = await client.get(`${origin}/demo?i=${i}`, opts);
      }
    }),
  );
  const ok = results.filter((r, i) => r.status === 200 && r.data.path === `/demo?i=${i}`).length;
  const connections = new Set(results.map((r) => r.connection.id)).size;
  console.log(
    `${n} requests, ${inFlight} in flight              ${ms(t0)}  ${ok}/${n} answers matched their request, over ${connections} connection(s)`,
  );

  const firefox = await client.get(`${origin}/demo`, { ...opts, profile: 'firefox_153' });
  const nodeH1 = await nodeHttps(`${origin}/demo`);
  const nodeH2 = await nodeHttp2(origin, '/demo');

  console.log('\nWhat the server saw (TLS version, JA4, Akamai HTTP/2 string):');
  console.log(row('cycletls-native chrome', chrome.data));
  console.log(row('cycletls-native firefox', firefox.data));
  console.log(row('Node https', nodeH1));
  console.log(row('Node http2', nodeH2));
  for (const [name, r] of [
    ['chrome_156', chrome.data],
    ['firefox_153', firefox.data],
  ]) {
    const same = r.tls.ja4 === GOLDEN[name].ja4 && r.http2.akamai_fingerprint === GOLDEN[name].akamai;
    console.log(
      `  ${name}: JA4 and Akamai string ${same ? 'equal' : 'DIFFER FROM'} the captured real browser`,
    );
  }
  console.log('\nHeader order the server saw:');
  console.log(`  chrome   ${chrome.data.headers.map(([k]) => k).join(', ')}`);
  console.log(`  firefox  ${firefox.data.headers.map(([k]) => k).join(', ')}`);
  console.log(`  Node     ${nodeH2.headers.map(([k]) => k).join(', ')}`);

  const failed = await client.get(`${origin}/demo`);
  console.log(
    `\nWith verification on, the self-signed certificate is refused: status ${failed.status} (as cycletls), ${failed.error.code}`,
  );

  await client.exit();
  await echo.close();
  if (ok !== n || chrome.status !== 200) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
