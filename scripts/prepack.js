#!/usr/bin/env node
// npm's prepack hook (`npm pack`, `npm publish`): the package must carry a prebuilt binary for every
// platform it promises, each built from the sources in this tree (prebuilds/<tag>/manifest.json,
// written by scripts/prebuild.js), and the compiled TypeScript. Otherwise it refuses, naming the fix.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { root, sourcesDigest } = require('./build-config');

const PLATFORMS = ['linux-x64-gnu', 'linux-arm64-gnu'];

const problems = [];
const digest = sourcesDigest();
for (const tag of PLATFORMS) {
  const dir = path.join(root, 'prebuilds', tag);
  if (!fs.existsSync(path.join(dir, 'cycletls_native.node'))) {
    problems.push(`prebuilds/${tag}/cycletls_native.node is missing`);
    continue;
  }
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  } catch {
    problems.push(`prebuilds/${tag}/manifest.json is missing or unreadable`);
    continue;
  }
  if (manifest.sources !== digest)
    problems.push(`prebuilds/${tag} was built from other sources (${manifest.builtAt})`);
}
if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) problems.push('dist/ is not built');
if (problems.length) {
  process.stderr.write(
    `[prepack] refusing to pack:\n  ${problems.join('\n  ')}\n` +
      '[prepack] run `npm run build` and `npm run prebuilds` (root, Debian x86-64) first\n',
  );
  process.exit(1);
}
process.stderr.write(`[prepack] prebuilt binaries for ${PLATFORMS.join(', ')} match the sources\n`);
