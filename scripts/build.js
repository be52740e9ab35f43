#!/usr/bin/env node
// The source build (`npm run build`; `npm install` in a clone, or a forced/fallback source build of the
// installed package through scripts/install.js): system packages (when missing), BoringSSL source
// (fetched once and cached outside the repository), the native build with CMake, then the TypeScript
// layer (a clone only: the package ships dist/).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const {
  BUILD_TOOLS,
  debianSourceDefs,
  missingTools,
  nodeApiIncludeDirs,
  sourceTrees,
} = require('./build-config');

const root = path.resolve(__dirname, '..');
const step = (msg) => process.stderr.write(`[cycletls-native] ${msg}\n`);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });

const NEEDS =
  'a source build needs Linux, bash, cmake >= 3.18, make and a C++20 compiler (g++ >= 10 or clang++ >= 13); ' +
  'on Debian or Ubuntu, as root, this script installs the rest (README: Install; other Linux: docs/platforms.md)';

function main() {
  const started = Date.now();
  if (process.platform !== 'linux') {
    throw new Error(`no source build for ${process.platform}-${process.arch} yet: ${NEEDS}`);
  }
  let missing = missingTools(BUILD_TOOLS.slice(0, 1));
  if (missing.length) throw new Error(`missing on PATH: ${missing.join(', ')}; ${NEEDS}`);
  if (!process.env.CTN_SKIP_SYSTEM_DEPS) run('bash', [path.join(__dirname, 'install-deps.sh')]);
  missing = missingTools(BUILD_TOOLS);
  if (missing.length) throw new Error(`missing on PATH: ${missing.join(', ')}; ${NEEDS}`);

  const trees = sourceTrees();
  const cmakeDefs = [`-DBORINGSSL_SOURCE_DIR=${trees.boringssl}`, ...debianSourceDefs((lib) => trees[lib])];

  const jobs = String(Math.max(1, Math.min(os.cpus().length, Number(process.env.CTN_JOBS) || 8)));
  cmakeDefs.push(`-DCTN_NODE_API_INCLUDE_DIRS=${nodeApiIncludeDirs().join(';')}`);
  // A user's source build of the package compiles the addon only (no native tests, no GoogleTest).
  if (!fs.existsSync(path.join(root, 'test'))) cmakeDefs.push('-DCTN_BUILD_TESTS=OFF');
  const out = path.join(root, 'build');
  step('building the native addon');
  // Configure every time (a second or two): source directories may have changed since the last build.
  run(
    'cmake',
    [
      '-S',
      root,
      '-B',
      out,
      '-DCMAKE_BUILD_TYPE=Release',
      `-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=${path.join(out, 'Release')}`,
      ...cmakeDefs,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  run('cmake', ['--build', out, '--parallel', jobs]);
  const addon = path.join(out, 'Release', 'cycletls_native.node');
  if (!fs.existsSync(addon)) throw new Error(`build finished but ${addon} is missing`);

  if (fs.existsSync(path.join(root, 'lib'))) {
    step('compiling the TypeScript layer');
    run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
    run(process.execPath, [path.join(__dirname, 'write-esm-entry.js')]);
  }
  step(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (err) {
  step(`build failed: ${err.message}`);
  process.exit(1);
}
