#!/usr/bin/env node
// `npm run prebuilds [-- --arch x64,arm64] [--jobs N] [--no-check] [--no-smoke]`: the portable
// binaries the published package carries, prebuilds/linux-<arch>-gnu/cycletls_native.node, then
// (unless --no-smoke) the tests that run them: test/install (the no-tools install of the packed
// package on this machine, the ELF checks, the arm64 smoke test under qemu-user). (Not `prebuild`:
// npm would run a script of that name before every `npm run build`.)
//
// Portable means: built against Debian 11's glibc 2.31 (so it loads on Debian 11, Ubuntu 20.04,
// RHEL 9 and later), libstdc++ and libgcc linked in, BoringSSL, nghttp2 and the compression
// libraries inside with hidden symbols. The build runs in a Debian 11 build root made with mmdebstrap
// from this machine's own Debian archive (cached outside the repository), with Debian 11's g++ 10
// for x64 and its g++-aarch64-linux-gnu cross compiler for arm64. The sources (ours, the patched
// BoringSSL tree, nghttp2, the Node-API and Asio headers) are the ones the source build uses, copied
// into the root. Each binary is then checked (scripts/elf-check.js): no glibc symbol version above
// 2.31, no library beyond the C library's, no exported symbol beyond the two Node-API entry points.
//
// Needs root (chroot) on a Debian x86-64 host; installs mmdebstrap when missing.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  root,
  DEBIAN_LIBRARIES,
  debianSourceDefs,
  nodeApiIncludeDirs,
  sourceTrees,
  sourcesDigest,
} = require('./build-config');
const { buildRoot } = require('./debian-roots');
const { checkPortable, PORTABLE_GLIBC } = require('./elf-check');

const log = (msg) => process.stderr.write(`[prebuild] ${msg}\n`);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', ...opts });

const ARCHES = {
  x64: { debian: 'amd64', triplet: 'x86_64-linux-gnu', toolchain: undefined },
  arm64: { debian: 'arm64', triplet: 'aarch64-linux-gnu', toolchain: 'cmake/aarch64-linux-gnu.cmake' },
};

function parseArgs(argv) {
  const opts = { arches: ['x64', 'arm64'], jobs: Math.max(1, os.cpus().length), check: true, smoke: true };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (name === '--arch')
      opts.arches = value()
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean);
    else if (name === '--jobs') opts.jobs = Number(value());
    else if (name === '--no-check') opts.check = false;
    else if (name === '--no-smoke') opts.smoke = false;
    else
      throw new Error(
        `unknown argument ${argv[i]} (usage: prebuild.js [--arch x64,arm64] [--jobs N] [--no-check] [--no-smoke])`,
      );
  }
  for (const a of opts.arches)
    if (!ARCHES[a]) throw new Error(`unknown --arch ${a} (known: ${Object.keys(ARCHES).join(', ')})`);
  return opts;
}

/**
 * Mirrors `from` into `to` (a directory inside the build root), keeping modification times so the
 * build inside stays incremental; files gone from `from` go from `to` too.
 */
function mirror(from, to) {
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.cpSync(from, to, { recursive: true, preserveTimestamps: true, dereference: true });
}

/** Copies the sources into <root>/work/src and returns the paths as the root sees them. */
function stageSources(rootDir, trees) {
  const work = path.join(rootDir, 'work');
  const src = path.join(work, 'src');
  fs.mkdirSync(src, { recursive: true });
  for (const entry of ['CMakeLists.txt', 'cmake', 'native'])
    mirror(path.join(root, entry), path.join(src, entry));
  const [napiHeaders, addonApi] = nodeApiIncludeDirs();
  mirror(trees.boringssl, path.join(work, 'boringssl'));
  for (const lib of DEBIAN_LIBRARIES) mirror(trees[lib], path.join(work, lib));
  mirror(napiHeaders, path.join(work, 'node-api-headers'));
  mirror(addonApi, path.join(work, 'node-addon-api'));
  // Asio is header-only and architecture-independent: the host's libasio-dev (newer than Debian 11's).
  mirror('/usr/include/asio', path.join(work, 'asio', 'asio'));
  fs.copyFileSync('/usr/include/asio.hpp', path.join(work, 'asio', 'asio.hpp'));
  return {
    src: '/work/src',
    boringssl: '/work/boringssl',
    ...Object.fromEntries(DEBIAN_LIBRARIES.map((lib) => [lib, `/work/${lib}`])),
    napi: '/work/node-api-headers;/work/node-addon-api',
    asio: '/work/asio',
  };
}

function inRoot(rootDir, args) {
  run('chroot', [rootDir, ...args], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', TMPDIR: '/tmp' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function buildArch(rootDir, staged, arch, jobs) {
  const { triplet, toolchain } = ARCHES[arch];
  const out = `/work/out/${arch}`;
  // Static archives named by path: a find_library search could pick the other architecture's.
  const lib = (name) => `/usr/lib/${triplet}/${name}`;
  const args = [
    'cmake',
    '-S',
    staged.src,
    '-B',
    out,
    '-DCMAKE_BUILD_TYPE=Release',
    '-DCTN_PORTABLE=ON',
    '-DCTN_BUILD_TESTS=OFF',
    `-DBORINGSSL_SOURCE_DIR=${staged.boringssl}`,
    ...debianSourceDefs((lib) => staged[lib]),
    `-DCTN_NODE_API_INCLUDE_DIRS=${staged.napi}`,
    `-DCTN_ASIO_INCLUDE=${staged.asio}`,
    `-DCTN_BROTLIDEC=${lib('libbrotlidec.a')}`,
    `-DCTN_BROTLIENC=${lib('libbrotlienc.a')}`,
    `-DCTN_BROTLICOMMON=${lib('libbrotlicommon.a')}`,
    `-DCTN_ZLIB=${lib('libz.a')}`,
    `-DCTN_ZSTD=${lib('libzstd.a')}`,
  ];
  if (toolchain) args.push(`-DCMAKE_TOOLCHAIN_FILE=${staged.src}/${toolchain}`);
  log(`${arch}: configuring`);
  inRoot(rootDir, args);
  log(`${arch}: building (${jobs} jobs)`);
  inRoot(rootDir, ['cmake', '--build', out, '--target', 'cycletls_native', '--parallel', String(jobs)]);
  const built = path.join(rootDir, out, 'cycletls_native.node');
  const dest = path.join(root, 'prebuilds', `linux-${arch}-gnu`, 'cycletls_native.node');
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(built, dest);
  return dest;
}

function main() {
  const started = Date.now();
  const opts = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error('prebuild runs on a Debian x86-64 host');
  if (process.getuid() !== 0) throw new Error('prebuild needs root (it runs the build in a chroot)');
  const trees = sourceTrees();
  const rootDir = buildRoot();
  const digest = sourcesDigest();
  const staged = stageSources(rootDir, trees);
  for (const arch of opts.arches) {
    const file = buildArch(rootDir, staged, arch, opts.jobs);
    const size = fs.statSync(file).size;
    log(`${arch}: ${path.relative(root, file)} (${(size / 1048576).toFixed(1)} MiB)`);
    if (opts.check) {
      const report = checkPortable(file, ARCHES[arch].triplet);
      if (report.problems.length)
        throw new Error(`${path.relative(root, file)} is not portable:\n  ${report.problems.join('\n  ')}`);
      log(
        `${arch}: portable (newest glibc version needed ${report.newestGlibc}, floor ${PORTABLE_GLIBC}; needs ${report.needed.join(', ')})`,
      );
    }
    // What it was built from, for `npm pack` (scripts/prepack.js) to refuse a stale binary.
    fs.writeFileSync(
      path.join(path.dirname(file), 'manifest.json'),
      `${JSON.stringify(
        {
          platform: `linux-${arch}-gnu`,
          napiVersion: 8,
          glibcFloor: PORTABLE_GLIBC,
          sources: digest,
          boringssl: path.basename(trees.boringssl),
          ...Object.fromEntries(DEBIAN_LIBRARIES.map((lib) => [lib, path.basename(trees[lib])])),
          builtAt: new Date().toISOString(),
        },
        null,
        2,
      )}\n`,
    );
  }
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (opts.smoke) {
    const jest = require.resolve('jest/bin/jest', { paths: [root] });
    log('running test/install against them');
    run(process.execPath, [jest, 'test/install'], { cwd: root });
  }
}

try {
  main();
} catch (err) {
  log(`failed: ${err.message}`);
  process.exit(1);
}
