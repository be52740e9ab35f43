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
    } catch { /* next */ }
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
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile()).reduce((sum, e) => sum + fs.statSync(path.join(e.parentPath ?? e.path, e.name)).size, 0);
}

/** Packs the repository and its runtime dependencies into `dest`: { tarballs (ours first), dependencyNames }. */
function packWithDependencies(dest) {
  fs.mkdirSync(dest, { recursive: true });
  const pack = (dirs) => JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest, ...dirs],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).map((p) => path.join(dest, p.filename));
  const deps = runtimeDependencyDirs();
  return { tarballs: [...pack([root]), ...pack([...deps.values()])], dependencyNames: [...deps.keys()] };
}

module.exports = { root, which, treeBytes, runtimeDependencyDirs, packWithDependencies };
