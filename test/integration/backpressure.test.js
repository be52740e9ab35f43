'use strict';
// Streamed responses with a slow reader: the engine reads ahead a bounded amount, however fast the
// server (plain HTTP on loopback, the fastest case) and however late JavaScript gets to pause.
const http = require('node:http');
const initCycleTLS = require('../..');
const { uniquePort } = require('../helpers/servers');
const { start } = require('../process/spawn');

const TOTAL = 200 * 1024 * 1024;
let server;
let port;
beforeAll(async () => {
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(TOTAL) });
    let sent = 0;
    const pump = () => {
      while (sent < TOTAL) {
        sent += chunk.length;
        if (!res.write(chunk)) return res.once('drain', pump);
      }
      res.end();
      return undefined;
    };
    pump();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  port = server.address().port;
});
afterAll(() => new Promise((r) => server.close(r)));

test.each([
  ['in this process', false],
  ['through the process link', true],
])(
  'a 200 MB response read slowly is read ahead a bounded amount (%s)',
  async (_name, remote) => {
    const enginePort = uniquePort();
    let host;
    if (remote) {
      // The engine runs in another process; this one is its client over the link.
      host = start(
        process.execPath,
        [
          '-e',
          `require(process.env.CYCLETLS_NATIVE_PATH)({ port: ${enginePort} }).then(() => { console.log('READY'); setInterval(() => {}, 1e6); })`,
        ],
        { timeoutMs: 110000 },
      );
      await host.waitFor(/^READY/);
    }
    const c = await initCycleTLS({ port: enginePort, shareAcrossProcesses: remote });
    expect(c.stats().role).toBe(remote ? 'client' : 'local');
    const r = await c.get(`http://127.0.0.1:${port}/`, { responseType: 'stream', timeout: 120 });
    const stream = r.data;
    let received = 0;
    await new Promise((resolve) =>
      stream.once('data', (b) => {
        stream.pause();
        received += b.length;
        resolve();
      }),
    );
    // Nobody reads for a while: the server is as fast as it gets, yet reading stops early.
    await new Promise((res) => setTimeout(res, 1000));
    if (!remote) expect(c.stats().engine.bytesIn).toBeLessThan(24 * 1024 * 1024);
    expect(stream.readableLength).toBeLessThan(8 * 1024 * 1024);
    const rss0 = process.memoryUsage().rss;
    // Then it all arrives, with memory staying flat.
    await new Promise((resolve, reject) => {
      stream.on('data', (b) => {
        received += b.length;
      });
      stream.on('end', resolve);
      stream.on('error', reject);
      stream.resume();
    });
    expect(received).toBe(TOTAL);
    // Under AddressSanitizer (npm run test:asan) freed memory waits in its quarantine (up to 256 MiB), so RSS
    // says nothing there; the read-ahead bounds above still hold.
    if (!process.env.CTN_ASAN_JEST) expect(process.memoryUsage().rss - rss0).toBeLessThan(160 * 1024 * 1024);
    await c.exit();
    if (host) {
      host.child.kill('SIGKILL');
      await host.done;
    }
  },
  120000,
);
