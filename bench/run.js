#!/usr/bin/env node
'use strict';
// Benchmark driver: `node run.js [--rounds 3] [--n-small 2000] [--n-large 200] [--n-sweep 5000]
//   [--n-c10k 10000] [--n-c50k 50000] [--n-cold 1000] [--n-long 200000] [--clients a,b]
//   [--workloads small,large,...] [--issue16] [--quick] [--noisy-pct 50] [--server auto|nginx|node]
//   [--install-nginx] [--install-h2load] [--nginx-workers 1] [--cell-timeout 300] [--warmup-frac 0.5]
//   [--keep-work] [--out NAME] [--report-from results.json]`
// Starts the HTTPS target server in its own process (loopback only; an HTTP/1.1-only port, an h2
// port, listeners that close after each request) and, for proxy-* workloads, local proxies in
// their own processes; then runs every (client, workload) cell in a fresh child process
// (client.js; h2load directly), interleaved for R rounds, measuring the client's whole process
// tree from /proc. Writes RESULTS.md and results.json (see README.md).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fork, execFileSync } = require('node:child_process');
const proc = require('./lib/proc');
const { cli, median } = require('./lib/cli');
const { WORKLOADS } = require('./lib/body');
const { startServer, freePort } = require('./lib/server');
const { startCaddy } = require('./lib/caddy');
const { findH2load, argsFor, runH2load } = require('./lib/h2load');
const { DEFAULT_CLIENTS, CLIENTS, NO_PROXY } = require('./clients');

const HERE = __dirname;
const { argv, has, opt } = cli(__filename, 10);
const quick = has('quick');
const H2LOAD = 'h2load'; // the pseudo-client: nghttp2's h2load run directly (lib/h2load.js)
const list = (s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
// --issue16: every workload, the heavy opt-in ones (h2-c50k, long) included
const defaultWorkloads = Object.keys(WORKLOADS).filter((w) => has('issue16') || !WORKLOADS[w].optIn);
const cfg = {
  rounds: Number(opt('rounds', quick ? 1 : 3)),
  n: {
    small: Number(opt('n-small', quick ? 200 : 2000)),
    large: Number(opt('n-large', quick ? 20 : 200)),
    c10k: Number(opt('n-c10k', quick ? 2000 : 10000)),
    sweep: Number(opt('n-sweep', quick ? 2000 : 5000)), // h2-c100, h2-c1k
    c50k: Number(opt('n-c50k', 50000)), // fewer would never have 50 000 in flight
    cold: Number(opt('n-cold', quick ? 200 : 1000)),
    long: Number(opt('n-long', quick ? 20000 : 200000)),
  },
  clients: list(opt('clients', [H2LOAD, ...DEFAULT_CLIENTS].join(','))),
  workloads: list(opt('workloads', defaultWorkloads.join(','))),
  server: opt('server', 'auto'),
  installNginx: has('install-nginx'),
  installH2load: has('install-h2load'),
  nginxWorkers: Number(opt('nginx-workers', 1)),
  cellTimeoutMs: Number(opt('cell-timeout', 300)) * 1000,
  noisyPct: Number(opt('noisy-pct', 50)), // rerun a cell (up to 2×) when other processes used more CPU than this % of a core
  warmupFrac: Number(opt('warmup-frac', 0.5)), // warm-up = max(2 × concurrency, frac × N), untimed
  quick,
};
for (const c of cfg.clients)
  if (!CLIENTS[c] && c !== H2LOAD) {
    console.error(`unknown client ${c}; known: ${[H2LOAD, ...Object.keys(CLIENTS)].join(', ')}`);
    process.exit(2);
  }
// `crawl` is not a request workload: Crawlee's HttpCrawler with each HTTP client (crawl.js)
const crawlOnly = cfg.workloads.includes('crawl');
cfg.workloads = cfg.workloads.filter((w) => w !== 'crawl');
for (const w of cfg.workloads)
  if (!WORKLOADS[w]) {
    console.error(`unknown workload ${w}; known: ${Object.keys(WORKLOADS).join(', ')}`);
    process.exit(2);
  }

const workRoot = path.join(HERE, '.work');
const outDir = quick ? workRoot : HERE; // smoke runs never overwrite the committed results
// --out NAME: RESULTS-NAME.md / results-NAME.json, for a run that must not replace the main results
// (a before/after comparison of one change, say).
const outName = opt('out', quick ? 'quick' : '');
let outMd = path.join(outDir, outName ? `RESULTS-${outName}.md` : 'RESULTS.md');
const outJson = path.join(outDir, outName ? `results-${outName}.json` : 'results.json');

const log = (...a) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function machineInfo() {
  let cpuModel = 'unknown';
  try {
    cpuModel = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))[1].trim();
  } catch {}
  return {
    cpuModel,
    cores: os.cpus().length,
    ramGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    clkTck: proc.CLK_TCK,
  };
}

function versions() {
  const v = {};
  const pj = (p) => {
    try {
      return JSON.parse(fs.readFileSync(p, 'utf8')).version;
    } catch {
      return null;
    }
  };
  v['cycletls-native'] = pj(path.join(HERE, '..', 'package.json'));
  try {
    v['cycletls-native'] +=
      ` (git ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: path.join(HERE, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()}, working tree may differ)`;
  } catch {}
  if (process.env.CTN_BENCH_BASELINE) {
    const base = path.resolve(process.env.CTN_BENCH_BASELINE);
    v['cycletls-native-baseline'] = pj(path.join(base, 'package.json'));
    try {
      v['cycletls-native-baseline'] +=
        ` (git ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: base, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()})`;
    } catch {}
  }
  for (const p of ['cycletls', 'undici', 'impit', 'wreq-js'])
    v[p] = pj(path.join(HERE, 'node_modules', p, 'package.json'));
  if (h2load) v[H2LOAD] = `${h2load.version} (nghttp2-client)`;
  return v;
}

// Processes we saw in a client's tree (pid -> starttime), to clean up leftovers after the cell.
function killLeftovers(seen) {
  for (const [pid, start] of seen) {
    const st = proc.readStat(pid);
    if (st && st.starttime === start && st.state !== 'Z') {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
}

let currentChild = null;
const nOf = (wl) => cfg.n[WORKLOADS[wl].size]; // small / h2-small: --n-small; large / h2-large: --n-large; ...
const warmupCount = (wl) =>
  Math.min(
    nOf(wl),
    WORKLOADS[wl].warmup ?? Math.max(2 * WORKLOADS[wl].concurrency, Math.round(cfg.warmupFrac * nOf(wl))),
  );
const PORT_OF = { h1: 'port', h2: 'h2Port', h1cold: 'h1ColdPort', h2cold: 'h2ColdPorts', caddy: 'caddyPort' };
// the listener(s) of a server kind: several (cold-h2) are comma-separated, the client takes them in turn
const baseOf = (server, kind) =>
  [server[PORT_OF[kind]]]
    .flat()
    .map((port) => `https://127.0.0.1:${port}`)
    .join(',');
const SERVER_KINDS = { h1: 'HTTP/1.1-only port', h2: 'h2 port' }; // the probed ones
const MiB = 2 ** 20;

let h2load = null; // { bin, version } once found
let caddy = null; // the HTTP/3 rows' server (lib/caddy.js), when one of them runs
let caddyFailed = '';
// The server a workload's cells run against: caddy for the HTTP/3 rows, else the main one.
const serverFor = (server, workload) => (WORKLOADS[workload].server === 'caddy' ? caddy : server);
const proxies = {}; // kind -> { pid, url, stop() }

// Why a (client, workload) cell is not run, or null: shown as "skipped: ..." in the tables.
function skipReason(server, client, workload) {
  const w = WORKLOADS[workload];
  if (w.clients && !w.clients.includes(client)) return w.clientsWhy;
  if (w.skip && w.skip[client]) return w.skip[client];
  if (w.server === 'caddy' && !caddy) return `caddy did not start: ${caddyFailed}`;
  if (client === H2LOAD && w.server === 'caddy')
    return 'h2load speaks no HTTP/3 (and the rows compare h3 with h2)';
  if (!server[PORT_OF[w.server]]) return `the ${server.kind} server has no ${w.server} listener (nginx only)`;
  if (w.proxy && !proxies[w.proxy]) return `the ${w.proxy} proxy did not start`;
  if (client === H2LOAD) {
    if (!h2load) return 'h2load not installed (`apt-get install -y nghttp2-client`, or `--install-h2load`)';
    if (w.proxy) return 'h2load has no proxy support';
    if (w.server === 'h2cold') return 'h2load takes one origin and does not retry streams refused by GOAWAY';
    return null;
  }
  if (w.proxy && NO_PROXY[client]) return NO_PROXY[client];
  return null;
}

async function startProxy(kind) {
  const child = fork(path.join(HERE, 'lib', 'proxy-proc.js'), [kind], {
    cwd: HERE,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const m = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`proxy ${kind} exited (${code})`)));
  });
  return {
    pid: child.pid,
    url: m.url,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

// What each client negotiates with one of the server's ports (one request, fresh process): TLS
// version/cipher, HTTP version and ALPN as the server saw them, and the client's own report if any.
async function probeTls(server, client, kind) {
  if (client === H2LOAD) {
    if (!h2load) return 'h2load not installed';
    const w = { proto: kind === 'h1' ? 'HTTP/1.1' : 'HTTP/2.0', concurrency: 1 };
    const r = await runH2load(h2load.bin, argsFor(w, `${baseOf(server, kind)}/proto`, 1), {
      timeoutMs: 60000,
    });
    if (r.error) return `failed: ${r.error}`;
    return `(h2load's own view) ${r.tlsVersion} ${r.cipher} alpn=${r.alpn || '(none)'}`;
  }
  const args = [client, 'probe', '--base', baseOf(server, kind)];
  if (client.startsWith('cycletls') && client !== 'cycletls-native')
    args.push('--cycle-port', String(await freePort()));
  const child = fork(path.join(HERE, 'client.js'), args, {
    cwd: HERE,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  currentChild = child;
  let out = '';
  child.stdout.on('data', (d) => {
    out = (out + d).slice(-2000);
  });
  child.stderr.on('data', (d) => {
    out = (out + d).slice(-2000);
  });
  const seen = new Map();
  const timer = setInterval(() => {
    for (const m of proc.tree(child.pid)) seen.set(m.pid, m.starttime);
  }, 50);
  let result = null;
  child.on('message', (m) => {
    if (m.type === 'probe')
      result =
        m.result.tls +
        (m.result.clientProtocol !== undefined
          ? ` (client reports protocol ${JSON.stringify(m.result.clientProtocol)})`
          : '');
    if (m.type === 'fatal') result = `failed: ${m.error.split('\n')[0].slice(0, 200)}`;
  });
  const killer = setTimeout(() => {
    try {
      child.kill('SIGKILL');
    } catch {}
  }, 60000);
  await new Promise((r) => child.on('exit', r));
  clearTimeout(killer);
  clearInterval(timer);
  currentChild = null;
  killLeftovers(seen);
  return result || `failed: ${out.trim().split('\n').pop() || 'no answer'}`;
}

async function runCell(server, client, workload, round) {
  const w = WORKLOADS[workload];
  const n = nOf(workload);
  const args = [
    client,
    workload,
    '--base',
    baseOf(server, w.server),
    '--n',
    String(n),
    '--warmup',
    String(warmupCount(workload)),
  ];
  if (client.startsWith('cycletls') && client !== 'cycletls-native')
    args.push('--cycle-port', String(await freePort()));
  if (w.proxy) args.push('--proxy', proxies[w.proxy].url);

  const conns0 = await server.connections().catch(() => NaN);
  const rec = { round, client, workload, n, concurrency: w.concurrency, ok: false };
  const child = fork(path.join(HERE, 'client.js'), args, {
    cwd: HERE,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  currentChild = child;
  let stderr = '';
  const keep = (d) => {
    stderr = (stderr + d).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);

  const seen = new Map();
  let peakRss = 0;
  let peakProcs = 0;
  const sample = () => {
    const members = proc.tree(child.pid);
    for (const m of members) seen.set(m.pid, m.starttime);
    peakRss = Math.max(peakRss, proc.treeRssBytes(members));
    peakProcs = Math.max(peakProcs, members.length);
    return members;
  };
  const snapshot = () => {
    const all = proc.allStats();
    const members = proc.tree(child.pid, all);
    for (const m of members) seen.set(m.pid, m.starttime);
    const self = proc.readStat(process.pid);
    // descendants only (live ones + those the client already reaped): the Node process itself is
    // measured precisely by the client with process.cpuUsage() (µs instead of 10 ms ticks)
    const root = members.find((x) => x.pid === child.pid);
    const desc = proc.treeCpuTicks(members) - (root ? root.utime + root.stime : 0);
    return {
      client: proc.treeCpuTicks(members),
      desc,
      server: proc.treeCpuTicks(proc.tree(server.pid, all)),
      proxy: w.proxy ? proc.treeCpuTicks(proc.tree(proxies[w.proxy].pid, all)) : 0,
      rss: proc.treeRssBytes(members),
      fds: proc.treeFds(members),
      runner: self.utime + self.stime,
      system: proc.systemBusyTicks(),
      t: performance.now(),
    };
  };
  const timer = setInterval(sample, 50);
  let a = null;
  let b = null;
  let timedConns0 = NaN;
  let timedConns1 = NaN;
  const done = new Promise((resolve) => {
    const deadline = setTimeout(() => {
      rec.error = `cell timeout after ${cfg.cellTimeoutMs / 1000} s`;
      try {
        child.kill('SIGKILL');
      } catch {}
      killLeftovers(seen);
    }, cfg.cellTimeoutMs);
    child.on('message', async (m) => {
      if (m.type === 'ready') {
        sample();
        a = snapshot();
        rec.initMs = m.initMs;
        timedConns0 = await server.connections().catch(() => NaN);
        child.send({ type: 'go' });
      } else if (m.type === 'done') {
        b = snapshot();
        sample();
        Object.assign(rec, m.result);
        timedConns1 = await server.connections().catch(() => NaN);
        child.send({ type: 'ack' });
      } else if (m.type === 'fatal') {
        rec.error = m.error.split('\n').slice(0, 3).join(' | ');
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      rec.exit = signal || code;
      resolve();
    });
  });
  await done;
  clearInterval(timer);
  currentChild = null;
  killLeftovers(seen);

  if (a && b && rec.reqPerSec !== undefined) {
    rec.ok = true;
    const ms = (t) => proc.ticksToMs(t);
    rec.childrenCpuMs = ms(b.desc - a.desc);
    rec.clientCpuMs = rec.nodeCpuMs + rec.childrenCpuMs; // tree CPU: Node process (precise) + descendants (ticks)
    rec.clientCpuMsTicks = ms(b.client - a.client); // same, all from /proc ticks (cross-check)
    rec.cpuMsPerReq = rec.clientCpuMs / n;
    rec.nodeCpuMsPerReq = rec.nodeCpuMs / n;
    rec.serverCpuMsPerReq = ms(b.server - a.server) / n;
    rec.proxyCpuMsPerReq = w.proxy ? ms(b.proxy - a.proxy) / n : undefined;
    rec.mibPerSec = (rec.reqPerSec * w.bytes) / MiB;
    rec.rssStartMB = a.rss / MiB;
    rec.rssEndMB = b.rss / MiB;
    rec.fdsStart = a.fds;
    rec.fdsEnd = b.fds;
    rec.timedConnections = server.connectionsDelta(timedConns0, timedConns1);
    rec.connsPerSec = (rec.timedConnections * 1000) / rec.wallMs;
    const other =
      b.system -
      a.system -
      (b.client - a.client) -
      (b.server - a.server) -
      (b.proxy - a.proxy) -
      (b.runner - a.runner);
    rec.backgroundCpuPctOfCore = (100 * ms(Math.max(0, other))) / (b.t - a.t);
  } else if (!rec.error) {
    rec.error = `client exited (${rec.exit}) before finishing`;
  }
  if (!rec.ok && stderr.trim())
    rec.stderrTail = stderr.trim().split('\n').slice(-5).join(' | ').slice(0, 600);
  rec.peakRssMB = peakRss / 2 ** 20;
  rec.peakProcs = peakProcs;
  const conns1 = await server.connections().catch(() => NaN);
  rec.serverConnections = server.connectionsDelta(conns0, conns1);
  return rec;
}

// The h2load pseudo-client's cell: an untimed warm-up run, then the timed run (its own "finished in"
// time). Its CPU comes from the wrapping shell's stat (ticks, 10 ms); peak RSS is sampled like a
// client's. bad = requests not succeeded, non-2xx, or data bytes that differ from n × body size.
async function runH2loadCell(server, workload, round) {
  const w = WORKLOADS[workload];
  const n = nOf(workload);
  const url = baseOf(server, w.server) + w.path;
  const rec = { round, client: H2LOAD, workload, n, concurrency: w.concurrency, ok: false };
  const seen = new Map();
  let peakRss = 0;
  let peakProcs = 0;
  let rootPid = 0;
  const sample = () => {
    if (!rootPid) return;
    const members = proc.tree(rootPid);
    for (const m of members) seen.set(m.pid, m.starttime);
    peakRss = Math.max(peakRss, proc.treeRssBytes(members));
    peakProcs = Math.max(peakProcs, members.length);
  };
  const timer = setInterval(sample, 50);
  const onSpawn = (pid) => {
    rootPid = pid;
  };
  const conns0 = await server.connections().catch(() => NaN);
  const warm = await runH2load(h2load.bin, argsFor(w, url, warmupCount(workload)), {
    timeoutMs: cfg.cellTimeoutMs,
    onSpawn,
  });
  let r = warm;
  if (!warm.error) {
    rec.warmupBad = warm.total - warm.succeeded || 0;
    const snap = () => ({
      server: proc.treeCpuTicks(proc.tree(server.pid, proc.allStats())),
      runner: ((st) => st.utime + st.stime)(proc.readStat(process.pid)),
      system: proc.systemBusyTicks(),
      t: performance.now(),
    });
    const a = snap();
    const c0 = await server.connections().catch(() => NaN);
    r = await runH2load(h2load.bin, argsFor(w, url, n), { timeoutMs: cfg.cellTimeoutMs, onSpawn });
    const b = snap();
    const c1 = await server.connections().catch(() => NaN);
    if (!r.error) {
      const ms = (t) => proc.ticksToMs(t);
      rec.ok = true;
      rec.wallMs = r.durationMs;
      rec.reqPerSec = (r.succeeded * 1000) / r.durationMs;
      rec.mibPerSec = (r.dataBytes * 1000) / r.durationMs / MiB;
      rec.p50Ms = NaN;
      rec.p99Ms = NaN;
      rec.nodeCpuMs = 0;
      rec.childrenCpuMs = ms(r.cpuTicks);
      rec.clientCpuMs = rec.childrenCpuMs;
      rec.cpuMsPerReq = rec.clientCpuMs / n;
      rec.nodeCpuMsPerReq = 0;
      rec.serverCpuMsPerReq = ms(b.server - a.server) / n;
      const other = b.system - a.system - r.cpuTicks - (b.server - a.server) - (b.runner - a.runner);
      rec.backgroundCpuPctOfCore = (100 * ms(Math.max(0, other))) / (b.t - a.t);
      const dataOk = r.dataBytes === r.succeeded * w.bytes;
      rec.bad = n - Math.min(r.succeeded, r.status2xx) + (dataOk ? 0 : r.succeeded);
      rec.errors = [];
      if (r.succeeded < n)
        rec.errors.push(
          `${n - r.succeeded}x h2load: ${r.failed} failed, ${r.errored} errored, ${r.timeout} timeout`,
        );
      if (!dataOk)
        rec.errors.push(`${r.succeeded}x h2load data ${r.dataBytes} bytes != ${r.succeeded} × ${w.bytes}`);
      // h2load's negotiated ALPN (it does not see the server's X-Bench-Proto header)
      const proto = { h2: 'HTTP/2.0', 'http/1.1': 'HTTP/1.1' }[r.alpn] || r.alpn || '?';
      rec.protos = { [proto]: r.succeeded };
      rec.clientProtocols = {};
      rec.timedConnections = server.connectionsDelta(c0, c1);
      rec.connsPerSec = (rec.timedConnections * 1000) / rec.wallMs;
    }
  }
  clearInterval(timer);
  killLeftovers(seen);
  if (r.error) rec.error = r.error;
  rec.peakRssMB = peakRss / MiB;
  rec.peakProcs = peakProcs;
  const conns1 = await server.connections().catch(() => NaN);
  rec.serverConnections = server.connectionsDelta(conns0, conns1);
  return rec;
}

function sumCounts(list) {
  const out = {};
  for (const c of list) for (const [k, v] of Object.entries(c || {})) out[k] = (out[k] || 0) + v;
  return out;
}
// "HTTP/2.0" when every good timed response was served over the workload's expected version,
// otherwise the counts (e.g. "HTTP/1.1 ×600!") so a client that fell back is visible in the table.
function protoCell(r) {
  const want = WORKLOADS[r.workload].proto;
  const ks = Object.keys(r.protos);
  if (!ks.length) return '—';
  if (ks.length === 1 && ks[0] === want)
    return want.replace('HTTP/2.0', 'h2').replace('HTTP/1.1', 'h1').replace('HTTP/3.0', 'h3');
  return ks.map((k) => `${k} ×${r.protos[k]}`).join(', ') + '!';
}

// per-round "12x message" lists -> one list over all rounds, counts summed, most frequent first
function mergeErrors(lists, keep = 3) {
  const m = new Map();
  for (const l of lists) {
    for (const e of l || []) {
      const x = /^(\d+)x ([\s\S]*)$/.exec(e);
      const [k, raw] = x ? [Number(x[1]), x[2]] : [1, e];
      const msg = raw.replace(/(\d+\.\d+\.\d+\.\d+):\d+->/g, '$1:*->'); // client's ephemeral port differs per connection
      m.set(msg, (m.get(msg) || 0) + k);
    }
  }
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, keep)
    .map(([msg, k]) => `${k}x ${msg}`);
}

function summarize(records) {
  const rows = [];
  for (const workload of cfg.workloads) {
    for (const client of cfg.clients) {
      const rs = records.filter((r) => r.client === client && r.workload === workload);
      const ok = rs.filter((r) => r.ok);
      const med = (key) => median(ok.map((r) => r[key]));
      const row = {
        workload,
        client,
        rounds: rs.length,
        roundsOk: ok.length,
        skipped: rs.length && rs.every((r) => r.skipped) ? rs[0].skipped : undefined,
        reqPerSec: med('reqPerSec'),
        mibPerSec: med('mibPerSec'),
        p50Ms: med('p50Ms'),
        p99Ms: med('p99Ms'),
        cpuMsPerReq: med('cpuMsPerReq'),
        nodeCpuMsPerReq: med('nodeCpuMsPerReq'),
        childrenCpuMsPerReq: median(ok.map((r) => r.childrenCpuMs / r.n)),
        serverCpuMsPerReq: med('serverCpuMsPerReq'),
        proxyCpuMsPerReq: med('proxyCpuMsPerReq'),
        peakRssMB: med('peakRssMB'),
        rssStartMB: med('rssStartMB'),
        rssEndMB: med('rssEndMB'),
        fdsStart: med('fdsStart'),
        fdsEnd: med('fdsEnd'),
        serverConnections: med('serverConnections'),
        timedConnections: med('timedConnections'),
        connsPerSec: med('connsPerSec'),
        bad: ok.reduce((s, r) => s + r.bad, 0),
        protos: sumCounts(ok.map((r) => r.protos)),
        clientProtocols: sumCounts(ok.map((r) => r.clientProtocols)),
        resumed: sumCounts(ok.map((r) => r.resumed)),
        requests: ok.reduce((s, r) => s + r.n, 0),
        warmupBad: ok.reduce((s, r) => s + (r.warmupBad || 0), 0),
        perRoundReqPerSec: rs.filter((r) => !r.skipped).map((r) => (r.ok ? r.reqPerSec : null)),
        failures: rs
          .filter((r) => !r.ok && !r.skipped)
          .map((r) => `round ${r.round}: ${r.error}${r.stderrTail ? ` (${r.stderrTail})` : ''}`),
        errors: mergeErrors(ok.map((r) => r.errors)),
      };
      rows.push(row);
    }
  }
  return rows;
}

const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const f3 = (x) =>
  Number.isFinite(x) ? (x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3)) : '—';
const OURS = 'cycletls-native';
const isLarge = (wl) => WORKLOADS[wl].bytes >= MiB;
// CPU ms per MiB of body from CPU ms per request
const perMiB = (wl, msPerReq) => msPerReq / (WORKLOADS[wl].bytes / MiB);

// A row with a usable result: at least one round ran and not every response was bad.
const valid = (rows, wl, c) =>
  rows.find((r) => r.workload === wl && r.client === c && r.roundsOk > 0 && r.bad < r.requests);
const selected = (wl, ...clients) =>
  cfg.workloads.includes(wl) && clients.every((c) => cfg.clients.includes(c));
const isSkipped = (rows, wl, c) => rows.some((x) => x.workload === wl && x.client === c && x.skipped);
const why = (rows, wl, c) => {
  const r = rows.find((x) => x.workload === wl && x.client === c);
  return r && r.skipped ? `${c} skipped: ${r.skipped}` : `${c} has no valid result`;
};

// ", 40 % resumed": the share of good timed responses whose TLS session was resumed (X-Bench-Resumed)
function resumedNote(r) {
  const all = (r.resumed.r || 0) + (r.resumed['.'] || 0);
  return all ? `, ${Math.round((100 * (r.resumed.r || 0)) / all)} % resumed` : '';
}

function ratioLines(rows) {
  const lines = [];
  // ours[key] / other[key] on one workload (lines for clients not in the run are left out)
  const ratio = (label, wl, other, key, mine = OURS) => {
    if (!selected(wl, mine, other) || isSkipped(rows, wl, mine) || isSkipped(rows, wl, other)) return;
    const ours = valid(rows, wl, mine);
    const them = valid(rows, wl, other);
    if (!ours || !them) {
      lines.push(`- ${wl}: ${label}: n/a (${why(rows, wl, !ours ? mine : other)})`);
      return;
    }
    const x = ours[key] / them[key];
    const word =
      key === 'reqPerSec' || key === 'mibPerSec' || key === 'connsPerSec'
        ? x >= 1
          ? 'faster'
          : 'slower'
        : key === 'peakRssMB'
          ? x <= 1
            ? 'less memory'
            : 'more memory'
          : x <= 1
            ? 'less CPU'
            : 'more CPU';
    lines.push(`- ${wl}: ${label}: **${x.toFixed(2)}×** (${f3(ours[key])} vs ${f3(them[key])}; ${word})`);
  };
  for (const wl of cfg.workloads) {
    const w = WORKLOADS[wl];
    if (isLarge(wl)) ratio(`${OURS} / h2load bytes/s (MiB/s)`, wl, H2LOAD, 'mibPerSec');
    else ratio(`${OURS} / h2load req/s`, wl, H2LOAD, 'reqPerSec');
    ratio(`${OURS} / wreq-js req/s`, wl, 'wreq-js', 'reqPerSec');
    ratio(`${OURS} / cycletls (defaults) req/s`, wl, 'cycletls', 'reqPerSec');
    ratio(`${OURS} / undici CPU ms per request`, wl, 'undici', 'cpuMsPerReq');
    ratio(`${OURS} / wreq-js CPU ms per request`, wl, 'wreq-js', 'cpuMsPerReq');
    ratio(`peak RSS ${OURS} / wreq-js`, wl, 'wreq-js', 'peakRssMB');
    const ours = valid(rows, wl, OURS);
    if (ours && selected(wl, OURS))
      lines.push(
        `- ${wl}: ${OURS} CPU: ${f3(ours.cpuMsPerReq)} ms per request${isLarge(wl) ? `, ${f3(perMiB(wl, ours.cpuMsPerReq))} ms per MiB` : ''}`,
      );
    if (w.sweep && selected('h2-small', OURS)) {
      const base = valid(rows, 'h2-small', OURS);
      if (ours && base)
        lines.push(
          `- ${wl}: ${OURS} CPU ms per request / h2-small's (32 in flight): **${(ours.cpuMsPerReq / base.cpuMsPerReq).toFixed(2)}×** (${f3(ours.cpuMsPerReq)} vs ${f3(base.cpuMsPerReq)}; ${nOf(wl)} vs ${nOf('h2-small')} requests)`,
        );
    }
    if (w.server === 'h1cold' || w.server === 'h2cold') {
      ratio(`${OURS} / wreq-js new connections/s (timed phase)`, wl, 'wreq-js', 'connsPerSec');
      const each = cfg.clients
        .map((c) => valid(rows, wl, c))
        .filter(Boolean)
        .map(
          (r) =>
            `${r.client} ${f(r.connsPerSec, 0)} (${f(r.timedConnections, 0)} for ${nOf(wl)} requests${resumedNote(r)})`,
        );
      if (each.length) lines.push(`- ${wl}: new connections/s in the timed phase: ${each.join(', ')}`);
    }
    if (w.proxy && cfg.workloads.includes('h2-small')) {
      for (const c of cfg.clients) {
        const via = valid(rows, wl, c);
        const direct = valid(rows, 'h2-small', c);
        if (!via || !direct) continue;
        lines.push(
          `- ${wl}: ${c}: through the proxy / direct (h2-small) req/s: **${(via.reqPerSec / direct.reqPerSec).toFixed(2)}×** (${f(via.reqPerSec, 0)} vs ${f(direct.reqPerSec, 0)}); client CPU ${f3(via.cpuMsPerReq)} vs ${f3(direct.cpuMsPerReq)} ms/req; the proxy process's CPU ${f3(via.proxyCpuMsPerReq)} ms/req`,
        );
      }
    }
    if (w.size === 'long') {
      for (const c of cfg.clients) {
        const r = valid(rows, wl, c);
        if (r)
          lines.push(
            `- ${wl}: ${c}: RSS ${f(r.rssStartMB)} → ${f(r.rssEndMB)} MB over ${nOf(wl)} requests (peak ${f(r.peakRssMB)}), open fds ${f(r.fdsStart, 0)} → ${f(r.fdsEnd, 0)}`,
          );
      }
    }
    ratio(
      'cycletls-native-remote (via the process link) / cycletls-native (in-process) req/s',
      wl,
      OURS,
      'reqPerSec',
      'cycletls-native-remote',
    );
    ratio(
      'cycletls-native-remote / cycletls-native CPU ms per request (both processes)',
      wl,
      OURS,
      'cpuMsPerReq',
      'cycletls-native-remote',
    );
  }
  return lines;
}

// Issue #16's targets, each with the measured figure from this run: met / not met / n/a (with why:
// a workload or client not in this run, a skipped or failed cell).
function targetRows(rows) {
  const out = [];
  const add = (target, wl, measured, met) =>
    out.push(
      `| ${target} | ${wl} | ${measured} | ${met === undefined ? 'n/a' : met ? 'met' : '**not met**'} |`,
    );
  // null when every workload and client is in the run, else what is missing
  const absent = (wls, clients) => {
    const miss = [
      ...wls.filter((w) => !cfg.workloads.includes(w)),
      ...clients.filter((c) => !cfg.clients.includes(c)),
    ];
    return miss.length ? `n/a (not in this run: ${miss.join(', ')})` : null;
  };
  // ours / other (or mine / other) on key, met when ≥ min (or ≤ max)
  const compare = (label, wl, other, key, { min, max, mine = OURS, base = wl, unit = '' }) => {
    const gone = absent([...new Set([wl, base])], [mine, other]);
    if (gone) return add(label, wl, gone, undefined);
    const a = valid(rows, wl, mine);
    const b = valid(rows, base, other);
    if (!a || !b)
      return add(label, wl, `n/a (${!a ? why(rows, wl, mine) : why(rows, base, other)})`, undefined);
    const x = a[key] / b[key];
    const met = min !== undefined ? x >= min : x <= max;
    add(label, wl, `${x.toFixed(2)}× (${f3(a[key])} vs ${f3(b[key])}${unit})`, met);
  };
  const cpu = (wl, max, perMib, label) => {
    const gone = absent([wl], [OURS]);
    if (gone) return add(label, wl, gone, undefined);
    const a = valid(rows, wl, OURS);
    if (!a) return add(label, wl, `n/a (${why(rows, wl, OURS)})`, undefined);
    const x = perMib ? perMiB(wl, a.cpuMsPerReq) : a.cpuMsPerReq;
    add(label, wl, `${f3(x)} ms`, x <= max);
  };
  for (const wl of ['small', 'h2-small']) {
    compare('≥ 1.3× wreq-js req/s', wl, 'wreq-js', 'reqPerSec', { min: 1.3 });
    cpu(wl, 0.06, false, '≤ 0.06 ms client CPU per request');
  }
  compare('≥ 1.3× wreq-js req/s', 'h2-c10k', 'wreq-js', 'reqPerSec', { min: 1.3 });
  for (const wl of Object.keys(WORKLOADS).filter((x) => WORKLOADS[x].sweep))
    compare('CPU per request ≤ 1.3× the 32-in-flight figure (h2-small)', wl, OURS, 'cpuMsPerReq', {
      max: 1.3,
      base: 'h2-small',
      unit: ' ms',
    });
  for (const wl of ['cold-h1', 'cold-h2'])
    compare('≥ 1.2× wreq-js req/s', wl, 'wreq-js', 'reqPerSec', { min: 1.2 });
  for (const wl of ['large', 'h2-large']) {
    compare('≥ 0.95× h2load bytes/s', wl, H2LOAD, 'mibPerSec', { min: 0.95, unit: ' MiB/s' });
    cpu(wl, 0.8, true, '≤ 0.8 ms client CPU per MiB');
  }
  for (const wl of ['small', 'h2-small', 'large', 'h2-large'])
    compare('cross-process (cycletls-native-remote) ≥ 0.9× in-process req/s', wl, OURS, 'reqPerSec', {
      min: 0.9,
      mine: 'cycletls-native-remote',
    });
  for (const wl of cfg.workloads)
    compare('peak RSS ≤ 1.10× wreq-js', wl, 'wreq-js', 'peakRssMB', { max: 1.1, unit: ' MB' });
  {
    const label = 'flat over the long run: end RSS ≤ 1.10× start, end fds ≤ start fds';
    const gone = absent(['long'], [OURS]);
    const a = !gone && valid(rows, 'long', OURS);
    if (gone || !a) add(label, 'long', gone || `n/a (${why(rows, 'long', OURS)})`, undefined);
    else
      add(
        label,
        'long',
        `RSS ${f(a.rssStartMB)} → ${f(a.rssEndMB)} MB, fds ${f(a.fdsStart, 0)} → ${f(a.fdsEnd, 0)}`,
        a.rssEndMB <= 1.1 * a.rssStartMB && a.fdsEnd <= a.fdsStart,
      );
  }
  for (const wl of ['proxy-connect', 'proxy-socks5']) {
    const label = "no target: through the proxy vs direct (h2-small), and the proxy process's own CPU";
    const gone = absent([wl, 'h2-small'], [OURS]);
    const a = !gone && valid(rows, wl, OURS);
    const d = !gone && valid(rows, 'h2-small', OURS);
    if (gone || !a || !d) add(label, wl, gone || 'n/a (no valid result)', undefined);
    else
      out.push(
        `| ${label} | ${wl} | ${(a.reqPerSec / d.reqPerSec).toFixed(2)}× req/s (${f(a.reqPerSec, 0)} vs ${f(d.reqPerSec, 0)}); client CPU ${f3(a.cpuMsPerReq)} vs ${f3(d.cpuMsPerReq)} ms/req; proxy CPU ${f3(a.proxyCpuMsPerReq)} ms/req | report |`,
      );
  }
  return out;
}

function writeReport(meta, rows, records) {
  const m = meta.machine;
  const la = (l) => l.map((x) => x.toFixed(2)).join(' / ');
  const out = [];
  out.push(
    `# cycletls-native benchmark results${cfg.quick ? ' (QUICK smoke run — not representative)' : ''}`,
    '',
  );
  out.push(
    `Generated by \`bench/run.js\` on ${meta.finishedAt} (started ${meta.startedAt}, took ${(meta.durationMs / 1000).toFixed(0)} s). Command: \`${['node run.js', ...argv].join(' ')}\`.`,
    '',
  );
  out.push(
    `- **Machine:** ${m.cpuModel}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.kernel}, Node ${m.node}; load average (1/5/15 min) before ${la(meta.loadBefore)}, after ${la(meta.loadAfter)}.`,
  );
  out.push(
    `- **Server:** ${meta.server} on 127.0.0.1 (separate process, same cores as the client), static 1 KiB and 1 MiB files, uncompressed (gzip off; the self-check asked with \`accept-encoding: gzip, deflate, br, zstd\` and got no content-encoding). Self-check (Node \`tls\`, offering h2 and http/1.1): the HTTP/1.1 port's ALPN picks ${meta.serverAlpn.h1}, the h2 port's picks ${meta.serverAlpn.h2}.`,
  );
  out.push(
    `- **Clients:** ${Object.entries(meta.versions)
      .filter(([k]) => cfg.clients.some((c) => c === k || (k === 'cycletls' && c === 'cycletls-reuse')))
      .map(([k, v]) => `${k} ${v || '(not installed)'}`)
      .join(', ')}.`,
  );
  if (meta.caddy)
    out.push(
      `- **HTTP/3 server:** ${meta.caddy} on 127.0.0.1 (separate process), the same files and certificate; h3-small / h3-large = small / large over HTTP/3 (clients asked for HTTP/3 only: ours \`forceHTTP3\`, impit \`http3\` + \`forceHttp3\`), caddy-h2-small / caddy-h2-large = the same over HTTP/2 on caddy's TCP port. "conns" is not read from caddy (—).`,
    );
  if (meta.proxies && Object.keys(meta.proxies).length)
    out.push(
      `- **Proxies:** ${Object.entries(meta.proxies)
        .map(([k, u]) => `${k} at ${u}`)
        .join(
          ', ',
        )} — test/helpers/proxies.js (Node, the test suite's CONNECT proxy and SOCKS5 server), each in its own process (\`lib/proxy-proc.js\`); its CPU is reported per request.`,
    );
  out.push(
    `- **Method:** ${cfg.rounds} interleaved round(s), each cell a fresh process; warm-up ${cfg.workloads.map((wl) => `${warmupCount(wl)} ${wl}`).join(' / ')} requests first (not timed, same concurrency); small / h2-small = ${cfg.n.small} × 1 KiB GET with 32 in flight, large / h2-large = ${cfg.n.large} × 1 MiB GET with 8 in flight; small / large against the server's HTTP/1.1-only port (ALPN offers only http/1.1), h2-small / h2-large against its h2 port (ALPN h2, http/1.1); h2-c100 / h2-c1k (${cfg.n.sweep} each), h2-c10k (${cfg.n.c10k}), h2-c50k (${cfg.n.c50k}) = 1 KiB GETs on the h2 port, all in flight at once; cold-h1 / cold-h2 = ${cfg.n.cold} × 1 KiB with 16 in flight against listeners that close after every response (HTTP/1.1: \`Connection: close\`; HTTP/2: GOAWAY after the first request, requests spread over 64 such listeners); proxy-connect / proxy-socks5 = h2-small through the local proxy; long = ${cfg.n.long} × 1 KiB h2 with 32 in flight (warm-up 2000). h2load = nghttp2's load generator run directly with the same requests in flight (HTTP/2: 1 connection, C streams; HTTP/1.1: \`--h1\`, C connections): it checks status and byte counts, not content, has no latency percentiles, and its HTTP column is its ALPN; every client with its defaults except undici (\`allowH2: true\`, without which it never offers h2). "HTTP" = the HTTP version the server reported (response header from \`$server_protocol\`) for every good timed response (h1 = HTTP/1.1, h2 = HTTP/2.0; anything else is spelled out and marked "!"). Medians over rounds; "bad" = total over all rounds of responses with a wrong status, length or content, or an error. CPU = client process tree during the timed phase only: the Node process via \`process.cpuUsage()\` plus its descendants (e.g. cycletls's Go process, live or reaped) from /proc. RSS = peak of the summed tree RSS sampled every 50 ms over the whole cell. "conns" = TCP/TLS connections the server accepted during the cell (warm-up included); "conns/s" = those accepted during the timed phase per second. MiB/s = body bytes per second.`,
  );
  const kinds = [...new Set(cfg.workloads.map((wl) => WORKLOADS[wl].server))].filter((k) => SERVER_KINDS[k]);
  for (const kind of kinds) {
    out.push(
      `- **Negotiated on the ${SERVER_KINDS[kind]}** (one probe request per client to \`/proto\`; server's view: TLS version, cipher, HTTP version, ALPN): ${cfg.clients.map((c) => `${c}: ${meta.tls[kind][c]}`).join('; ')}.`,
    );
  }
  const bg = records.filter((r) => r.ok).map((r) => r.backgroundCpuPctOfCore);
  const reruns = records.filter((r) => r.noisyReruns).length;
  out.push(
    `- **Noise:** CPU used by other processes during the timed phases (kept runs): median ${f(median(bg), 0)} %, max ${f(bg.length ? Math.max(...bg) : NaN, 0)} % of one core; ${reruns} cell(s) were rerun because that exceeded ${cfg.noisyPct} % (the quieter run is kept).`,
    '',
  );
  out.push(
    '| workload | client | HTTP | req/s | MiB/s | p50 ms | p99 ms | CPU ms/req | peak RSS MB | bad responses | conns | conns/s | rounds ok |',
  );
  out.push('|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  const labelOf = (wl) => {
    const w = WORKLOADS[wl];
    const size = w.bytes >= MiB ? `${w.bytes / MiB} MiB` : `${w.bytes / 1024} KiB`;
    return `${wl} (${size} ×${nOf(wl)}, c=${w.concurrency}${w.proxy ? `, via ${w.proxy}` : ''})`;
  };
  for (const r of rows) {
    const label = labelOf(r.workload);
    if (r.skipped) {
      out.push(`| ${label} | ${r.client} | — | skipped: ${r.skipped} | — | — | — | — | — | — | — | — | — |`);
      continue;
    }
    if (!r.roundsOk) {
      out.push(`| ${label} | ${r.client} | — | FAILED | — | — | — | — | — | — | — | — | 0/${r.rounds} |`);
      continue;
    }
    const allBad = r.bad >= r.requests;
    out.push(
      `| ${label} | ${r.client} | ${protoCell(r)} | ${f(r.reqPerSec, 0)}${allBad ? ' (all failed)' : ''} | ${f(r.mibPerSec, r.mibPerSec >= 100 ? 0 : 1)} | ${f3(r.p50Ms)} | ${f3(r.p99Ms)} | ${f3(r.cpuMsPerReq)} | ${f(r.peakRssMB, 1)} | ${r.bad} / ${r.requests} | ${f(r.serverConnections, 0)} | ${f(r.connsPerSec, 0)} | ${r.roundsOk}/${r.rounds} |`,
    );
  }
  const targets = targetRows(rows);
  if (targets.length)
    out.push(
      '',
      '## Targets (#16)',
      '',
      "Each target of issue #16 with this run's medians (cycletls-native unless said otherwise).",
      '',
      '| target | workload | measured | |',
      '|---|---|---|---|',
      ...targets,
    );
  out.push('', '## Ratios (medians)', '', ...ratioLines(rows), '');
  const mem = rows.filter((r) => r.roundsOk && Number.isFinite(r.rssStartMB));
  if (mem.length) {
    out.push(
      '## Memory and descriptors over the timed phase',
      '',
      'Client process tree at the start (after warm-up) and at the end of the timed phase, medians over rounds.',
      '',
      '| workload | client | RSS start MB | RSS end MB | peak RSS MB | open fds start | open fds end |',
      '|---|---|--:|--:|--:|--:|--:|',
      ...mem.map(
        (r) =>
          `| ${r.workload} | ${r.client} | ${f(r.rssStartMB)} | ${f(r.rssEndMB)} | ${f(r.peakRssMB)} | ${f(r.fdsStart, 0)} | ${f(r.fdsEnd, 0)} |`,
      ),
      '',
    );
  }
  const notes = [];
  for (const r of rows) {
    for (const fl of r.failures) notes.push(`- ${r.workload} / ${r.client}: ${fl}`);
    if (r.bad)
      notes.push(
        `- ${r.workload} / ${r.client}: ${r.bad} bad of ${r.requests} (e.g. ${r.errors.join('; ') || 'n/a'})`,
      );
    if (r.warmupBad)
      notes.push(`- ${r.workload} / ${r.client}: ${r.warmupBad} bad responses during the (untimed) warm-ups`);
    if (r.roundsOk && protoCell(r).endsWith('!'))
      notes.push(
        `- ${r.workload} / ${r.client}: served over ${Object.entries(r.protos)
          .map(([k, v]) => `${k} ×${v}`)
          .join(', ')} (expected ${WORKLOADS[r.workload].proto} only)`,
      );
  }
  if (notes.length) out.push('## Failures and bad responses', '', ...notes, '');
  out.push(
    '## Per-round req/s',
    '',
    '| workload | client | ' +
      Array.from({ length: cfg.rounds }, (_, i) => `round ${i + 1}`).join(' | ') +
      ' | CPU ms/req: Node process | CPU ms/req: child processes | server CPU ms/req | proxy CPU ms/req |',
  );
  out.push('|---|---|' + '--:|'.repeat(cfg.rounds + 4));
  for (const r of rows) {
    if (r.skipped) continue;
    out.push(
      `| ${r.workload} | ${r.client} | ${r.perRoundReqPerSec.map((x) => (x == null ? 'fail' : f(x, 0))).join(' | ')} | ${f3(r.nodeCpuMsPerReq)} | ${f3(r.childrenCpuMsPerReq)} | ${f3(r.serverCpuMsPerReq)} | ${f3(r.proxyCpuMsPerReq)} |`,
    );
  }
  out.push(
    '',
    'Caveat: client, its helper processes and the server share the same cores, so the fastest clients are partly server-bound and absolute numbers move with machine load; compare within one run. Raw data: `results.json`.',
    '',
  );
  fs.writeFileSync(outMd, out.join('\n'));
}

// `--report-from results.json`: rewrite the report from stored raw records (no measuring), e.g.
// after a change to the report format; also refreshes that file's derived `summary`. The report goes
// next to that file (RESULTS.md / RESULTS-quick.md).
function reportFrom(file) {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  Object.assign(cfg, j.meta.config);
  argv.splice(0, argv.length, ...j.meta.argv);
  // results-NAME.json -> RESULTS-NAME.md beside it (results.json -> RESULTS.md)
  const name = /^results(-.+)?\.json$/.exec(path.basename(file));
  outMd = path.join(
    path.dirname(path.resolve(file)),
    name ? `RESULTS${name[1] || ''}.md` : cfg.quick ? 'RESULTS-quick.md' : 'RESULTS.md',
  );
  const rows = summarize(j.records);
  j.summary = rows; // derived; meta and records stay as measured
  fs.writeFileSync(file, JSON.stringify(j, null, 2) + '\n');
  writeReport(j.meta, rows, j.records);
  log(`rewrote ${path.relative(process.cwd(), outMd)} from ${file} (${j.records.length} records)`);
}

async function main() {
  if (opt('report-from')) return reportFrom(opt('report-from'));
  if (crawlOnly) {
    const { runCrawlBench, CRAWL_CLIENTS } = require('./crawl');
    await runCrawlBench({
      rounds: cfg.rounds,
      pages: Number(opt('n-crawl', quick ? 200 : 2000)),
      concurrency: Number(opt('crawl-concurrency', 16)),
      clients: list(opt('crawl-clients', CRAWL_CLIENTS.join(','))),
      outMd: outMd.replace(/\.md$/, outName ? '.md' : '-crawl.md'),
      outJson: outJson.replace(/\.json$/, outName ? '.json' : '-crawl.json'),
      cellTimeoutMs: cfg.cellTimeoutMs,
      log,
    });
    if (cfg.workloads.length === 0) return;
  }
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  fs.mkdirSync(workRoot, { recursive: true, mode: 0o755 });
  log(
    `clients: ${cfg.clients.join(', ')}; workloads ${cfg.workloads.join(', ')}; rounds ${cfg.rounds}; n small ${cfg.n.small}, large ${cfg.n.large}`,
  );
  const server = await startServer({
    workDir: workRoot,
    prefer: cfg.server,
    nginxWorkers: cfg.nginxWorkers,
    installNginx: cfg.installNginx,
    log,
  });
  log(
    `server: ${server.version} on 127.0.0.1:${server.port} (HTTP/1.1, ALPN picks ${server.alpn.h1}) and :${server.h2Port} (ALPN picks ${server.alpn.h2}) (pid ${server.pid})`,
  );
  if (cfg.clients.includes(H2LOAD)) {
    h2load = findH2load({ install: cfg.installH2load, log });
    log(h2load ? `h2load: ${h2load.bin} (${h2load.version})` : 'h2load not installed: its cells are skipped');
  }
  const cleanup = async () => {
    if (currentChild)
      try {
        currentChild.kill('SIGKILL');
      } catch {}
    for (const p of Object.values(proxies)) await p.stop();
    await caddy?.stop();
    await server.stop();
    if (!has('keep-work')) fs.rmSync(server.dir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'])
    process.once(sig, async () => {
      log(`${sig}: stopping`);
      await cleanup();
      process.exit(130);
    });

  const records = [];
  const tls = { h1: {}, h2: {} };
  try {
    for (const kind of new Set(cfg.workloads.map((wl) => WORKLOADS[wl].proxy).filter(Boolean))) {
      try {
        proxies[kind] = await startProxy(kind);
        log(`proxy ${kind}: ${proxies[kind].url} (pid ${proxies[kind].pid})`);
      } catch (e) {
        log(`proxy ${kind} failed to start: ${e.message}`);
      }
    }
    if (cfg.workloads.some((wl) => WORKLOADS[wl].server === 'caddy')) {
      try {
        caddy = await startCaddy({ dir: server.dir });
        log(`caddy: ${caddy.version} on 127.0.0.1:${caddy.caddyPort} (pid ${caddy.pid})`);
      } catch (e) {
        caddyFailed = e.message.split('\n')[0];
        log(`caddy failed to start: ${caddyFailed}`);
      }
    }
    const probed = new Set(cfg.workloads.map((wl) => WORKLOADS[wl].server).filter((k) => SERVER_KINDS[k]));
    for (const kind of probed) {
      for (const client of cfg.clients) {
        tls[kind][client] = await probeTls(server, client, kind);
        log(`probe ${kind} ${client.padEnd(16)} ${tls[kind][client]}`);
      }
    }
    for (let round = 1; round <= cfg.rounds; round++) {
      const shift = (round - 1) % cfg.clients.length; // rotate the order so no client always runs first
      const order = cfg.clients.slice(shift).concat(cfg.clients.slice(0, shift));
      for (const workload of cfg.workloads) {
        for (const client of order) {
          const target = serverFor(server, workload);
          const skipped = skipReason(target, client, workload);
          if (skipped) {
            records.push({ round, client, workload, ok: false, skipped });
            if (round === 1) log(`${workload} ${client}: skipped: ${skipped}`);
            continue;
          }
          const run = () =>
            client === H2LOAD
              ? runH2loadCell(target, workload, round)
              : runCell(target, client, workload, round);
          let rec = await run();
          for (let retry = 1; retry <= 2 && rec.ok && rec.backgroundCpuPctOfCore > cfg.noisyPct; retry++) {
            log(
              `r${round} ${workload} ${client}: other processes used ${f(rec.backgroundCpuPctOfCore, 0)} % of a core; rerunning (${retry}/2)`,
            );
            await sleep(1000);
            const again = await run();
            again.noisyReruns = retry;
            if (!again.ok || again.backgroundCpuPctOfCore >= rec.backgroundCpuPctOfCore) {
              rec.noisyReruns = retry;
              continue;
            }
            rec = again;
          }
          records.push(rec);
          log(
            rec.ok
              ? `r${round} ${workload.padEnd(8)} ${client.padEnd(16)} ${f(rec.reqPerSec, 0).padStart(6)} req/s  p50 ${f3(rec.p50Ms)} ms  p99 ${f3(rec.p99Ms)} ms  cpu ${f3(rec.cpuMsPerReq)} ms/req  rss ${f(rec.peakRssMB)} MB  bad ${rec.bad}  conns ${rec.serverConnections}  ${Object.entries(
                  rec.protos || {},
                )
                  .map(([k, v]) => `${k}×${v}`)
                  .join(',')}  bg ${f(rec.backgroundCpuPctOfCore, 0)}%`
              : `r${round} ${workload.padEnd(8)} ${client.padEnd(16)} FAILED: ${rec.error}${rec.stderrTail ? ` — ${rec.stderrTail}` : ''}`,
          );
          await sleep(200);
        }
      }
    }
  } finally {
    await cleanup();
  }
  const finishedAt = new Date();
  const meta = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt - startedAt,
    machine: machineInfo(),
    loadBefore,
    loadAfter: os.loadavg(),
    server: server.version,
    caddy: caddy?.version,
    serverKind: server.kind,
    serverAlpn: server.alpn,
    versions: versions(),
    proxies: Object.fromEntries(Object.entries(proxies).map(([k, p]) => [k, p.url])),
    tls,
    config: cfg,
    argv,
  };
  const rows = summarize(records);
  fs.writeFileSync(outJson, JSON.stringify({ meta, summary: rows, records }, null, 2) + '\n');
  writeReport(meta, rows, records);
  log(
    `wrote ${path.relative(process.cwd(), outMd)} and ${path.relative(process.cwd(), outJson)} in ${(meta.durationMs / 1000).toFixed(0)} s`,
  );
  console.log('\n' + fs.readFileSync(outMd, 'utf8'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
