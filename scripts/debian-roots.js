// Debian file trees for the maintainer builds, made with mmdebstrap from this machine's own Debian
// archive (its URIs read from /etc/apt at run time, never written down) and cached outside the
// repository: the Debian 11 build root of scripts/prebuild.js, and the arm64 node of the arm64
// smoke test (run under qemu-user). Each is made once, in a .partial folder renamed when complete.
'use strict';
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { cacheDir } = require('./build-config');

const log = (msg) => process.stderr.write(`[debian-roots] ${msg}\n`);

function osRelease(field) {
  return new RegExp(`^${field}=(.*)$`, 'm')
    .exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1]
    ?.replace(/"/g, '');
}

/**
 * The URIs of this machine's Debian archive: of the apt sources scripts/apt-sources.sh reads off
 * /etc/apt (the one parser of it), those whose suites include this release itself (not -security).
 */
function debianArchiveUris() {
  const codename = osRelease('VERSION_CODENAME');
  const stanzas = execFileSync('bash', [path.join(__dirname, 'apt-sources.sh')], { encoding: 'utf8' }).split(
    /\n\s*\n/,
  );
  const field = (stanza, name) =>
    new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
  const uris = new Set(
    stanzas.filter((st) => field(st, 'Suites').includes(codename)).flatMap((st) => field(st, 'URIs')),
  );
  if (!uris.size) throw new Error(`no apt source serving this machine's release ("${codename}") in /etc/apt`);
  return [...uris];
}

/** Installs the Debian packages of `tools` ([binary, package] pairs) whose binary is missing (root). */
function ensureHostTools(tools) {
  const missing = tools.filter(([bin]) => !fs.existsSync(`/usr/bin/${bin}`)).map(([, pkg]) => pkg);
  if (!missing.length) return;
  if (process.getuid?.() !== 0)
    throw new Error(`missing ${missing.join(', ')}: run as root: apt-get install ${missing.join(' ')}`);
  log(`installing ${missing.join(' ')}`);
  const quiet = {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  };
  try {
    execFileSync('apt-get', ['update', '-qq'], quiet);
  } catch {
    /* an unreachable third-party repository must not stop it */
  }
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], quiet);
}

/**
 * A cached Debian tree; its path. `suite` defaults to this machine's release; `variant` is
 * mmdebstrap's ('apt': a build root to chroot into; 'extract': packages unpacked, nothing run, for
 * a foreign architecture); `updates` adds the suite's -updates.
 */
function debianRoot({
  name,
  suite = osRelease('VERSION_CODENAME'),
  variant,
  architectures,
  packages,
  updates = false,
}) {
  const spec = { suite, variant, architectures, packages, updates };
  const key = crypto.createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 12);
  const dir = cacheDir('roots', `${name}-${key}`);
  if (fs.existsSync(path.join(dir, '.complete'))) return dir;
  ensureHostTools([['mmdebstrap', 'mmdebstrap']]);
  const sources = debianArchiveUris().flatMap((uri) => [
    `deb ${uri} ${suite} main`,
    ...(updates ? [`deb ${uri} ${suite}-updates main`] : []),
  ]);
  const partial = `${dir}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  log(`making ${dir} (${suite}, ${architectures.join('+')}, once)`);
  execFileSync(
    'mmdebstrap',
    [
      `--variant=${variant}`,
      `--architectures=${architectures.join(',')}`,
      '--quiet',
      `--include=${packages.join(',')}`,
      suite,
      partial,
      ...sources,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  fs.writeFileSync(path.join(partial, '.complete'), `${new Date().toISOString()}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(partial, dir);
  return dir;
}

/** The Debian release whose C library is the prebuilt binaries' floor, and what its build root holds. */
const BUILD_ROOT = {
  suite: 'bullseye',
  packages: [
    'g++',
    'make',
    'cmake',
    'libbrotli-dev',
    'zlib1g-dev',
    'libzstd-dev',
    // patch(1): cmake/ngtcp2.cmake applies native/quic/patches/ngtcp2. (The root's cache key is a
    // digest of this list, so a root cached before it was added is made anew, with patch.)
    'patch',
    'g++-aarch64-linux-gnu',
    'libc6-dev-arm64-cross',
    'libbrotli-dev:arm64',
    'zlib1g-dev:arm64',
    'libzstd-dev:arm64',
  ],
};

/**
 * The Debian 11 build root of scripts/prebuild.js (glibc 2.31, g++ 10 and its aarch64 cross
 * compiler); test/install also runs node in it, to load the x64 prebuilt on the floor's glibc.
 */
function buildRoot() {
  const dir = debianRoot({
    name: BUILD_ROOT.suite,
    suite: BUILD_ROOT.suite,
    variant: 'apt',
    architectures: ['amd64', 'arm64'],
    packages: BUILD_ROOT.packages,
    updates: true,
  });
  // mmdebstrap writes no /etc/hosts: without one, "localhost" does not resolve inside.
  const hosts = path.join(dir, 'etc', 'hosts');
  if (!fs.existsSync(hosts))
    fs.writeFileSync(hosts, '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  return dir;
}

/**
 * An arm64 node from this machine's Debian release, to run under qemu-user: { run(args, opts) }
 * where run spawns `node args...` under qemu-aarch64-static (spawnSync's result).
 */
function arm64Node() {
  ensureHostTools([
    ['qemu-aarch64-static', 'qemu-user-static'],
    ['mmdebstrap', 'mmdebstrap'],
  ]);
  const sysroot = debianRoot({
    name: 'nodejs-arm64',
    variant: 'extract',
    architectures: ['arm64'],
    packages: ['nodejs'],
  });
  const { spawnSync } = require('node:child_process');
  // No ld.so.cache in an unpacked tree: the loader is told where Debian's multiarch libraries are.
  const qemuArgs = ['-L', sysroot, '-E', 'LD_LIBRARY_PATH=/usr/lib/aarch64-linux-gnu:/lib/aarch64-linux-gnu'];
  return {
    sysroot,
    run: (args, opts = {}) =>
      spawnSync(
        '/usr/bin/qemu-aarch64-static',
        [...qemuArgs, path.join(sysroot, 'usr', 'bin', 'node'), ...args],
        { encoding: 'utf8', ...opts },
      ),
  };
}

module.exports = { debianArchiveUris, ensureHostTools, debianRoot, buildRoot, arm64Node };
