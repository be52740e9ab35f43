'use strict';
// HTTP/3 across processes sharing a port: a request from a client process travels the link with its
// http3 mode and runs on the host's QUIC connection (one connection for both processes' requests),
// against Debian's caddy serving h3 on 127.0.0.1.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const initCycleTLS = require('../..');
const { childEnv, start, killAll } = require('./spawn');
const { startServer, uniquePort } = require('../helpers/servers');
const { startCaddyH3 } = require('../helpers/caddy-h3');

const CLIENT = path.join(__dirname, '..', 'fixtures', 'scripts', 'h3-client.js');

let backend;
let caddy;
let socketDir;

beforeAll(async () => {
  backend = await startServer({ tls: false });
  caddy = await startCaddyH3({ backendPort: backend.port });
  socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-sock-')); // 0700
});

afterAll(async () => {
  killAll();
  await caddy?.close();
  await backend?.close();
  fs.rmSync(socketDir, { recursive: true, force: true });
});

test("a client process's forceHTTP3 requests ride on the host's QUIC connection", async () => {
  const port = uniquePort();
  const host = await initCycleTLS({ port, socketDir });
  try {
    expect(host.stats().role).toBe('host');
    const own = await host.get(`${caddy.url}/text`, { profile: 'firefox_153', forceHTTP3: true });
    expect(own.protocol).toBe('h3');
    const child = start(
      process.execPath,
      [CLIENT, JSON.stringify({ port, url: `${caddy.url}/bytes?n=5000`, profile: 'firefox_153', count: 5 })],
      { env: childEnv({ CYCLETLS_NATIVE_SOCKET_DIR: socketDir }), timeoutMs: 30000 },
    );
    expect((await child.waitFor(/^READY /)).split(' ')[1]).toBe('client');
    const results = JSON.parse((await child.waitFor(/^DONE /, 30000)).slice(5));
    expect(results).toHaveLength(5);
    for (const r of results) {
      expect(r).toEqual({ protocol: 'h3', connection: own.connection.id, length: 5000 });
    }
    const h3 = host.stats().origins.filter((o) => / h3$/.test(o.key));
    expect(h3).toHaveLength(1);
    expect(h3[0].open).toBe(1);
  } finally {
    await host.exit();
  }
});
