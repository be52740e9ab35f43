'use strict';
// cycletls v3's migration guide (docs/V3_MIGRATION_GUIDE.md of its repository): each v3 example, as a
// whole program in test/v3/guide/ (see its README), run with node where `cycletls` is this package,
// against local servers: HTTPS routes, the fingerprint echo, a WebSocket echo and an event stream, all
// with certificates of the test CA, which the child trusts through SSL_CERT_FILE.
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, certPair, closedPort, uniquePort, patternBytes } = require('../helpers/servers');
const { startLiveServer } = require('../compat/helpers/stand-ins');
const { startEchoServer } = require('../../dist/echo');

const ROOT = path.resolve(__dirname, '..', '..');
const GUIDE = path.join(__dirname, 'guide');
const CA_FILE = path.join(ROOT, 'test', 'fixtures', 'certs', 'ca.pem');
// The JA3 of the guide's Example 4.
const JA3 =
  '771,4865-4867-4866-49195-49199-52393-52392-49196-49200-49162-49161-49171-49172-156-157-47-53,' +
  '0-23-65281-10-11-35-16-5-34-51-43-13-45-28-21,29-23-24-25-256-257,0';
const LARGE = 8 * 1024 * 1024;

let server;
let live;
let echo;
let work;
let env;

beforeAll(async () => {
  server = await startServer();
  live = await startLiveServer();
  echo = await startEchoServer({ host: '127.0.0.1', ...certPair('server') });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-v3-guide-'));
  fs.mkdirSync(path.join(work, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(work, 'node_modules', 'cycletls'), 'dir');
  // A socket directory of its own: `new CycleTLS()` (port 9119) meets no other process's engine.
  const socketDir = path.join(work, 'run');
  fs.mkdirSync(socketDir, { mode: 0o700 });
  env = {
    ...process.env,
    SSL_CERT_FILE: CA_FILE,
    CYCLETLS_NATIVE_SOCKET_DIR: socketDir,
    ENGINE_PORT: String(uniquePort()),
    JA3,
    JSON_URL: server.url('/echo'),
    BYTES_URL: server.url('/bytes?n=300000'),
    LARGE_URL: server.url(`/bytes?n=${LARGE}&seed=7`),
    REDIRECT_URL: server.url('/cookie-redirect?set=a%3D1%3B%20Path%3D%2F&set=b%3D2%3B%20Path%3D%2F&to=/echo'),
    NOT_FOUND_URL: server.url('/status/404'),
    REFUSED_URL: `https://localhost:${await closedPort()}/`,
    WS_URL: `wss://localhost:${live.port}/socket`,
    SSE_URL: `https://localhost:${live.port}/events`,
    ECHO_URL: `https://localhost:${echo.port}/`,
    OUT_FILE: path.join(work, 'large-file.zip'),
  };
});

afterAll(async () => {
  await Promise.all([server?.close(), live?.close(), echo?.close()]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Runs one program of test/v3/guide (copied next to node_modules/cycletls) and parses what it printed. */
function run(name) {
  const file = path.join(work, name);
  fs.copyFileSync(path.join(GUIDE, name), file);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [file], { cwd: work, env, timeout: 60000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${name} failed: ${err.message}\n${stderr}`));
      try {
        return resolve(JSON.parse(stdout.trim().split('\n').pop()));
      } catch {
        return reject(new Error(`${name} printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

test('Quick Comparison: new CycleTLS(), get(url, { ja3, userAgent }), statusCode, text() and json()', async () => {
  const out = await run('quick-comparison.mjs');
  expect(out.statusCode).toBe(200);
  expect(JSON.parse(out.text)).toEqual(out.json);
  expect(out.json.method).toBe('GET');
  const ua = out.json.rawHeaders[out.json.rawHeaders.findIndex((h) => /^user-agent$/i.test(h)) + 1];
  expect(ua).toBe('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36');
}, 60000);

test('API Initialization: the constructor is synchronous and takes every v3 option', async () => {
  expect(await run('initialization.mjs')).toEqual({ isSync: true, statusCode: 200 });
}, 60000);

test('Request Methods: request({ url, method, headers }), get(url, options), post(url, body, options)', async () => {
  const { r1, r2, r3, callable } = await run('request-methods.mjs');
  expect(callable).toBe(false);
  const header = (r, name) => r.rawHeaders[r.rawHeaders.findIndex((h) => h.toLowerCase() === name) + 1];
  expect(r1.method).toBe('GET');
  expect(header(r1, 'accept')).toBe('application/json');
  expect(r2.method).toBe('GET');
  expect(header(r2, 'x-example')).toBe('yes');
  expect(r3.method).toBe('POST');
  expect(Buffer.from(r3.body, 'base64').toString()).toBe('{"hello":"world"}');
  expect(header(r3, 'x-example')).toBe('yes');
}, 60000);

test('Response Object: statusCode and status, headers of arrays, finalUrl, requestId, body a Readable', async () => {
  const out = await run('response-object.mjs');
  expect(out.statusCode).toBe(200);
  expect(out.status).toBe(200);
  expect(out.contentType).toBe('application/json');
  expect(out.allArrays).toBe(true);
  expect(out.finalUrl).toBe(server.url('/echo'));
  expect(typeof out.requestId).toBe('string');
  expect(out.requestId).not.toBe('');
  expect(out.bodyIsReadable).toBe(true);
  expect(JSON.parse(out.text).url).toBe('/echo');
}, 60000);

test('Response Body Parsing: json(), text(), arrayBuffer(), blob(), buffer() and the body stream', async () => {
  const out = await run('body-parsing.mjs');
  expect(out).toEqual({
    dataMethod: 'GET',
    textLength: expect.any(Number),
    arrayBuffer: true,
    blob: { size: out.textLength, type: 'application/json' },
    nodeBuffer: true,
    streamed: 300000,
  });
}, 60000);

test('WebSocket API: ws-library events, send(data, cb), send(buf, { binary }), properties, close()', async () => {
  const out = await run('websocket.mjs');
  expect(out.seen).toEqual(['open', 'text hello', 'binary 1,2,3', 'close 1000 Done']);
  expect(out.properties).toEqual({
    url: `wss://localhost:${live.port}/socket`,
    readyState: 1,
    protocol: '',
    extensions: '', // the server offers no permessage-deflate
    bufferedAmount: 0,
    binaryType: 'nodebuffer',
  });
  expect(out.readyState).toBe(3);
  expect(live.upgrades.length).toBeGreaterThan(0);
}, 60000);

test('Server-Sent Events: events() iterates, onEvent()/onError() call back, close()', async () => {
  const out = await run('sse.mjs');
  expect(out.statusCode).toBe(200);
  expect(out.iterated).toEqual(
    [1, 2, 3].map((n) => ({ id: `${n}`, event: 'message', data: `Event ${n}`, retry: null })),
  );
  expect(out.called).toEqual(['Event 1', 'Event 2', 'Event 3']);
}, 60000);

test('Example 1: a GET with headers, statusCode and json()', async () => {
  const out = await run('example-1-get.mjs');
  expect(out.statusCode).toBe(200);
  expect(out.json.rawHeaders).toEqual(expect.arrayContaining(['Authorization', 'Bearer token']));
}, 60000);

test('Example 2: post(url, body, { headers })', async () => {
  const out = await run('example-2-post.mjs');
  expect(out.statusCode).toBe(200);
  expect(out.json.method).toBe('POST');
  expect(Buffer.from(out.json.body, 'base64').toString()).toBe('{"name":"Alice"}');
  expect(out.json.rawHeaders).toEqual(expect.arrayContaining(['Content-Type', 'application/json']));
}, 60000);

test('Example 3: a large file streamed from response.body to a file', async () => {
  const out = await run('example-3-streaming.mjs');
  expect(out.statusCode).toBe(200);
  expect(fs.readFileSync(env.OUT_FILE).equals(patternBytes(LARGE, 7))).toBe(true);
}, 60000);

test('Example 4: request({ url, ja3, userAgent }) sends that JA3', async () => {
  const out = await run('example-4-ja3.mjs');
  expect(out.statusCode).toBe(200);
  expect(out.ja3).toBe(JA3);
  expect(out.userAgent).toBe('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36');
}, 60000);

test('Example 5: an HTTP 404 resolves with its statusCode; a network failure throws a CycleTLSError', async () => {
  const out = await run('example-5-errors.mjs');
  expect(out.logged[0]).toBe('HTTP 404: status 404');
  // A refused connection: 502, cycletls's status for it.
  expect(out.logged[1]).toMatch(/^Error 502: /);
}, 60000);
