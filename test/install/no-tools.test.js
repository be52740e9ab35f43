'use strict';
// The package as published (npm pack) installs and works on a machine with nothing but node and npm:
// the install runs with a PATH holding only links to node, npm, npx and sh (npm runs every install
// script through sh: a system without one runs none; no compiler, cmake, make, apt-get or bash),
// --offline, a fresh npm cache and the registry on a dead local port. The
// dependencies come as tarballs packed from this repository's node_modules (a registry's cache is
// keyed by its address, so it cannot serve an install pointed elsewhere). Needs this architecture's
// prebuilt binary (`npm run prebuilds`).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { closedPort } = require('../helpers/servers');
const { which, treeBytes, packWithDependencies } = require('../helpers/pack');

const root = path.resolve(__dirname, '..', '..');
const tag = `linux-${process.arch}-gnu`;
const prebuilt = path.join(root, 'prebuilds', tag, 'cycletls_native.node');
const certDir = path.join(root, 'test', 'fixtures', 'certs');
const TIMEOUT = 180000;

let work;
let toolDir;
let tarballs;
let dependencyNames;
let baseEnv;
let deadPort;

function npmIn(project, args, extraEnv = {}) {
  const started = Date.now();
  const r = spawnSync(path.join(toolDir, 'npm'), args, {
    cwd: project,
    env: { ...baseEnv, ...extraEnv },
    encoding: 'utf8',
    timeout: TIMEOUT,
  });
  return { ...r, seconds: (Date.now() - started) / 1000, output: `${r.stdout}\n${r.stderr}` };
}

function emptyProject(name) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  return dir;
}

beforeAll(async () => {
  if (!fs.existsSync(prebuilt)) {
    throw new Error(
      `${prebuilt} is missing: run \`npm run prebuilds\` first (this test installs the prebuilt package)`,
    );
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-no-tools-'));
  toolDir = path.join(work, 'bin');
  fs.mkdirSync(toolDir);
  for (const tool of ['npm', 'npx']) fs.symlinkSync(fs.realpathSync(which(tool)), path.join(toolDir, tool));
  fs.symlinkSync(process.execPath, path.join(toolDir, 'node'));
  const sh = fs.realpathSync('/bin/sh');
  if (path.basename(sh) === 'bash')
    throw new Error('/bin/sh is bash here: this test needs a PATH without bash');
  fs.symlinkSync(sh, path.join(toolDir, 'sh'));

  ({ tarballs, dependencyNames } = packWithDependencies(path.join(work, 'packed')));

  const home = path.join(work, 'home');
  fs.mkdirSync(home);
  // Nothing from this process's environment: no npm_config_* of a surrounding `npm test`, no
  // CYCLETLS_NATIVE_ADDON, no compiler on PATH.
  baseEnv = {
    PATH: toolDir,
    HOME: home,
    TMPDIR: work,
    npm_config_cache: path.join(work, 'npm-cache'),
    npm_config_registry: `http://127.0.0.1:${(deadPort = await closedPort())}/`,
    npm_config_update_notifier: 'false',
  };
}, TIMEOUT);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const SMOKE = `
const http2 = require('node:http2');
const fs = require('node:fs');
const path = require('node:path');
const initCycleTLS = require('cycletls-native');
(async () => {
  const dir = process.env.CERT_DIR;
  const server = http2.createSecureServer({
    key: fs.readFileSync(path.join(dir, 'server-key.pem')), cert: fs.readFileSync(path.join(dir, 'server.pem')), allowHTTP1: true,
  }, (req, res) => res.end(JSON.stringify({ httpVersion: req.httpVersion, path: req.url })));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = 'https://localhost:' + server.address().port;
  // This process's own engine (no sharing with another test's process on the same port).
  const client = await initCycleTLS({ port: 20000 + (process.pid % 10000), shareAcrossProcesses: false });
  const answer = async (r) => ({ status: r.status, httpVersion: r.httpVersion, body: await r.text() });
  const out = {
    binding: initCycleTLS.nativeBinding(),
    h1: await answer(await client.get(url + '/h1', { forceHTTP1: true })),
    h2: await answer(await client.get(url + '/h2')),
  };
  await client.exit();
  server.close();
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
`;

describe('installed from the packed tarball with only node and npm on PATH', () => {
  let project;
  let install;
  beforeAll(() => {
    project = emptyProject('app');
    install = npmIn(project, ['install', '--offline', '--no-audit', '--no-fund', ...tarballs]);
    const modules = path.join(project, 'node_modules');
    const packages = fs.existsSync(modules)
      ? fs.readdirSync(modules).filter((n) => !n.startsWith('.')).length
      : 0;
    console.log(
      `npm install (prebuilt, offline, no tools) took ${install.seconds.toFixed(1)} s: ` +
        `${packages} packages, ${(treeBytes(modules) / 1e6).toFixed(1)} MB in node_modules`,
    );
  }, TIMEOUT);

  test('the install succeeds without compiling anything or pulling build tooling', () => {
    expect({ status: install.status, output: install.output }).toEqual({
      status: 0,
      output: expect.any(String),
    });
    const pkg = path.join(project, 'node_modules', 'cycletls-native');
    expect(fs.existsSync(path.join(pkg, 'prebuilds', tag, 'cycletls_native.node'))).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'build'))).toBe(false);
    // A scoped package (@scope/name) is node_modules/@scope/name: its scope is what the top level lists.
    const installed = fs
      .readdirSync(path.join(project, 'node_modules'))
      .filter((n) => !n.startsWith('.'))
      .flatMap((n) =>
        n.startsWith('@')
          ? fs.readdirSync(path.join(project, 'node_modules', n)).map((m) => `${n}/${m}`)
          : [n],
      );
    expect(installed.sort()).toEqual(['cycletls-native', ...dependencyNames].sort());
    for (const tooling of ['cmake-js', 'node-addon-api', 'node-api-headers', 'node-gyp'])
      expect(installed).not.toContain(tooling);
  });

  test('it loads the prebuilt binary and makes HTTPS requests over HTTP/1.1 and HTTP/2 with the Chrome preset', () => {
    const r = spawnSync(path.join(toolDir, 'node'), ['-e', SMOKE], {
      cwd: project,
      encoding: 'utf8',
      timeout: 60000,
      env: { ...baseEnv, SSL_CERT_FILE: path.join(certDir, 'ca.pem'), CERT_DIR: certDir },
    });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.binding).toEqual({
      path: fs.realpathSync(
        path.join(project, 'node_modules', 'cycletls-native', 'prebuilds', tag, 'cycletls_native.node'),
      ),
      source: 'prebuilt',
      platform: tag,
      napiVersion: Number(process.versions.napi),
    });
    expect(out.h1).toEqual({
      status: 200,
      httpVersion: '1.1',
      body: JSON.stringify({ httpVersion: '1.1', path: '/h1' }),
    });
    expect(out.h2).toEqual({
      status: 200,
      httpVersion: '2.0',
      body: JSON.stringify({ httpVersion: '2.0', path: '/h2' }),
    });
  });

  test('npx cycletls-native-echo --help prints the usage', () => {
    const r = spawnSync(path.join(toolDir, 'npx'), ['--offline', 'cycletls-native-echo', '--help'], {
      cwd: project,
      env: baseEnv,
      encoding: 'utf8',
      timeout: 60000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: cycletls-native-echo /);
  });

  test('npx cycletls-native and its alias ctn run the CLI: versions, presets, curl exit code 7 for a closed port', () => {
    const npx = (args) =>
      spawnSync(path.join(toolDir, 'npx'), ['--offline', ...args], {
        cwd: project,
        env: baseEnv,
        encoding: 'utf8',
        timeout: 60000,
      });
    let r = npx(['cycletls-native', '--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^cycletls-native \\S+ \\(node \\S+; ${tag}; addon: prebuilt\\)`));
    r = npx(['ctn', '--list-profiles']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^chrome_156, chrome, chromium \(default\)$/m);
    r = npx(['ctn', '-sS', `https://127.0.0.1:${deadPort}/`]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({
      status: 7,
      stderr: expect.stringContaining('[ERR_CONNECT_REFUSED]'),
    });
  });
});

test(
  'a forced source build without tools fails at once, naming what is missing',
  () => {
    const project = emptyProject('forced');
    const r = npmIn(project, ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], {
      CYCLETLS_NATIVE_BUILD_FROM_SOURCE: '1',
    });
    console.log(
      `npm install with CYCLETLS_NATIVE_BUILD_FROM_SOURCE=1 and no tools failed in ${r.seconds.toFixed(1)} s`,
    );
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('a source build was asked for');
    for (const tool of ['bash', 'cmake', 'g++', 'make']) expect(r.output).toContain(tool);
    expect(fs.existsSync(path.join(project, 'node_modules', 'cycletls-native', 'build'))).toBe(false);
  },
  TIMEOUT,
);
