#!/usr/bin/env node
// npm's install hook. In a clone (it has test/; the published package does not): the source build,
// as always. In the installed package: the prebuilt binary for this platform when it loads here
// (pure node: no compiler, no apt-get, no shell), else the source build when this machine can run
// it, else a failure that names the platform and what to do. CYCLETLS_NATIVE_BUILD_FROM_SOURCE=1
// or `npm install --build-from-source` skips the prebuilt.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { BUILD_TOOLS, missingTools } = require('./build-config');

const root = path.resolve(__dirname, '..');
const say = (msg) => process.stderr.write(`[cycletls-native] ${msg}\n`);

function sourceBuild() {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'build.js')], { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

function buildFromSourceRequested() {
  const npmFlag = String(process.env.npm_config_build_from_source ?? '').toLowerCase();
  return (
    process.env.CYCLETLS_NATIVE_BUILD_FROM_SOURCE === '1' ||
    npmFlag === 'true' ||
    npmFlag === 'cycletls-native'
  );
}

/** What the source build (scripts/build.js) needs and this machine lacks; empty when it can run. */
function missingBuildTools() {
  if (process.platform !== 'linux') return ['Linux (the source build runs on Linux only for now)'];
  return missingTools(BUILD_TOOLS);
}

/** Why the prebuilt for this platform does not load here; undefined when it does (checked in a child node). */
function prebuiltProblem(native) {
  const problem = native.prebuiltProblem(root);
  if (problem) return problem;
  const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', native.prebuiltPath(root)], {
    encoding: 'utf8',
  });
  if (r.status === 0) return undefined;
  const reason =
    (r.stderr ?? '').split('\n').find((line) => /error/i.test(line)) ??
    `node exited with ${r.status ?? r.signal}`;
  return `it does not load: ${reason.trim()}`;
}

function main() {
  if (fs.existsSync(path.join(root, 'test'))) return sourceBuild();
  const missing = missingBuildTools();
  if (buildFromSourceRequested()) {
    if (missing.length === 0) return sourceBuild();
    say(
      `a source build was asked for (CYCLETLS_NATIVE_BUILD_FROM_SOURCE=1 or --build-from-source), but this machine lacks: ${missing.join('; ')}.`,
    );
    say(
      'Install them (Debian/Ubuntu: apt-get install g++ cmake make), or install without the flag to use a prebuilt binary.',
    );
    process.exit(1);
  }
  let native;
  try {
    native = require(path.join(root, 'dist', 'native.js'));
  } catch (err) {
    say(`the package's dist/ is incomplete (${err.message}); building from source`);
    return sourceBuild();
  }
  const tag = native.platformTag();
  const problem = prebuiltProblem(native);
  if (!problem) {
    say(`using the prebuilt binary for ${tag}`);
    return;
  }
  if (missing.length === 0) {
    say(`no usable prebuilt binary for ${tag} (${problem}): building from source`);
    return sourceBuild();
  }
  process.stderr.write(
    [
      `cycletls-native: cannot install on ${tag} (Node.js ${process.version}):`,
      `  - prebuilt binary: ${problem}`,
      `  - source build: this machine lacks ${missing.join('; ')}`,
      ...native.remedies(),
      '',
    ].join('\n'),
  );
  process.exit(1);
}

main();
