// The sanitizer build, build-sanitize/: ctn_core, the native tests and the addon compiled with
// AddressSanitizer + UndefinedBehaviorSanitizer. scripts/sanitize.js runs the native tests from it,
// scripts/asan-jest.js the Jest integration suites against its addon; both configure it here, the
// same way, so neither recompiles what the other built. It takes from the main build in build/ its
// source directories and the BoringSSL archives (instead of compiling BoringSSL a second time).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const sanitizeDir = path.join(root, 'build-sanitize');

/** A cache entry the main build was configured with (build/CMakeCache.txt). */
function fromMainBuild(name) {
  const cache = path.join(root, 'build', 'CMakeCache.txt');
  const m = fs.existsSync(cache) && new RegExp(`^${name}:\\w+=(.*)$`, 'm').exec(fs.readFileSync(cache, 'utf8'));
  return m ? m[1] : undefined;
}

function boringsslSource() {
  return fromMainBuild('BORINGSSL_SOURCE_DIR') ??
    execFileSync('bash', [path.join(__dirname, 'fetch-boringssl.sh')], { encoding: 'utf8' }).trim().split('\n').pop();
}

/**
 * The directory holding libbssl_crypto.a and libbssl_ssl.a to link against: build/ when it compiled
 * them, else the directory build/ itself reused (CTN_BORINGSSL_LIBDIR there or in the environment);
 * undefined when none has them (the sanitizer build then compiles BoringSSL itself).
 */
function boringsslLibdir() {
  const has = (dir) => dir && fs.existsSync(path.join(dir, 'libbssl_crypto.a')) && fs.existsSync(path.join(dir, 'libbssl_ssl.a'));
  return [path.join(root, 'build'), process.env.CTN_BORINGSSL_LIBDIR, fromMainBuild('CTN_BORINGSSL_LIBDIR')].find(has);
}

/**
 * Configures build-sanitize/. The CMAKE_JS_* variables (what cmake-js would pass) give it the addon
 * target too; on Linux the Node-API headers are all the addon needs from them.
 */
function configureSanitizeBuild() {
  const args = ['-S', root, '-B', sanitizeDir, '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DCTN_SANITIZE=ON', '-DCTN_BUILD_TESTS=ON',
    `-DBORINGSSL_SOURCE_DIR=${boringsslSource()}`,
    `-DCMAKE_JS_VERSION=${require('cmake-js/package.json').version}`,
    `-DCMAKE_JS_INC=${require('node-api-headers').include_dir}`, '-DCMAKE_JS_SRC=', '-DCMAKE_JS_LIB='];
  const libdir = boringsslLibdir();
  if (libdir) args.push(`-DCTN_BORINGSSL_LIBDIR=${libdir}`);
  const nghttp2 = fromMainBuild('NGHTTP2_SOURCE_DIR');
  if (nghttp2) args.push(`-DNGHTTP2_SOURCE_DIR=${nghttp2}`);
  try {
    execFileSync('ninja', ['--version'], { stdio: 'ignore' });
    args.push('-G', 'Ninja');
  } catch { /* make it is */ }
  execFileSync('cmake', args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  return sanitizeDir;
}

module.exports = { root, configureSanitizeBuild };
