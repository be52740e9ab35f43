'use strict';
// scripts/install.js in the installed package's layout (no test/ folder), run as npm runs it, with
// a PATH holding only node: no compiler, cmake, make or bash, so no source build can start.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { packageCopy, hostTag } = require('../helpers/package-copy');

let toolDir;
const copies = [];
beforeAll(() => {
  toolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-node-only-'));
  fs.symlinkSync(process.execPath, path.join(toolDir, 'node'));
});
afterAll(() => {
  for (const pkg of copies) pkg.remove();
  fs.rmSync(toolDir, { recursive: true, force: true });
});

function installHook(binaries, env = {}) {
  const pkg = packageCopy(binaries);
  copies.push(pkg);
  const r = spawnSync(path.join(toolDir, 'node'), [path.join('scripts', 'install.js')], {
    cwd: pkg.dir,
    env: { PATH: toolDir, HOME: os.tmpdir(), ...env },
    encoding: 'utf8',
    timeout: 60000,
  });
  return { status: r.status, stderr: r.stderr, built: fs.existsSync(path.join(pkg.dir, 'build')) };
}

const SOURCE_LACKS =
  'source build: this machine lacks bash; cmake; one of c++, g++, clang++; one of make, ninja';

test('a prebuilt that loads here: exit 0 with no build', () => {
  expect(installHook({ [`prebuilds/${hostTag}`]: 'addon' })).toEqual({
    status: 0,
    stderr: `[cycletls-native] using the prebuilt binary for ${hostTag}\n`,
    built: false,
  });
});

test('no prebuilt for this platform and no build tools: exit 1 naming the platform, both reasons and what to do', () => {
  const r = installHook({});
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`cycletls-native: cannot install on ${hostTag} (Node.js ${process.version}):`);
  expect(r.stderr).toContain(
    `  - prebuilt binary: no prebuilt binary for ${hostTag} in this package (it has: none)`,
  );
  expect(r.stderr).toContain(`  - ${SOURCE_LACKS}`);
  expect(r.stderr).toContain('CYCLETLS_NATIVE_BUILD_FROM_SOURCE=1 npm install cycletls-native');
  expect(r.built).toBe(false);
});

test('a prebuilt that does not load (checked in a child node) is not accepted', () => {
  const r = installHook({ [`prebuilds/${hostTag}`]: 'not an ELF file' });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/ {2}- prebuilt binary: it does not load: .*(invalid ELF header|file too short)/);
  expect(r.stderr).toContain(SOURCE_LACKS);
});

test.each([
  ['CYCLETLS_NATIVE_BUILD_FROM_SOURCE=1', { CYCLETLS_NATIVE_BUILD_FROM_SOURCE: '1' }],
  ['npm install --build-from-source', { npm_config_build_from_source: 'true' }],
])('%s skips a working prebuilt and fails at once without the tools, naming them', (_, env) => {
  const r = installHook({ [`prebuilds/${hostTag}`]: 'addon' }, env);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(
    'a source build was asked for (CYCLETLS_NATIVE_BUILD_FROM_SOURCE=1 or --build-from-source), ' +
      'but this machine lacks: bash; cmake; one of c++, g++, clang++; one of make, ninja.',
  );
  expect(r.built).toBe(false);
});
