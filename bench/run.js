#!/usr/bin/env node
'use strict';
// Benchmark driver: `node run.js [--rounds 3] [--n-small 2000] [--n-large 200] [--clients a,b]
//   [--workloads small,large,h2-small,h2-large] [--quick] [--noisy-pct 50] [--server auto|nginx|node]
//   [--install-nginx] [--nginx-workers 1] [--cell-timeout 300] [--warmup-frac 0.5] [--keep-work]
//   [--report-from results.json]`
// Starts the HTTPS target server in its own process (loopback only; one HTTP/1.1-only port, one
// h2 port), then runs every (client, workload) cell in a fresh child process (client.js),
// interleaved for R rounds, measuring the client's whole process tree from /proc.
// Writes RESULTS.md and results.json.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fork, execFileSync } = require('node:child_process');
const proc = require('./lib/proc');
const { cli, median } = require('./lib/cli');
const { WORKLOADS } = require('./lib/body');
const { startServer, freePort } = require('./lib/server');
const { DEFAULT_CLIENTS, CLIENTS } = require('./clients');

const HERE = __dirname;
const { argv, has, opt } = cli(__filename, 8);
const quick = has('quick');
const cfg = {
  rounds: Number(opt('rounds', quick ? 1 : 3)),
  n: {
    small: Number(opt('n-small', quick ? 200 : 2000)),
    large: Number(opt('n-large', quick ? 20 : 200)),
    c10k: Number(opt('n-c10k', quick ? 2000 : 10000)),
  },
  clients: opt('clients', DEFAULT_CLIENTS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
  workloads: opt('workloads', Object.keys(WORKLOADS).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
  server: opt('server', 'auto'),
  installNginx: has('install-nginx'),
  nginxWorkers: Number(opt('nginx-workers', 1)),
  cellTimeoutMs: Number(opt('cell-timeout', 300)) * 1000,
  noisyPct: Number(opt('noisy-pct', 50)), // rerun a cell (up to 2×) when other processes used more CPU than this % of a core
  warmupFrac: Number(opt('warmup-frac', 0.5)), // warm-up = max(2 × concurrency, frac × N), untimed
  quick,
};
for (const c of cfg.clients)
  if (!CLIENTS[c]) {
    console.error(`unknown client ${c}; known: ${Object.keys(CLIENTS).join(', ')}`);
    process.exit(2);
  }
for (const w of cfg.workloads)
  if (!WORKLOADS[w]) {
    console.error(`unknown workload ${w}`);
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
const nOf = (wl) => cfg.n[WORKLOADS[wl].size]; // small / h2-small: --n-small; large / h2-large: --n-large
const warmupCount = (wl) =>
  Math.min(nOf(wl), Math.max(2 * WORKLOADS[wl].concurrency, Math.round(cfg.warmupFrac * nOf(wl))));
const baseOf = (server, kind) => `https://127.0.0.1:${kind === 'h2' ? server.h2Port : server.port}`;
const SERVER_KINDS = { h1: 'HTTP/1.1-only port', h2: 'h2 port' };

// What each client negotiates with one of the server's ports (one request, fresh process): TLS
// version/cipher, HTTP version and ALPN as the server saw them, and the client's own report if any.
async function probeTls(server, client, kind) {
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
      runner: self.utime + self.stime,
      system: proc.systemBusyTicks(),
      t: performance.now(),
    };
  };
  const timer = setInterval(sample, 50);
  let a = null;
  let b = null;
  const done = new Promise((resolve) => {
    const deadline = setTimeout(() => {
      rec.error = `cell timeout after ${cfg.cellTimeoutMs / 1000} s`;
      try {
        child.kill('SIGKILL');
      } catch {}
      killLeftovers(seen);
    }, cfg.cellTimeoutMs);
    child.on('message', (m) => {
      if (m.type === 'ready') {
        sample();
        a = snapshot();
        rec.initMs = m.initMs;
        child.send({ type: 'go' });
      } else if (m.type === 'done') {
        b = snapshot();
        sample();
        Object.assign(rec, m.result);
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
    const other = b.system - a.system - (b.client - a.client) - (b.server - a.server) - (b.runner - a.runner);
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
  if (ks.length === 1 && ks[0] === want) return want.replace('HTTP/2.0', 'h2').replace('HTTP/1.1', 'h1');
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
      const row = {
        workload,
        client,
        rounds: rs.length,
        roundsOk: ok.length,
        reqPerSec: median(ok.map((r) => r.reqPerSec)),
        p50Ms: median(ok.map((r) => r.p50Ms)),
        p99Ms: median(ok.map((r) => r.p99Ms)),
        cpuMsPerReq: median(ok.map((r) => r.cpuMsPerReq)),
        nodeCpuMsPerReq: median(ok.map((r) => r.nodeCpuMsPerReq)),
        childrenCpuMsPerReq: median(ok.map((r) => r.childrenCpuMs / r.n)),
        serverCpuMsPerReq: median(ok.map((r) => r.serverCpuMsPerReq)),
        peakRssMB: median(ok.map((r) => r.peakRssMB)),
        serverConnections: median(ok.map((r) => r.serverConnections)),
        bad: ok.reduce((s, r) => s + r.bad, 0),
        protos: sumCounts(ok.map((r) => r.protos)),
        clientProtocols: sumCounts(ok.map((r) => r.clientProtocols)),
        requests: ok.reduce((s, r) => s + r.n, 0),
        warmupBad: ok.reduce((s, r) => s + (r.warmupBad || 0), 0),
        perRoundReqPerSec: rs.map((r) => (r.ok ? r.reqPerSec : null)),
        failures: rs
          .filter((r) => !r.ok)
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

function ratioLines(rows) {
  const get = (wl, c) =>
    rows.find((r) => r.workload === wl && r.client === c && r.roundsOk > 0 && r.bad < r.requests);
  const lines = [];
  const ratio = (label, wl, other, key, better, mine = 'cycletls-native') => {
    const ours = get(wl, mine);
    const them = get(wl, other);
    if (!ours || !them) {
      lines.push(`- ${wl}: ${label}: n/a (${!ours ? mine : other} has no valid result)`);
      return;
    }
    const x = ours[key] / them[key];
    const word = key === 'reqPerSec' ? (x >= 1 ? 'faster' : 'slower') : x <= 1 ? 'less CPU' : 'more CPU';
    lines.push(
      `- ${wl}: ${label}: **${x.toFixed(2)}×** (${f3(ours[key])} vs ${f3(them[key])}; ${word}${better ? '' : ''})`,
    );
  };
  for (const wl of cfg.workloads) {
    ratio('cycletls-native / cycletls (defaults) req/s', wl, 'cycletls', 'reqPerSec');
    ratio('cycletls-native / undici CPU ms per request', wl, 'undici', 'cpuMsPerReq');
    ratio('cycletls-native / wreq-js req/s', wl, 'wreq-js', 'reqPerSec');
    ratio(
      'cycletls-native-remote (via the process link) / cycletls-native (in-process) req/s',
      wl,
      'cycletls-native',
      'reqPerSec',
      false,
      'cycletls-native-remote',
    );
    ratio(
      'cycletls-native-remote / cycletls-native CPU ms per request (both processes)',
      wl,
      'cycletls-native',
      'cpuMsPerReq',
      false,
      'cycletls-native-remote',
    );
  }
  return lines;
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
  out.push(
    `- **Method:** ${cfg.rounds} interleaved round(s), each cell a fresh process; warm-up ${cfg.workloads.map((wl) => `${warmupCount(wl)} ${wl}`).join(' / ')} requests first (not timed, same concurrency); small / h2-small = ${cfg.n.small} × 1 KiB GET with 32 in flight, large / h2-large = ${cfg.n.large} × 1 MiB GET with 8 in flight; small / large against the server's HTTP/1.1-only port (ALPN offers only http/1.1), h2-small / h2-large against its h2 port (ALPN h2, http/1.1), every client with its defaults except undici (\`allowH2: true\`, without which it never offers h2). "HTTP" = the HTTP version the server reported (response header from \`$server_protocol\`) for every good timed response (h1 = HTTP/1.1, h2 = HTTP/2.0; anything else is spelled out and marked "!"). Medians over rounds; "bad" = total over all rounds of responses with a wrong status, length or content, or an error. CPU = client process tree during the timed phase only: the Node process via \`process.cpuUsage()\` plus its descendants (e.g. cycletls's Go process, live or reaped) from /proc. RSS = peak of the summed tree RSS sampled every 50 ms over the whole cell. "conns" = TCP/TLS connections the server accepted during the cell (warm-up included).`,
  );
  const kinds = [...new Set(cfg.workloads.map((wl) => WORKLOADS[wl].server))];
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
    '| workload | client | HTTP | req/s | p50 ms | p99 ms | CPU ms/req | peak RSS MB | bad responses | conns | rounds ok |',
  );
  out.push('|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of rows) {
    const w = WORKLOADS[r.workload];
    const label = `${r.workload} (${w.bytes >= 2 ** 20 ? `${w.bytes / 2 ** 20} MiB` : `${w.bytes / 1024} KiB`} ×${nOf(r.workload)}, c=${w.concurrency})`;
    if (!r.roundsOk) {
      out.push(`| ${label} | ${r.client} | — | FAILED | — | — | — | — | — | — | 0/${r.rounds} |`);
      continue;
    }
    const allBad = r.bad >= r.requests;
    out.push(
      `| ${label} | ${r.client} | ${protoCell(r)} | ${f(r.reqPerSec, 0)}${allBad ? ' (all failed)' : ''} | ${f3(r.p50Ms)} | ${f3(r.p99Ms)} | ${f3(r.cpuMsPerReq)} | ${f(r.peakRssMB, 1)} | ${r.bad} / ${r.requests} | ${f(r.serverConnections, 0)} | ${r.roundsOk}/${r.rounds} |`,
    );
  }
  out.push('', '## Ratios (medians)', '', ...ratioLines(rows), '');
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
      ' | CPU ms/req: Node process | CPU ms/req: child processes | server CPU ms/req |',
  );
  out.push('|---|---|' + '--:|'.repeat(cfg.rounds + 3));
  for (const r of rows) {
    out.push(
      `| ${r.workload} | ${r.client} | ${r.perRoundReqPerSec.map((x) => (x == null ? 'fail' : f(x, 0))).join(' | ')} | ${f3(r.nodeCpuMsPerReq)} | ${f3(r.childrenCpuMsPerReq)} | ${f3(r.serverCpuMsPerReq)} |`,
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
  outMd = path.join(path.dirname(path.resolve(file)), cfg.quick ? 'RESULTS-quick.md' : 'RESULTS.md');
  const rows = summarize(j.records);
  j.summary = rows; // derived; meta and records stay as measured
  fs.writeFileSync(file, JSON.stringify(j, null, 2) + '\n');
  writeReport(j.meta, rows, j.records);
  log(`rewrote ${path.relative(process.cwd(), outMd)} from ${file} (${j.records.length} records)`);
}

async function main() {
  if (opt('report-from')) return reportFrom(opt('report-from'));
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
  const cleanup = async () => {
    if (currentChild)
      try {
        currentChild.kill('SIGKILL');
      } catch {}
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
    for (const kind of [...new Set(cfg.workloads.map((wl) => WORKLOADS[wl].server))]) {
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
          let rec = await runCell(server, client, workload, round);
          for (let retry = 1; retry <= 2 && rec.ok && rec.backgroundCpuPctOfCore > cfg.noisyPct; retry++) {
            log(
              `r${round} ${workload} ${client}: other processes used ${f(rec.backgroundCpuPctOfCore, 0)} % of a core; rerunning (${retry}/2)`,
            );
            await sleep(1000);
            const again = await runCell(server, client, workload, round);
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
    serverKind: server.kind,
    serverAlpn: server.alpn,
    versions: versions(),
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
