#!/usr/bin/env node
'use strict';
// WebSocket benchmark: `node ws.js [--rounds 3] [--clients a,b] [--small 20000] [--large 1000]`.
// An echo server (the `ws` package over TLS, no compression) runs in its own process on 127.0.0.1;
// every (client, workload) cell runs in a fresh child process that measures its own wall time, CPU
// time and peak RSS. Workloads:
//   ws-small  `--small` round trips of a 64-byte text message, 16 in flight
//   ws-large  `--large` 256 KiB binary messages echoed, 4 in flight (send with back-pressure)
// Clients: cycletls-native (ws()), wreq-js (session.websocket()), ws (Node's `ws`, no fingerprint:
// the floor), cycletls 2.0.5 (its ws() never resolves: reported as such after 10 s).
// Writes RESULTS-ws.md and results-ws.json next to this file.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fork, execFileSync } = require('node:child_process');
const { cli, median } = require('./lib/cli');

const HERE = __dirname;
const { argv, opt } = cli(__filename);
const WORKLOADS = {
  'ws-small': {
    size: 64,
    binary: false,
    window: 16,
    count: () => Number(process.env.WS_BENCH_SMALL || opt('small', 20000)),
  },
  'ws-large': {
    size: 256 * 1024,
    binary: true,
    window: 4,
    count: () => Number(process.env.WS_BENCH_LARGE || opt('large', 1000)),
  },
};
const CLIENTS = ['cycletls-native', 'wreq-js', 'ws', 'cycletls'];
const OPEN_TIMEOUT_MS = 10000;

// ---- the server process ----
function serve(dir) {
  const https = require('node:https');
  const { WebSocketServer } = require('ws');
  const server = https.createServer({
    key: fs.readFileSync(path.join(dir, 'key.pem')),
    cert: fs.readFileSync(path.join(dir, 'cert.pem')),
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 << 20 });
  wss.on('connection', (socket) =>
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })),
  );
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}

// ---- one cell (a child process) ----
async function openClient(name, url) {
  if (name === 'cycletls-native') {
    const initCycleTLS = require('..');
    const client = await initCycleTLS({ port: 30000 + (process.pid % 2000) });
    const ws = await client.ws(url, { insecureSkipVerify: true, perMessageDeflate: false });
    if (ws.readyState !== 1) throw new Error(`not open: ${ws.status} ${ws.error && ws.error.message}`);
    return {
      send: (data) => ws.send(data),
      onMessage: (cb) => ws.onMessage((m) => cb(m.data)),
      close: async () => {
        await ws.close();
        await client.exit();
      },
    };
  }
  if (name === 'wreq-js') {
    const { createSession } = require('wreq-js');
    const session = await createSession({ browser: 'chrome', insecure: true });
    const ws = await session.websocket(url);
    ws.binaryType = 'nodebuffer';
    return {
      send: async (data) => ws.send(data),
      onMessage: (cb) => {
        ws.onmessage = (e) => cb(e.data);
      },
      close: async () => {
        ws.close(1000);
        await session.close?.();
      },
    };
  }
  if (name === 'ws') {
    const WebSocket = require('ws');
    const ws = new WebSocket(url, { rejectUnauthorized: false, perMessageDeflate: false });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return {
      send: (data) =>
        new Promise((resolve, reject) => ws.send(data, (err) => (err ? reject(err) : resolve()))),
      onMessage: (cb) => ws.on('message', (data, isBinary) => cb(isBinary ? data : data.toString())),
      close: async () => ws.close(1000),
    };
  }
  if (name === 'cycletls') {
    const initCycleTLS = require('cycletls');
    const client = await initCycleTLS({ port: 32000 + (process.pid % 500) });
    const opened = client.ws(url, { insecureSkipVerify: true });
    const timer = new Promise((_, reject) =>
      setTimeout(
        () => reject(new Error(`ws() did not resolve within ${OPEN_TIMEOUT_MS} ms`)),
        OPEN_TIMEOUT_MS,
      ),
    );
    try {
      const ws = await Promise.race([opened, timer]);
      if (typeof ws.send !== 'function') throw new Error('ws() resolved without send()');
      return {
        send: async (d) => ws.send(d),
        onMessage: (cb) => ws.onMessage((m) => cb(m.data)),
        close: async () => {
          ws.close();
          await client.exit();
        },
      };
    } catch (err) {
      client.exit().catch(() => undefined);
      throw err;
    }
  }
  throw new Error(`unknown client ${name}`);
}

async function cell(name, workload, url) {
  const w = WORKLOADS[workload];
  const total = w.count();
  const payload = w.binary ? Buffer.alloc(w.size, 0x5a) : 'x'.repeat(w.size);
  const opened = Date.now();
  const sock = await openClient(name, url);
  const openMs = Date.now() - opened;
  let received = 0;
  let bad = 0;
  let wake;
  sock.onMessage((data) => {
    const size = typeof data === 'string' ? data.length : data.byteLength;
    if (size !== w.size) bad++;
    received++;
    const f = wake;
    wake = undefined;
    f?.();
  });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let sent = 0;
  while (received < total) {
    while (sent < total && sent - received < w.window) {
      sent++;
      await sock.send(payload);
    }
    if (received < total)
      await new Promise((r) => {
        wake = r;
      });
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  await sock.close();
  return {
    client: name,
    workload,
    messages: total,
    bad,
    openMs,
    msgsPerSec: total / (ns / 1e9),
    mibPerSec: (total * w.size * 2) / (1 << 20) / (ns / 1e9), // both directions
    cpuMsPer1000: (cpu.user + cpu.system) / 1000 / (total / 1000),
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

// ---- the driver ----
function runCell(name, workload, url) {
  return new Promise((resolve) => {
    const env = {
      ...process.env,
      WS_BENCH_SMALL: String(WORKLOADS['ws-small'].count()),
      WS_BENCH_LARGE: String(WORKLOADS['ws-large'].count()),
    };
    const child = fork(__filename, ['--child', name, workload, url], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env,
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const kill = setTimeout(() => child.kill('SIGKILL'), 300000);
    child.on('message', (m) => resolve(m));
    child.on('exit', (code) => {
      clearTimeout(kill);
      resolve({
        client: name,
        workload,
        error: `exit ${code} ${err.split('\n').slice(-3).join(' ').slice(0, 200)}`,
      });
    });
  });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-ws-bench-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const server = fork(__filename, ['--server', dir], { stdio: 'inherit' });
  const { port } = await new Promise((resolve) => server.once('message', resolve));
  const url = `wss://localhost:${port}/echo`;
  const rounds = Number(opt('rounds', 3));
  const clients = opt('clients', CLIENTS.join(',')).split(',');
  const records = [];
  for (let r = 0; r < rounds; r++) {
    for (const workload of Object.keys(WORKLOADS)) {
      for (const name of clients) {
        const rec = await runCell(name, workload, url);
        rec.round = r + 1;
        records.push(rec);
        console.log(JSON.stringify(rec));
      }
    }
  }
  server.kill();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.writeFileSync(
    path.join(HERE, 'results-ws.json'),
    `${JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, node: process.version, records }, null, 1)}\n`,
  );
  fs.writeFileSync(path.join(HERE, 'RESULTS-ws.md'), report(records, rounds));
}

function report(records, rounds) {
  const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const lines = [
    '# WebSocket echo benchmark (bench/ws.js)',
    '',
    `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} CPUs, Node ${process.version}, ${rounds} rounds, median per cell.`,
    "Server: the `ws` package over TLS on 127.0.0.1, no compression, in its own process. CPU and RSS are the client process's.",
    '',
    '| workload | client | msgs/s | MiB/s (both ways) | CPU ms / 1000 msgs | peak RSS MB | open ms | failures |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const workload of Object.keys(WORKLOADS)) {
    for (const name of CLIENTS) {
      const cells = records.filter((r) => r.client === name && r.workload === workload);
      if (!cells.length) continue;
      const ok = cells.filter((r) => !r.error && r.bad === 0);
      const errors = [
        ...new Set(cells.filter((r) => r.error).map((r) => r.error.replace(/\s+/g, ' ').slice(0, 90))),
      ];
      lines.push(
        `| ${workload} | ${name} | ${fmt(median(ok.map((r) => r.msgsPerSec)))} | ${fmt(median(ok.map((r) => r.mibPerSec)), 1)} | ${fmt(median(ok.map((r) => r.cpuMsPer1000)), 1)} | ${fmt(median(ok.map((r) => r.maxRssMb)))} | ${fmt(median(ok.map((r) => r.openMs)))} | ${cells.length - ok.length ? `${cells.length - ok.length}/${cells.length}: ${errors.join('; ')}` : '0'} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

if (argv[0] === '--server') {
  serve(argv[1]);
} else if (argv[0] === '--child') {
  cell(argv[1], argv[2], argv[3]).then(
    (rec) => {
      process.send(rec);
      process.exit(0);
    },
    (err) => {
      process.send({ client: argv[1], workload: argv[2], error: String(err && err.message) });
      process.exit(0);
    },
  );
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
