#!/usr/bin/env node
// `npm test`: works from a clean clone. Installs and builds when needed, checks the layout, runs the native tests
// (plain, then under ASan/UBSan), the Jest integration suites against the sanitized addon, the fuzz
// targets briefly, builds the prebuilt binaries, then runs the Jest suites (test/install among them:
// the no-tools install and the arm64 smoke test), and ends with one summary line.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const log = (msg) => process.stdout.write(`[test] ${msg}\n`);
// Each stage's wall time, printed as it ends and again at the end: CI's budget is the sum of them.
const started = Date.now();
const stageTimes = [];
let stage;
function beginStage(name) {
  endStage();
  log(name);
  stage = { name, at: Date.now() };
}
function endStage() {
  if (!stage) return;
  const seconds = Math.round((Date.now() - stage.at) / 1000);
  stageTimes.push([stage.name, seconds]);
  log(`${stage.name}: ${seconds} s`);
  stage = undefined;
}
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  return r.status === 0;
}

const counts = { passed: 0, failed: 0 };
let ok = true;

if (
  !fs.existsSync(path.join(root, 'node_modules', 'jest')) ||
  !fs.existsSync(path.join(root, 'build', 'Release', 'cycletls_native.node')) ||
  !fs.existsSync(path.join(root, 'dist', 'index.js'))
) {
  beginStage('not built yet: running npm install');
  if (!run('npm', ['install', '--no-audit', '--no-fund'])) process.exit(1);
}

function ctest(dir, label, env = process.env) {
  const r = spawnSync('ctest', ['--test-dir', dir, '--output-on-failure'], {
    cwd: root,
    encoding: 'utf8',
    env,
  });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  const m = /(\d+)% tests passed, (\d+) tests failed out of (\d+)/.exec(r.stdout);
  if (!m) {
    log(`${label}: ctest did not run`);
    counts.failed++;
    return false;
  }
  counts.passed += Number(m[3]) - Number(m[2]);
  counts.failed += Number(m[2]);
  return r.status === 0;
}

// The layout first: cheap, and a file out of layout is a finding like any other (scripts/format.js).
beginStage('layout (npm run format:check)');
if (run(process.execPath, [path.join(__dirname, 'format.js'), '--check'])) {
  counts.passed++;
} else {
  counts.failed++;
  ok = false;
}

beginStage('native tests');
ok = ctest(path.join(root, 'build'), 'native') && ok;
if (!process.env.CTN_SKIP_SANITIZE) {
  beginStage('native tests under AddressSanitizer + UndefinedBehaviorSanitizer');
  if (
    run(process.execPath, [path.join(__dirname, 'sanitize.js'), '--build-only'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    })
  ) {
    const env = {
      ...process.env,
      ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1',
      UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
    };
    ok = ctest(path.join(root, 'build-sanitize'), 'sanitize', env) && ok;
  } else {
    log('the sanitizer build failed');
    counts.failed++;
    ok = false;
  }
}

/** Adds a Jest --json report's counts to the summary; true when it failed something (a missing report counts as one failure). */
function countJest(report) {
  try {
    const r = JSON.parse(fs.readFileSync(report, 'utf8'));
    const failed = r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
    counts.passed += r.numPassedTests;
    counts.failed += failed;
    return failed > 0;
  } catch {
    counts.failed++;
    return true;
  }
}

// The Jest integration suites against the addon of build-sanitize/, node running with the ASan and
// UBSan runtimes (scripts/asan-jest.js): a sanitizer report fails the stage even when Jest passed.
if (!process.env.CTN_SKIP_SANITIZE) {
  beginStage('jest integration suites against the addon under AddressSanitizer + UndefinedBehaviorSanitizer');
  const asanReport = path.join(root, 'build', 'asan-jest-report.json');
  fs.rmSync(asanReport, { force: true });
  const asanOk = run(process.execPath, [
    path.join(__dirname, 'asan-jest.js'),
    '--json',
    `--outputFile=${asanReport}`,
  ]);
  const jestFailed = countJest(asanReport);
  if (!asanOk && !jestFailed) counts.failed++; // sanitizer reports only
  ok = asanOk && ok;
}

// Fuzzing, briefly: each libFuzzer target (test/fuzz/) runs a few seconds from its seed corpus;
// a crash fails it. One test per target. Needs clang with libFuzzer (scripts/install-deps.sh).
if (!process.env.CTN_SKIP_FUZZ) {
  beginStage('fuzz targets (libFuzzer + ASan + UBSan, clang)');
  const r = spawnSync(
    process.execPath,
    [path.join(__dirname, 'fuzz.js'), '--seconds', process.env.CTN_FUZZ_SECONDS || '10'],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  process.stdout.write(r.stdout ?? '');
  const m = /^fuzz: (\d+) passed, (\d+) failed$/m.exec(r.stdout ?? '');
  counts.passed += m ? Number(m[1]) : 0;
  counts.failed += m ? Number(m[2]) : 1;
  ok = r.status === 0 && ok;
}

// The prebuilt binaries the package would publish (scripts/prebuild.js: Debian 11 build root, both
// architectures, each checked by scripts/elf-check.js); test/install then installs the packed package
// with no tools and runs the arm64 one under qemu-user. Incremental after the first run.
if (!process.env.CTN_SKIP_PREBUILDS) {
  beginStage('prebuilt binaries (linux-x64-gnu, linux-arm64-gnu)');
  if (!run(process.execPath, [path.join(__dirname, 'prebuild.js'), '--no-smoke'])) {
    log('the prebuilt binaries could not be built');
    counts.failed++;
    ok = false;
  }
}

beginStage('jest');
const report = path.join(root, 'build', 'jest-report.json');
const jestOk = run(process.execPath, [
  require.resolve('jest/bin/jest', { paths: [root] }),
  '--json',
  `--outputFile=${report}`,
  ...process.argv.slice(2),
]);
ok = jestOk && ok;
countJest(report);
endStage();
const total = Math.round((Date.now() - started) / 1000);
process.stdout.write(
  `\n${stageTimes.map(([name, s]) => `  ${String(s).padStart(5)} s  ${name}`).join('\n')}\n`,
);
process.stdout.write(`  ${String(total).padStart(5)} s  in all\n`);
process.stdout.write(`\ntests: ${counts.passed} passed, ${counts.failed} failed\n`);
process.exit(ok && counts.failed === 0 ? 0 : 1);
