'use strict';
// The public declarations of `cycletls-native/echo` (types/echo.d.ts) compile under strict mode, contain no `any`, and match the implementation both ways
// (test/fixtures/echo/contract.ts); the runtime exports exist.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, 'test', 'fixtures', 'echo');

test('echo.d.ts and lib/echo.ts agree (tsc --noEmit on contract.ts, strict)', () => {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(fixtures, 'tsconfig.json')], {
    encoding: 'utf8',
  });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
}, 60000);

test('no `any` in the proposed declarations', () => {
  const dts = fs
    .readFileSync(path.join(root, 'types', 'echo.d.ts'), 'utf8')
    .replace(/\/\/.*$/gm, '')
    .replace(/\/\*[\s\S]*?\*\//g, '');
  expect(dts).not.toMatch(/\bany\b/);
});

test('the declared runtime exports exist in dist/echo.js', () => {
  const mod = require(path.join(root, 'dist', 'echo.js'));
  expect(typeof mod.startEchoServer).toBe('function');
  expect(mod.ECHO_CERT_PEM).toMatch(/^-----BEGIN CERTIFICATE-----/);
  expect(mod.ECHO_KEY_PEM).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  const declared = [
    ...fs
      .readFileSync(path.join(root, 'types', 'echo.d.ts'), 'utf8')
      .matchAll(/export declare (?:function|const) (\w+)/g),
  ].map((m) => m[1]);
  expect(declared.sort()).toEqual(
    Object.keys(mod)
      .filter((k) => k !== '__esModule')
      .sort(),
  );
});

test('the built-in certificate is valid for the names the tests use, for decades', () => {
  const { X509Certificate } = require('node:crypto');
  const cert = new X509Certificate(require(path.join(root, 'dist', 'echo.js')).ECHO_CERT_PEM);
  for (const name of ['localhost', 'fp.test']) expect(cert.checkHost(name)).toBe(name);
  expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
  expect(new Date(cert.validTo).getUTCFullYear()).toBeGreaterThanOrEqual(2100);
});
