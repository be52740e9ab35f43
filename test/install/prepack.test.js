'use strict';
// `npm pack` / `npm publish` refuse a package without a prebuilt binary for every promised platform
// or with one built from other sources (scripts/prepack.js against prebuilds/<tag>/manifest.json).
// Run in a copy of the repository's build inputs, so the repository's own prebuilds stay as they are.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { sourcesDigest } = require('../../scripts/build-config');

const root = path.resolve(__dirname, '..', '..');
let dir;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-prepack-'));
  for (const entry of ['CMakeLists.txt', 'cmake', 'native', 'scripts', 'dist', 'package.json']) {
    fs.cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true });
  }
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function prebuilt(tag, manifest) {
  const d = path.join(dir, 'prebuilds', tag);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'cycletls_native.node'), 'stand-in');
  if (manifest) fs.writeFileSync(path.join(d, 'manifest.json'), JSON.stringify(manifest));
}
const prepack = () =>
  spawnSync(process.execPath, [path.join(dir, 'scripts', 'prepack.js')], { encoding: 'utf8' });

test('both binaries built from these sources: packs', () => {
  const sources = sourcesDigest();
  prebuilt('linux-x64-gnu', { sources });
  prebuilt('linux-arm64-gnu', { sources });
  const r = prepack();
  expect(r.stderr).toContain('match the sources');
  expect(r.status).toBe(0);
});

test('a missing binary, a missing manifest or a binary from other sources: refuses, naming each', () => {
  prebuilt('linux-x64-gnu', { sources: 'f'.repeat(64), builtAt: '2026-01-01T00:00:00Z' });
  let r = prepack();
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('prebuilds/linux-x64-gnu was built from other sources (2026-01-01T00:00:00Z)');
  expect(r.stderr).toContain('prebuilds/linux-arm64-gnu/cycletls_native.node is missing');
  expect(r.stderr).toContain('npm run prebuilds');
  prebuilt('linux-arm64-gnu');
  r = prepack();
  expect(r.stderr).toContain('prebuilds/linux-arm64-gnu/manifest.json is missing or unreadable');
});

test('a change to a native source makes the recorded binaries stale', () => {
  const before = sourcesDigest();
  fs.appendFileSync(path.join(dir, 'native', 'core', 'engine.cc'), '\n');
  prebuilt('linux-x64-gnu', { sources: before });
  prebuilt('linux-arm64-gnu', { sources: before });
  const r = prepack();
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('linux-x64-gnu was built from other sources');
});
