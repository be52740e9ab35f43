#!/usr/bin/env node
// `npm install` / `npm run build`: system packages (when missing), BoringSSL source (fetched once and
// cached outside the repository), the native build through cmake-js, then the TypeScript layer.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const step = (msg) => process.stderr.write(`[cycletls-native] ${msg}\n`);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });

function main() {
  const started = Date.now();
  if (process.platform !== 'linux') {
    throw new Error('cycletls-native builds on Linux only for now');
  }
  if (!process.env.CTN_SKIP_SYSTEM_DEPS) run('bash', [path.join(__dirname, 'install-deps.sh')]);

  step('locating BoringSSL source');
  const bssl = execFileSync('bash', [path.join(__dirname, 'fetch-boringssl.sh')], {
    cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8',
  }).trim().split('\n').pop();
  const bsslTree = execFileSync('bash', [path.join(__dirname, 'prepare-boringssl.sh'), bssl], {
    cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8',
  }).trim().split('\n').pop();
  step(`BoringSSL: ${bsslTree}`);
  const cmakeDefs = [`--CDBORINGSSL_SOURCE_DIR=${bsslTree}`];
  const nghttp2Script = path.join(__dirname, 'fetch-nghttp2.sh');
  if (fs.existsSync(nghttp2Script)) {
    step('locating nghttp2 source');
    const ng = execFileSync('bash', [nghttp2Script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
      .trim().split('\n').pop();
    step(`nghttp2: ${ng}`);
    cmakeDefs.push(`--CDNGHTTP2_SOURCE_DIR=${ng}`);
  }

  const jobs = String(Math.max(1, Math.min(os.cpus().length, Number(process.env.CTN_JOBS) || 8)));
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  step('building the native addon');
  // Configure every time (a second or two): source directories may have changed since the last
  // build, and cmake-js's `build` alone would keep the old cache.
  run(process.execPath, [cmakeJs, 'configure', '--log-level', 'warn', ...cmakeDefs]);
  run(process.execPath, [cmakeJs, 'build', '--parallel', jobs, '--log-level', 'warn', ...cmakeDefs]);
  const addon = path.join(root, 'build', 'Release', 'cycletls_native.node');
  if (!fs.existsSync(addon)) throw new Error(`build finished but ${addon} is missing`);

  step('compiling the TypeScript layer');
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
  run(process.execPath, [path.join(__dirname, 'write-esm-entry.js')]);
  step(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (err) {
  step(`build failed: ${err.message}`);
  process.exit(1);
}
