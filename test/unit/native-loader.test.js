'use strict';
// lib/native.ts picks the binary: CYCLETLS_NATIVE_ADDON alone when set, else a source build
// (build/Release, build/Debug), else prebuilds/<platform>-<arch>-<libc>/. Each case loads the
// package in a child node (a fresh loader and module cache) from a copy of its layout holding the
// binaries the case needs; nativeBinding() says which one won, ERR_NATIVE_UNAVAILABLE why none did.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { packageCopy, hostTag } = require('../helpers/package-copy');
const {
  runtimeProblem,
  olderVersion,
  platformTag,
  GLIBC_FLOOR,
  NAPI_VERSION_FLOOR,
} = require('../../dist/native');

// Prints { binding } or { error } as JSON.
const LOAD = `const m = require(process.argv[1]);
let out;
try { out = { binding: m.nativeBinding() }; } catch (e) { out = { error: { name: e.name, code: e.code, stage: e.stage, message: e.message } }; }
process.stdout.write(JSON.stringify(out));`;

function load(pkg, env = {}) {
  const childEnv = { ...process.env, ...env };
  if (!('CYCLETLS_NATIVE_ADDON' in env)) delete childEnv.CYCLETLS_NATIVE_ADDON;
  const r = spawnSync(process.execPath, ['-e', LOAD, pkg.dir], { env: childEnv, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const copies = [];
function layout(binaries) {
  const pkg = packageCopy(binaries);
  copies.push(pkg);
  return pkg;
}
afterAll(() => {
  for (const pkg of copies) pkg.remove();
});

const napi = Number(process.versions.napi);
const escaped = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('this host is glibc Linux: its platform tag ends in -gnu', () => {
  expect(platformTag()).toBe(hostTag);
});

test('the prebuilt binary for this platform loads when there is no source build', () => {
  const pkg = layout({ [`prebuilds/${hostTag}`]: 'addon' });
  expect(load(pkg)).toEqual({
    binding: {
      path: pkg.file(`prebuilds/${hostTag}`),
      source: 'prebuilt',
      platform: hostTag,
      napiVersion: napi,
    },
  });
});

test('a source build comes before the prebuilt (Release, then Debug)', () => {
  const both = layout({
    'build/Release': 'addon',
    'build/Debug': 'addon',
    [`prebuilds/${hostTag}`]: 'addon',
  });
  expect(load(both).binding).toMatchObject({ path: both.file('build/Release'), source: 'source' });
  const debug = layout({ 'build/Debug': 'addon', [`prebuilds/${hostTag}`]: 'addon' });
  expect(load(debug).binding).toMatchObject({ path: debug.file('build/Debug'), source: 'source' });
});

test('CYCLETLS_NATIVE_ADDON is the only candidate when set: it loads, or the error names it (no silent fallback)', () => {
  const pkg = layout({ 'build/Release': 'addon', [`prebuilds/${hostTag}`]: 'addon' });
  const explicit = layout({ elsewhere: 'addon' }).file('elsewhere');
  expect(load(pkg, { CYCLETLS_NATIVE_ADDON: explicit }).binding).toMatchObject({
    path: explicit,
    source: 'env',
  });
  const missing = path.join(pkg.dir, 'no-such.node');
  const { error } = load(pkg, { CYCLETLS_NATIVE_ADDON: missing });
  expect(error.code).toBe('ERR_NATIVE_UNAVAILABLE');
  expect(error.message).toContain(`- ${missing}: Cannot find module`);
  expect(error.message).not.toContain(pkg.file('build/Release'));
});

test('with no binary at all the error names the platform, Node.js and N-API versions, each path tried and why, and what to do', () => {
  const pkg = layout({});
  const { error } = load(pkg);
  expect(error).toMatchObject({ name: 'CycleTLSError', code: 'ERR_NATIVE_UNAVAILABLE', stage: 'engine' });
  expect(error.message).toContain(
    `no native addon loads on ${hostTag} (Node.js ${process.version}, N-API ${napi})`,
  );
  expect(error.message).toContain(`- ${pkg.file('build/Release')}: not built (no source build)`);
  expect(error.message).toContain(`- ${pkg.file('build/Debug')}: not built (no source build)`);
  expect(error.message).toContain(
    `- ${pkg.file(`prebuilds/${hostTag}`)}: no prebuilt binary for ${hostTag} in this package (it has: none)`,
  );
  expect(error.message).toContain('CYCLETLS_NATIVE_BUILD_FROM_SOURCE=1 npm install cycletls-native');
  expect(error.message).toContain('npm rebuild cycletls-native --build-from-source');
  expect(error.message).toContain('linux-x64-gnu or linux-arm64-gnu');
});

test('initCycleTLS() rejects with the same ERR_NATIVE_UNAVAILABLE (no crash, no unhandled rejection)', () => {
  const pkg = layout({});
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      'require(process.argv[1])().then(() => process.exit(3), (e) => { process.stdout.write(e.code); });',
      pkg.dir,
    ],
    { env: { ...process.env, CYCLETLS_NATIVE_ADDON: '' }, encoding: 'utf8' },
  );
  expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
    status: 0,
    stdout: 'ERR_NATIVE_UNAVAILABLE',
    stderr: '',
  });
});

test("a package without this platform's prebuilt names the platforms it has", () => {
  const pkg = layout({ 'prebuilds/linux-ia32-gnu': 'addon', 'prebuilds/linux-riscv64-gnu': 'addon' });
  const { error } = load(pkg);
  expect(error.message).toContain(
    `no prebuilt binary for ${hostTag} in this package (it has: linux-ia32-gnu, linux-riscv64-gnu)`,
  );
});

test('a binary that does not load is reported with the reason; a broken source build falls through to the prebuilt', () => {
  const broken = layout({ [`prebuilds/${hostTag}`]: 'not an ELF file' });
  const { error } = load(broken);
  expect(error.code).toBe('ERR_NATIVE_UNAVAILABLE');
  expect(error.message).toMatch(
    new RegExp(
      `\\n {2}- ${escaped(broken.file(`prebuilds/${hostTag}`))}: (invalid ELF header|file too short)\\n`,
    ),
  );
  const fallsThrough = layout({ 'build/Release': 'not an ELF file', [`prebuilds/${hostTag}`]: 'addon' });
  expect(load(fallsThrough).binding).toMatchObject({ source: 'prebuilt' });
});

describe('what a prebuilt needs from the runtime (checked before requiring it)', () => {
  const ok = { napi: 9, node: 'v20.0.0', libc: 'gnu', glibc: '2.36' };
  test('N-API 8 or later', () => {
    expect(NAPI_VERSION_FLOOR).toBe(8);
    expect(runtimeProblem({ ...ok, napi: 8 })).toBeUndefined();
    expect(runtimeProblem({ ...ok, napi: 7, node: 'v12.22.0' })).toBe(
      'needs N-API 8 or later; Node.js v12.22.0 offers N-API 7',
    );
    expect(runtimeProblem({ ...ok, napi: 0 })).toMatch(/offers N-API unknown$/);
  });
  test(`glibc ${GLIBC_FLOOR} or later on gnu, compared as numbers; musl has no glibc floor`, () => {
    expect(GLIBC_FLOOR).toBe('2.31');
    expect(runtimeProblem({ ...ok, glibc: '2.31' })).toBeUndefined();
    expect(runtimeProblem({ ...ok, glibc: '2.28' })).toBe(
      'needs glibc 2.31 or later; this system has glibc 2.28',
    );
    expect(runtimeProblem({ ...ok, glibc: '2.4' })).toMatch(/this system has glibc 2.4$/);
    expect(runtimeProblem({ ...ok, glibc: '3.0' })).toBeUndefined();
    expect(runtimeProblem({ napi: 9, node: 'v20.0.0', libc: 'musl' })).toBeUndefined();
    expect([
      olderVersion('2.31', '2.31'),
      olderVersion('2.30.9', '2.31'),
      olderVersion('2.31.1', '2.31'),
    ]).toEqual([false, true, false]);
  });
});
