'use strict';
// The package as it would be published: `npm pack` of the repository plus tarballs of its runtime
// dependencies packed from this repository's node_modules, so a test can install it offline (a
// registry's npm cache is keyed by the registry's address and cannot serve an install pointed at a
// dead one).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');

/** The absolute path of `name` on this process's PATH. */
function which(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      /* next */
    }
  }
  throw new Error(`${name} is not on PATH`);
}

/** The package directories of the runtime dependency closure, as installed in this repository. */
function runtimeDependencyDirs() {
  const dirs = new Map();
  const visit = (fromDir) => {
    const { dependencies = {} } = JSON.parse(fs.readFileSync(path.join(fromDir, 'package.json'), 'utf8'));
    for (const name of Object.keys(dependencies)) {
      let dir = fromDir;
      while (!fs.existsSync(path.join(dir, 'node_modules', name, 'package.json'))) {
        if (dir === path.dirname(dir)) throw new Error(`dependency ${name} of ${fromDir} is not installed`);
        dir = path.dirname(dir);
      }
      const found = path.join(dir, 'node_modules', name);
      if (!dirs.has(name)) {
        dirs.set(name, found);
        visit(found);
      }
    }
  };
  visit(root);
  return dirs;
}

/** Bytes of the files under `dir` (0 when it does not exist). */
function treeBytes(dir) {
  if (!fs.existsSync(dir)) return 0;
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .reduce((sum, e) => sum + fs.statSync(path.join(e.parentPath ?? e.path, e.name)).size, 0);
}

/** Packs the repository and its runtime dependencies into `dest`: { tarballs (ours first), dependencyNames }. */
function packWithDependencies(dest) {
  fs.mkdirSync(dest, { recursive: true });
  const pack = (dirs) =>
    JSON.parse(
      execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest, ...dirs], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ).map((p) => path.join(dest, p.filename));
  const deps = runtimeDependencyDirs();
  return { tarballs: [...pack([root]), ...pack([...deps.values()])], dependencyNames: [...deps.keys()] };
}

/**
 * An empty project `dir` with the packed package installed offline by this machine's npm (registry
 * on a dead port, a fresh cache; `--ignore-scripts`: the install hook is another test's subject,
 * and the node that will run the project may not be this one).
 */
function installPackedProject(dir, tarballs, deadPort) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'app', version: '1.0.0', private: true }),
  );
  execFileSync('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', ...tarballs], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 300000,
    env: {
      ...process.env,
      npm_config_cache: path.join(dir, '.npm-cache'),
      npm_config_registry: `http://127.0.0.1:${deadPort}/`,
    },
  });
}

/**
 * A program for a project with the package installed: the package's echo server and a client in one
 * process, one HTTPS request over HTTP/2 and one over HTTP/1.1 (forceHTTP1) with the default Chrome
 * preset; prints JSON { arch, node, glibc, binding, h2, h1 } (each: status, httpVersion, ja4, akamai).
 */
const SMOKE_PROGRAM = `
const initCycleTLS = require('cycletls-native');
const { startEchoServer } = require('cycletls-native/echo');
(async () => {
  const echo = await startEchoServer({ port: 0 });
  const client = await initCycleTLS({ port: 20000 + (process.pid % 10000), shareAcrossProcesses: false });
  const url = 'https://localhost:' + echo.port + '/fp';
  const ask = async (extra) => {
    const r = await client.get(url, { insecureSkipVerify: true, ...extra });
    const d = r.data;
    return { status: r.status, httpVersion: r.httpVersion, ja4: d.tls.ja4, akamai: d.http2 ? d.http2.akamai_fingerprint : null };
  };
  const glibc = process.report.getReport().header.glibcVersionRuntime;
  const out = { arch: process.arch, node: process.version, glibc, binding: initCycleTLS.nativeBinding(),
    h2: await ask({}), h1: await ask({ forceHTTP1: true }) };
  await client.exit();
  await echo.close();
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
`;

module.exports = {
  root,
  which,
  treeBytes,
  runtimeDependencyDirs,
  packWithDependencies,
  installPackedProject,
  SMOKE_PROGRAM,
};
