// The sanitizer build, build-sanitize/: the rooms (ctn_native), the native tests and the addon compiled with
// AddressSanitizer + UndefinedBehaviorSanitizer. scripts/sanitize.js runs the native tests from it,
// scripts/asan-jest.js the Jest integration suites against its addon; both configure it here, the
// same way, so neither recompiles what the other built. It takes from the main build in build/ its
// source directories and the BoringSSL archives (instead of compiling BoringSSL a second time).
'use strict';
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const pkg = require('../package.json');
const sanitizeDir = path.join(root, 'build-sanitize');

/** A cache entry the main build was configured with (build/CMakeCache.txt). */
function fromMainBuild(name) {
  const cache = path.join(root, 'build', 'CMakeCache.txt');
  const m =
    fs.existsSync(cache) && new RegExp(`^${name}:\\w+=(.*)$`, 'm').exec(fs.readFileSync(cache, 'utf8'));
  return m ? m[1] : undefined;
}

function boringsslSource() {
  return (
    fromMainBuild('BORINGSSL_SOURCE_DIR') ??
    execFileSync('bash', [path.join(__dirname, 'fetch-boringssl.sh')], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()
  );
}

/**
 * The directory holding libbssl_crypto.a and libbssl_ssl.a to link against: build/ when it compiled
 * them, else the directory build/ itself reused (CTN_BORINGSSL_LIBDIR there or in the environment);
 * undefined when none has them (the sanitizer build then compiles BoringSSL itself).
 */
function boringsslLibdir() {
  const has = (dir) =>
    dir &&
    fs.existsSync(path.join(dir, 'libbssl_crypto.a')) &&
    fs.existsSync(path.join(dir, 'libbssl_ssl.a'));
  return [
    path.join(root, 'build'),
    process.env.CTN_BORINGSSL_LIBDIR,
    fromMainBuild('CTN_BORINGSSL_LIBDIR'),
  ].find(has);
}

/**
 * The tools of a source build that are not on PATH: `groups` lists alternatives ([['bash'],
 * ['make', 'ninja']]); each missing group is described ('bash', 'one of make, ninja').
 */
function missingTools(groups) {
  const dirs = (process.env.PATH ?? '').split(path.delimiter);
  const onPath = (name) =>
    dirs.some((dir) => {
      try {
        fs.accessSync(path.join(dir || '.', name), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  return groups
    .filter((names) => !names.some(onPath))
    .map((names) => (names.length === 1 ? names[0] : `one of ${names.join(', ')}`));
}

/** What scripts/build.js runs, beside node: all but bash can come from install-deps.sh on Debian. */
const BUILD_TOOLS = [['bash'], ['cmake'], ['c++', 'g++', 'clang++'], ['make', 'ninja']];

/** The cache outside the repository shared by every build script (as in fetch-boringssl.sh). */
function cacheDir(...parts) {
  const base =
    process.env.CYCLETLS_NATIVE_CACHE ||
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'cycletls-native');
  return path.join(base, ...parts);
}

/**
 * The addon's include directories: node-api-headers' include/ and node-addon-api's directory (both
 * header-only). A clone has them as devDependencies; the published package has none of them (a
 * prebuilt install needs no build tooling), so a source build there installs the versions package.json
 * names into the cache first, with the npm that runs the install.
 */
function nodeApiIncludeDirs() {
  const names = ['node-api-headers', 'node-addon-api'];
  const find = (paths) => {
    try {
      return [
        path.join(path.dirname(require.resolve('node-api-headers/package.json', { paths })), 'include'),
        path.dirname(require.resolve('node-addon-api/napi.h', { paths })),
      ];
    } catch {
      return undefined;
    }
  };
  const local = find([root]);
  if (local) return local;
  const specs = names.map((n) => `${n}@${pkg.devDependencies[n]}`);
  const prefix = cacheDir('build-tools', specs.join('+').replace(/[^\w.@+-]/g, '_'));
  let found = find([prefix]);
  if (found) return found;
  process.stderr.write(
    `[cycletls-native] source build: installing ${specs.join(' ')} (headers only) into ${prefix}\n`,
  );
  fs.mkdirSync(prefix, { recursive: true });
  const npmCli = process.env.npm_execpath;
  const [cmd, args] = npmCli && /\.[cm]?js$/.test(npmCli) ? [process.execPath, [npmCli]] : ['npm', []];
  execFileSync(
    cmd,
    [
      ...args,
      'install',
      '--no-save',
      '--no-package-lock',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefix',
      prefix,
      ...specs,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  found = find([prefix]);
  if (!found) throw new Error(`could not install ${specs.join(' ')} for the source build`);
  return found;
}

/**
 * The third-party trees a build compiles, fetched and cached when needed (progress on stderr): the
 * BoringSSL tree with our patch series applied (scripts/fetch-boringssl.sh, prepare-boringssl.sh)
 * and the nghttp2, ngtcp2, nghttp3 and c-ares trees (scripts/fetch-debian-source.sh). Each honours its
 * <LIBRARY>_SOURCE_DIR (BORINGSSL_SOURCE_DIR, NGHTTP2_SOURCE_DIR, ..., CARES_SOURCE_DIR).
 */
function sourceTrees() {
  const lastLine = (script, ...args) =>
    execFileSync('bash', [path.join(__dirname, script), ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop();
  const step = (msg) => process.stderr.write(`[cycletls-native] ${msg}\n`);
  step('locating BoringSSL source');
  const boringssl = lastLine('prepare-boringssl.sh', lastLine('fetch-boringssl.sh'));
  step(`BoringSSL: ${boringssl}`);
  const debian = {};
  for (const lib of DEBIAN_LIBRARIES) {
    step(`locating ${lib} source`);
    debian[lib] = lastLine('fetch-debian-source.sh', lib);
    step(`${lib}: ${debian[lib]}`);
  }
  return { boringssl, ...debian };
}

/** The C libraries built from Debian's source packages (scripts/fetch-debian-source.sh, cmake/<lib>.cmake). */
const DEBIAN_LIBRARIES = ['nghttp2', 'ngtcp2', 'nghttp3', 'c-ares'];

/** The cmake variable (and environment variable) naming a library's tree: c-ares -> CARES_SOURCE_DIR. */
const sourceDirVar = (lib) => `${lib.toUpperCase().replace(/-/g, '')}_SOURCE_DIR`;

/** -D<LIB>_SOURCE_DIR=<dir> for each of DEBIAN_LIBRARIES found in `dirOf` (a function of the name). */
function debianSourceDefs(dirOf) {
  return DEBIAN_LIBRARIES.map((lib) => [lib, dirOf(lib)])
    .filter(([, dir]) => dir)
    .map(([lib, dir]) => `-D${sourceDirVar(lib)}=${dir}`);
}

/**
 * A digest of everything a prebuilt binary is compiled from that lives in this repository (the
 * build description, the native sources, our BoringSSL patches, the BoringSSL pin): what
 * prebuilds/<tag>/manifest.json records and `npm pack` (scripts/prepack.js) compares.
 */
function sourcesDigest() {
  const hash = crypto.createHash('sha256');
  const add = (rel) => {
    const abs = path.join(root, rel);
    if (fs.statSync(abs).isDirectory()) {
      for (const name of fs.readdirSync(abs).sort()) add(path.join(rel, name));
    } else {
      hash.update(`${rel}\0`).update(fs.readFileSync(abs)).update('\0');
    }
  };
  for (const rel of ['CMakeLists.txt', 'cmake', 'native', path.join('scripts', 'boringssl.pin')]) add(rel);
  return hash.digest('hex');
}

/** Configures build-sanitize/, the addon target included. */
function configureSanitizeBuild() {
  const args = [
    '-S',
    root,
    '-B',
    sanitizeDir,
    '-DCMAKE_BUILD_TYPE=RelWithDebInfo',
    // -O1 (what ASan's authors advise) and line tables only (-g1: what the reports' stack traces
    // need): with GCC's UBSan at -O2 -g this build took 2.4 times as long to compile, the longest
    // stage of npm test.
    '-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG',
    '-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG',
    '-DCTN_SANITIZE=ON',
    '-DCTN_BUILD_TESTS=ON',
    `-DBORINGSSL_SOURCE_DIR=${boringsslSource()}`,
    `-DCTN_NODE_API_INCLUDE_DIRS=${nodeApiIncludeDirs().join(';')}`,
  ];
  const libdir = boringsslLibdir();
  if (libdir) args.push(`-DCTN_BORINGSSL_LIBDIR=${libdir}`);
  args.push(...debianSourceDefs((lib) => fromMainBuild(sourceDirVar(lib))));
  try {
    execFileSync('ninja', ['--version'], { stdio: 'ignore' });
    args.push('-G', 'Ninja');
  } catch {
    /* make it is */
  }
  execFileSync('cmake', args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  return sanitizeDir;
}

module.exports = {
  root,
  missingTools,
  BUILD_TOOLS,
  cacheDir,
  nodeApiIncludeDirs,
  sourceTrees,
  DEBIAN_LIBRARIES,
  sourceDirVar,
  debianSourceDefs,
  fromMainBuild,
  sourcesDigest,
  configureSanitizeBuild,
};
