#!/usr/bin/env node
// `npm run fuzz [-- --seconds N] [target...]`: builds the libFuzzer targets of test/fuzz/ with clang
// (build-fuzz/: the rooms (ctn_native) with ASan + UBSan + coverage, BoringSSL reused from build/), then runs each
// target for N seconds (default 60), one after another. New corpus entries go to
// build-fuzz/corpus/<target>/ (the committed seeds in test/fuzz/corpus/ are only read), crashes to
// build-fuzz/crashes/<target>/. Prints per target: executions, coverage (cov/ft from libFuzzer's
// final line), corpus size, crashes; ends with "fuzz: N passed, N failed" (a target with a crash,
// or that did not run, failed) and exits 1 on any failure. scripts/test.js runs it briefly in CI.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { DEBIAN_LIBRARIES, debianSourceDefs, fromMainBuild, sourceDirVar } = require('./build-config');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'build-fuzz');
const fuzzDir = path.join(root, 'test', 'fuzz');
const log = (msg) => process.stdout.write(`[fuzz] ${msg}\n`);

// Longest input per target: room for its realistic messages (a head with many headers, a few
// frames, a compressed body), small enough that the fuzzer spends its time on structure.
const maxLen = {
  http1_response: 8192,
  http2_session: 16384,
  mux_frame: 4096,
  mux_messages: 2048,
  proxy_reply: 1024,
  fingerprint_strings: 2048,
  body_decoder: 8192,
  hub_peer: 16384,
  alt_svc: 8192,
  http3_session: 16384,
  quic_server_datagram: 16384,
  quic_hello: 8192,
  https_record: 4096,
};

function parseArgs(argv) {
  const opts = { seconds: 60, targets: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seconds') opts.seconds = Number(argv[++i]);
    else if (argv[i].startsWith('--seconds=')) opts.seconds = Number(argv[i].slice(10));
    else opts.targets.push(argv[i]);
  }
  if (!(opts.seconds > 0)) throw new Error('--seconds needs a positive number');
  return opts;
}

function build() {
  // The sources (patched BoringSSL, nghttp2, ngtcp2, nghttp3, c-ares) the main build was configured with:
  // their headers must match the archives reused below.
  const boringssl = fromMainBuild('BORINGSSL_SOURCE_DIR');
  const debian = debianSourceDefs((lib) => fromMainBuild(sourceDirVar(lib)));
  if (!boringssl || debian.length !== DEBIAN_LIBRARIES.length)
    throw new Error('build/ is not configured: run `npm run build` first');
  // -O1 with line tables only: what libFuzzer's documentation suggests, and about half the compile
  // time of -O2 -g (the build is most of the fuzz stage of npm test).
  const args = [
    '-S',
    root,
    '-B',
    out,
    '-DCMAKE_BUILD_TYPE=RelWithDebInfo',
    '-DCTN_FUZZ=ON',
    '-DCTN_BUILD_TESTS=OFF',
    '-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG',
    '-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -DNDEBUG',
    `-DBORINGSSL_SOURCE_DIR=${boringssl}`,
    ...debian,
  ];
  // BoringSSL stays uninstrumented: the archives of the main (gcc) build link into clang's objects.
  const libdir = fromMainBuild('CTN_BORINGSSL_LIBDIR') || path.join(root, 'build');
  if (
    fs.existsSync(path.join(libdir, 'libbssl_crypto.a')) &&
    fs.existsSync(path.join(libdir, 'libbssl_ssl.a'))
  ) {
    args.push(`-DCTN_BORINGSSL_LIBDIR=${libdir}`);
  }
  if (spawnSync('ninja', ['--version'], { stdio: 'ignore' }).status === 0) args.push('-G', 'Ninja');
  const env = { ...process.env, CC: 'clang', CXX: 'clang++' };
  // Quiet unless it fails: then the whole output, compiler errors included.
  const run = (cmd, a) => {
    const r = spawnSync(cmd, a, { cwd: root, env, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) {
      process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
      throw new Error(`${cmd} ${a.slice(0, 3).join(' ')} failed`);
    }
  };
  run('cmake', args);
  run('cmake', ['--build', out, '--parallel', String(Math.max(1, os.cpus().length))]);
}

const count = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).length : 0);

/** Runs one target for `seconds`; returns its figures. */
function fuzz(target, seconds) {
  const corpus = path.join(out, 'corpus', target);
  const crashes = path.join(out, 'crashes', target);
  fs.mkdirSync(corpus, { recursive: true });
  fs.mkdirSync(crashes, { recursive: true });
  const crashesBefore = count(crashes);
  const inputs = [
    corpus,
    path.join(fuzzDir, 'corpus', target),
    path.join(fuzzDir, 'regressions', target),
  ].filter((dir) => fs.existsSync(dir));
  const started = Date.now();
  const r = spawnSync(
    path.join(out, `${target}_fuzz`),
    [
      `-max_total_time=${seconds}`,
      `-max_len=${maxLen[target] ?? 4096}`,
      '-timeout=10',
      '-rss_limit_mb=2048',
      '-print_final_stats=1',
      `-artifact_prefix=${crashes}${path.sep}`,
      ...inputs,
    ],
    {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 256 << 20,
      env: { ...process.env, UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' },
    },
  );
  const err = r.stderr ?? '';
  const done = [...err.matchAll(/^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)\//gm)].pop();
  const stat = /stat::number_of_executed_units: (\d+)/.exec(err);
  const figures = {
    target,
    seconds: Math.round((Date.now() - started) / 1000),
    execs: stat ? Number(stat[1]) : done ? Number(done[1]) : 0,
    cov: done ? Number(done[2]) : 0,
    ft: done ? Number(done[3]) : 0,
    corpus: count(corpus),
    crashes: count(crashes) - crashesBefore,
    status: r.status,
    signal: r.signal,
  };
  if (r.status !== 0) {
    // The sanitizer's report, for the log: from its first line to the artifact line.
    const at = err.search(/^(==\d+==ERROR|.*runtime error:|==\d+== ERROR: libFuzzer)/m);
    process.stderr.write(at >= 0 ? err.slice(at, at + 8000) : err.slice(-4000));
  }
  return figures;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const all = fs
    .readdirSync(fuzzDir)
    .filter((f) => f.endsWith('_fuzz.cc'))
    .map((f) => f.slice(0, -'_fuzz.cc'.length))
    .sort();
  const unknown = opts.targets.filter((t) => !all.includes(t));
  if (unknown.length)
    throw new Error(`unknown fuzz target(s): ${unknown.join(', ')} (there are: ${all.join(', ')})`);
  const targets = opts.targets.length ? opts.targets : all;
  const t0 = Date.now();
  log('building build-fuzz/ (clang, libFuzzer + ASan + UBSan)');
  build();
  log(`built in ${Math.round((Date.now() - t0) / 1000)} s; ${opts.seconds} s per target`);
  let passed = 0,
    failed = 0;
  for (const target of targets) {
    const f = fuzz(target, opts.seconds);
    const ok = f.status === 0 && f.crashes === 0 && f.execs > 0;
    if (ok) passed++;
    else failed++;
    log(
      `${ok ? 'ok  ' : 'FAIL'} ${target}: ${f.seconds} s, ${f.execs} execs, cov ${f.cov} ft ${f.ft}, ` +
        `corpus ${f.corpus}, crashes ${f.crashes}${f.status !== 0 ? ` (exit ${f.status ?? f.signal})` : ''}` +
        `${f.crashes ? ` -> build-fuzz/crashes/${target}/` : ''}`,
    );
  }
  process.stdout.write(`fuzz: ${passed} passed, ${failed} failed\n`);
  process.exit(failed ? 1 : 0);
}

try {
  main();
} catch (e) {
  log(`error: ${e.message}`);
  process.exit(1);
}
