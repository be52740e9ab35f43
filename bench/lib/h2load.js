'use strict';
// h2load (nghttp2's load generator, C, Debian package nghttp2-client) as the "h2load" pseudo-client
// of run.js: the practical limit of the machine and server for a workload. It runs the same
// requests with the same number in flight (HTTP/2: one connection with C streams; HTTP/1.1: C
// connections), but it is not a Node process: it checks status and byte counts only (not the body
// bytes), and it reports no per-request latency percentiles.
const fs = require('node:fs');
const { spawn, spawnSync } = require('node:child_process');

function findH2load({ install = false, log = () => {} } = {}) {
  const which = () => {
    const r = spawnSync('sh', ['-c', 'command -v h2load'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
    return fs.existsSync('/usr/bin/h2load') ? '/usr/bin/h2load' : null;
  };
  let bin = which();
  // opt-in (--install-h2load), like --install-nginx: Debian's apt mirror is the only non-loopback
  // action of the bench
  if (!bin && install && process.getuid && process.getuid() === 0) {
    log('h2load not found; trying `apt-get install -y nghttp2-client` (Debian mirror)');
    spawnSync('apt-get', ['install', '-y', 'nghttp2-client'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    bin = which();
  }
  if (!bin) return null;
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return { bin, version: (v.stdout || '').trim().replace(/^h2load /, '') || 'unknown' };
}

// h2load's command line for `n` requests of a workload: HTTP/1.1 = `--h1` (ALPN offers only
// http/1.1) with one connection per request in flight; HTTP/2 = one connection, C streams.
function argsFor(w, url, n) {
  const h1 = w.proto === 'HTTP/1.1';
  return [
    '-n',
    String(n),
    '-t',
    '1',
    ...(h1 ? ['--h1', '-c', String(w.concurrency), '-m', '1'] : ['-c', '1', '-m', String(w.concurrency)]),
    url,
  ];
}

const DURATION_UNITS = { us: 1e-3, ms: 1, s: 1000 };

// The figures h2load prints at the end of a run.
function parse(out) {
  const r = {};
  let m = /finished in ([\d.]+)(us|ms|s), ([\d.]+) req\/s/.exec(out);
  if (m) r.durationMs = Number(m[1]) * DURATION_UNITS[m[2]];
  m =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      out,
    );
  if (m) [, r.total, r.started, r.done, r.succeeded, r.failed, r.errored, r.timeout] = m.map(Number);
  m = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (m) r.status2xx = Number(m[1]);
  m = /traffic: .*?, .*? \((\d+)\) data/.exec(out);
  if (m) r.dataBytes = Number(m[1]);
  m = /Application protocol: (\S+)/.exec(out);
  if (m) r.alpn = m[1];
  m = /TLS Protocol: (\S+)/.exec(out);
  if (m) r.tlsVersion = m[1];
  m = /Cipher: (\S+)/.exec(out);
  if (m) r.cipher = m[1];
  return r;
}

// Runs h2load under `sh`, which prints its own /proc stat after h2load exits: the shell's
// cutime/cstime then hold h2load's CPU ticks (it has waited for it). onSpawn(pid) lets the caller
// sample the process tree (peak RSS) while it runs. Resolves with the parsed figures plus
// cpuTicks, or { error }.
function runH2load(bin, args, { timeoutMs, onSpawn = () => {} } = {}) {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', '"$0" "$@"; s=$?; cat /proc/$$/stat; exit $s', bin, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: a timeout kills sh and h2load together
    });
    onSpawn(child.pid);
    let out = '';
    const keep = (d) => {
      out += d;
      if (out.length > 1e6) out = out.slice(-1e5);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      try {
        child.kill('SIGKILL');
      } catch {}
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const r = parse(out);
      const stat = out.trim().split('\n').pop();
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      if (close > 0) r.cpuTicks = Number(f[13]) + Number(f[14]) + Number(f[11]) + Number(f[12]);
      if (signal) r.error = `h2load killed (${signal}) after ${timeoutMs / 1000} s`;
      else if (r.durationMs === undefined)
        r.error = `h2load failed (${code}): ${out.trim().split('\n').slice(-3).join(' | ').slice(0, 300)}`;
      resolve(r);
    });
  });
}

module.exports = { findH2load, argsFor, runH2load, parse };
