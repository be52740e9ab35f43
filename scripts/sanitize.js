#!/usr/bin/env node
// Builds ctn_core and the native tests with AddressSanitizer + UndefinedBehaviorSanitizer in
// build-sanitize/ (reusing the BoringSSL archives of build/) and runs them with ctest.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'build-sanitize');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

/** A source directory the main build was configured with (build/CMakeCache.txt). */
function fromMainBuild(name) {
  const cache = path.join(root, 'build', 'CMakeCache.txt');
  const m = fs.existsSync(cache) && new RegExp(`^${name}:\\w+=(.*)$`, 'm').exec(fs.readFileSync(cache, 'utf8'));
  return m ? m[1] : undefined;
}

function boringsslSource() {
  return fromMainBuild('BORINGSSL_SOURCE_DIR') ??
    execFileSync('bash', [path.join(__dirname, 'fetch-boringssl.sh')], { encoding: 'utf8' }).trim().split('\n').pop();
}

const libdir = path.join(root, 'build');
const reuse = fs.existsSync(path.join(libdir, 'libbssl_crypto.a')) && fs.existsSync(path.join(libdir, 'libbssl_ssl.a'));
const args = ['-S', root, '-B', out, '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DCTN_SANITIZE=ON', '-DCTN_BUILD_TESTS=ON',
  `-DBORINGSSL_SOURCE_DIR=${boringsslSource()}`];
if (reuse) args.push(`-DCTN_BORINGSSL_LIBDIR=${libdir}`);
const nghttp2 = fromMainBuild('NGHTTP2_SOURCE_DIR');
if (nghttp2) args.push(`-DNGHTTP2_SOURCE_DIR=${nghttp2}`);
try {
  execFileSync('ninja', ['--version'], { stdio: 'ignore' });
  args.push('-G', 'Ninja');
} catch { /* make it is */ }
run('cmake', args);
run('cmake', ['--build', out, '--parallel', String(Math.max(1, os.cpus().length))]);
process.env.ASAN_OPTIONS = 'detect_leaks=1:abort_on_error=1';
process.env.UBSAN_OPTIONS = 'print_stacktrace=1:halt_on_error=1';
run('ctest', ['--test-dir', out, '--output-on-failure']);
