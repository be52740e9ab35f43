#!/usr/bin/env node
// `npm run test:asan [-- jest args]`: the Jest integration suites against the addon built with
// AddressSanitizer + UndefinedBehaviorSanitizer, so a binding bug (a bad read of JS memory, a
// use-after-free between the io thread and the JS thread) is reported where it happens instead of
// as a crash or silently wrong bytes. The addon comes from build-sanitize/ (scripts/build-config.js:
// the sanitized rooms (ctn_native) the native tests use, BoringSSL's archives reused); lib/native.ts loads it
// through CYCLETLS_NATIVE_ADDON; node runs with the sanitizer runtimes preloaded (node itself is not
// instrumented, so they must come first). Every sanitizer report is written to
// build-sanitize/asan-jest-reports/ and fails the run.
//
// Environment: CTN_ASAN_SUITES (space-separated test paths; default: test/integration),
// CTN_JOBS (build parallelism). Arguments after the script go to Jest.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { root, configureSanitizeBuild } = require('./build-config');

const log = (msg) => process.stderr.write(`[test:asan] ${msg}\n`);

/** The addon in build-sanitize/ (scripts/sanitize.js builds it with the native tests; else it is built here). */
function build() {
  const out = configureSanitizeBuild();
  const jobs = String(Math.max(1, Math.min(os.cpus().length, Number(process.env.CTN_JOBS) || 8)));
  execFileSync('cmake', ['--build', out, '--target', 'cycletls_native', '--parallel', jobs], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const addon = path.join(out, 'cycletls_native.node');
  if (!fs.existsSync(addon)) throw new Error(`the sanitizer build finished but ${addon} is missing`);
  return { out, addon };
}

/** The sanitizer runtimes of the compiler that built the addon (they must be preloaded into node). */
function runtimes(out) {
  const cache = fs.readFileSync(path.join(out, 'CMakeCache.txt'), 'utf8');
  const compiler = /^CMAKE_CXX_COMPILER:\w+=(.*)$/m.exec(cache)?.[1] || 'c++';
  return ['libasan.so', 'libubsan.so'].map((lib) => {
    const file = execFileSync(compiler, [`-print-file-name=${lib}`], { encoding: 'utf8' }).trim();
    if (!path.isAbsolute(file) || !fs.existsSync(file))
      throw new Error(`${compiler} has no ${lib} (install the compiler's sanitizer runtime)`);
    return file;
  });
}

function main() {
  const started = Date.now();
  log('building the addon with -fsanitize=address,undefined in build-sanitize/');
  const { out, addon } = build();
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s: ${path.relative(root, addon)}`);
  const reports = path.join(out, 'asan-jest-reports');
  fs.rmSync(reports, { recursive: true, force: true });
  fs.mkdirSync(reports, { recursive: true });
  // Node installs a SIGSEGV handler of its own (V8's WebAssembly trap handler) that takes the signal
  // before ASan's: a wild read then ends the process with a bare "Segmentation fault" and no report.
  // Without the trap handler (node 20.x has the flag) WebAssembly bounds-checks in code instead; and
  // ASan ignores handlers installed after its own, for children started without NODE_OPTIONS (the
  // process tests' helper drops it) and for a node without the flag.
  const noTrapHandler = process.allowedNodeEnvironmentFlags.has('--disable-wasm-trap-handler');
  const env = {
    ...process.env,
    CYCLETLS_NATIVE_ADDON: addon,
    // Tests that measure RSS skip that bound: ASan's quarantine holds freed memory on purpose.
    CTN_ASAN_JEST: '1',
    LD_PRELOAD: [...runtimes(out), process.env.LD_PRELOAD].filter(Boolean).join(' '),
    NODE_OPTIONS: [process.env.NODE_OPTIONS, noTrapHandler ? '--disable-wasm-trap-handler' : '']
      .filter(Boolean)
      .join(' '),
    // Leaks: node frees little of what it holds at exit, so every run would "leak". Any other error
    // ends the process at once (its test fails) and is written to the reports directory.
    ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:abort_on_error=1:allow_user_segv_handler=0:log_path=${path.join(reports, 'asan')}`,
    UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:log_path=${path.join(reports, 'ubsan')}`,
  };
  const suites = (process.env.CTN_ASAN_SUITES || 'test/integration').split(/\s+/).filter(Boolean);
  const jestStarted = Date.now();
  const r = spawnSync(
    process.execPath,
    [require.resolve('jest/bin/jest', { paths: [root] }), ...suites, ...process.argv.slice(2)],
    { cwd: root, env, stdio: 'inherit' },
  );
  log(`jest under the sanitizers took ${((Date.now() - jestStarted) / 1000).toFixed(0)} s`);
  const found = fs.readdirSync(reports);
  for (const f of found) {
    log(`sanitizer report ${f}:`);
    process.stderr.write(fs.readFileSync(path.join(reports, f), 'utf8'));
  }
  if (found.length) log(`${found.length} sanitizer report(s): the run fails`);
  process.exit(r.status === 0 && found.length === 0 ? 0 : 1);
}

try {
  main();
} catch (err) {
  log(`failed: ${err.message}`);
  process.exit(1);
}
