'use strict';
// JA3 strings of other TLS stacks (cycletls's README, default and test-suite strings, curl's and Node's):
// the hello carries them exactly, suites and extensions BoringSSL cannot run included (advertised only),
// and each completes against common servers: `openssl s_server` with OpenSSL's defaults, a Node https
// server with Node's defaults, and a TLS 1.2-only one. A server that picks what is only advertised fails
// the request with ERR_TLS_HANDSHAKE naming it.
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const initCycleTLS = require('../..');
const { startEchoServer } = require('../../dist/echo');
const { certPair, uniquePort, closedPort } = require('../helpers/servers');
const foreign = require('../fixtures/fingerprints/foreign-ja3');

const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');
const cycletlsDefault = foreign[0].ja3;

let tmp;
let rsa; // { key, cert, keyFile, certFile }: DHE-RSA and `openssl s_server` want an RSA certificate
let echo;
let client;
const closers = [];

function makeRsaCert(dir) {
  const keyFile = path.join(dir, 'rsa-key.pem');
  const certFile = path.join(dir, 'rsa.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { keyFile, certFile, key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) };
}

async function startNodeHttps(options) {
  const server = https.createServer(options, (req, res) => res.end('ok'));
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return `https://localhost:${server.address().port}/`;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

// The Debian openssl binary's own server, with OpenSSL's default protocol versions, suites and groups;
// `-www` answers every request with a status page. `extra` adds options (e.g. a cipher list).
async function startOpensslServer(extra = []) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await closedPort();
    const child = spawn(
      'openssl',
      [
        's_server',
        '-accept',
        `127.0.0.1:${port}`,
        '-cert',
        rsa.certFile,
        '-key',
        rsa.keyFile,
        '-www',
        '-quiet',
        ...extra,
      ],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    let exited = false;
    child.on('exit', () => {
      exited = true;
    });
    for (let i = 0; i < 100 && !exited; i++) {
      if (await canConnect(port)) {
        closers.push(
          () =>
            new Promise((resolve) => {
              if (exited) resolve();
              else {
                child.on('exit', resolve);
                child.kill();
              }
            }),
        );
        return `https://localhost:${port}/`;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill(); // the port was taken meanwhile, or it never came up: try another
  }
  throw new Error('openssl s_server did not start');
}

const servers = {};
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-advertised-'));
  rsa = makeRsaCert(tmp);
  echo = await startEchoServer();
  client = await initCycleTLS({ port: uniquePort() });
  servers['openssl s_server (OpenSSL defaults)'] = { url: await startOpensslServer(), status: 200 };
  servers['Node https (Node defaults)'] = {
    url: await startNodeHttps({ ...certPair('server') }),
    status: 200,
  };
  servers['TLS 1.2 only (Node, RSA)'] = {
    url: await startNodeHttps({ key: rsa.key, cert: rsa.cert, maxVersion: 'TLSv1.2' }),
    status: 200,
    version: 'TLSv1.2',
  };
});
afterAll(async () => {
  await client.exit();
  await echo.close();
  await Promise.all(closers.map((close) => close()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the echo server sees exactly the configured JA3', () => {
  test.each(foreign.map((f) => [f.name, f.ja3]))('%s', async (_name, ja3) => {
    const r = await client.get(`https://localhost:${echo.port}/fp`, { ja3, insecureSkipVerify: true });
    expect(r.error).toBeUndefined();
    expect(r.data.tls.ja3).toBe(ja3);
    expect(r.data.tls.ja3_hash).toBe(md5(ja3));
  });
});

test('TLS 1.3 suites only, with TLS 1.2 extensions and an unknown one: sent as written', async () => {
  const ja3 = '771,4865-4866-4867,0-23-65281-10-11-13-16-43-45-51-12345,29-23,0';
  const r = await client.get(`https://localhost:${echo.port}/fp`, { ja3, insecureSkipVerify: true });
  expect(r.data.tls.ja3).toBe(ja3);
  expect(r.data.tls_version).toBe('TLSv1.3');
});

describe('each completes against common server configurations', () => {
  const cases = [];
  for (const server of [
    'openssl s_server (OpenSSL defaults)',
    'Node https (Node defaults)',
    'TLS 1.2 only (Node, RSA)',
  ]) {
    for (const f of foreign) cases.push([server, f.name, f.ja3]);
  }
  test.each(cases)('%s: %s', async (server, _name, ja3) => {
    const r = await client.get(servers[server].url, { ja3, insecureSkipVerify: true, responseType: 'text' });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(servers[server].status);
    if (servers[server].version) expect(r.tls.version).toBe(servers[server].version);
    expect(r.connection.reused).toBe(false); // a handshake with this JA3, not a pooled connection
  });
});

describe('a server that picks what is only advertised fails the request, naming it', () => {
  test('a DHE-only TLS 1.2 server: the handshake fails naming 0x0033', async () => {
    const url = await startNodeHttps({
      key: rsa.key,
      cert: rsa.cert,
      maxVersion: 'TLSv1.2',
      ciphers: 'DHE-RSA-AES128-SHA',
      dhparam: 'auto',
    });
    const r = await client.get(url, { ja3: cycletlsDefault, insecureSkipVerify: true });
    expect(r.error).toMatchObject({ code: 'ERR_TLS_HANDSHAKE', stage: 'tls' });
    expect(r.error.message).toMatch(
      /the server chose cipher suite 0x0033 \(TLS_DHE_RSA_WITH_AES_128_CBC_SHA\), which this client advertises but cannot negotiate/,
    );
    // The same server with a JA3 without DHE never gets that far: no shared suite, the server's alert.
    const plain = await client.get(url, { ja3: foreign[1].ja3, insecureSkipVerify: true });
    expect(plain.error).toMatchObject({ code: 'ERR_TLS_HANDSHAKE' });
    expect(plain.error.message).not.toMatch(/advertises/);
  });

  test("a CBC-only OpenSSL server answering encrypt_then_mac (22), offered by curl's JA3", async () => {
    const url = await startOpensslServer(['-cipher', 'ECDHE-RSA-AES128-SHA', '-no_tls1_3']);
    const curl = foreign.find((f) => f.name.startsWith('curl')).ja3;
    const r = await client.get(url, { ja3: curl, insecureSkipVerify: true });
    expect(r.error).toMatchObject({ code: 'ERR_TLS_HANDSHAKE', stage: 'tls' });
    expect(r.error.message).toMatch(
      /the server answered with extension 22 \(encrypt_then_mac\), which this client advertises but cannot run/,
    );
  });
});
