'use strict';
// The linux-arm64-gnu prebuilt, really run: the packed package installed into an empty project,
// then an arm64 node (Debian's, unpacked from this machine's own archive) under qemu-user loads it
// and, against the package's own echo server in the same process, makes HTTPS requests over HTTP/2
// and HTTP/1.1 with the Chrome preset: JA4 and the Akamai string must equal the captured Chromium
// 156 (test/fixtures/fingerprints/requests.jsonl), and what the x86-64 prebuilt sends. Needs `npm run prebuilds` and root
// the first time (apt-get install qemu-user-static mmdebstrap; the arm64 node tree is then cached).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { arm64Node } = require('../../scripts/debian-roots');
const { loadGolden } = require('../echo/helpers');
const { closedPort } = require('../helpers/servers');
const { packWithDependencies, installPackedProject, SMOKE_PROGRAM: SMOKE } = require('../helpers/pack');

const root = path.resolve(__dirname, '..', '..');
const prebuilt = path.join(root, 'prebuilds', 'linux-arm64-gnu', 'cycletls_native.node');
const golden = loadGolden();
const chromium =
  golden.find((r) => r.path === '/chromium-headed') || golden.find((r) => r.path === '/chromium-1');
const chromiumResumedH1 = require('../fixtures/fingerprints/resumed.json').records.find(
  (r) => r.tag === 'chromium-1-2',
);
const TIMEOUT = 300000;

let work;
let out;
let x64;
beforeAll(async () => {
  if (!fs.existsSync(prebuilt)) throw new Error(`${prebuilt} is missing: run \`npm run prebuilds\` first`);
  const node = arm64Node();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-arm64-'));
  const project = path.join(work, 'app');
  // The host's npm places the files; no install script runs (it would run on this x86-64 node).
  installPackedProject(project, packWithDependencies(path.join(work, 'packed')).tarballs, await closedPort());
  const started = Date.now();
  const r = node.run(['-e', SMOKE], {
    cwd: project,
    timeout: TIMEOUT,
    env: { PATH: '/usr/bin:/bin', HOME: work },
  });
  console.log(`arm64 smoke under qemu-user took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (r.status !== 0) throw new Error(`the arm64 node failed (${r.status ?? r.signal}): ${r.stderr}`);
  out = JSON.parse(r.stdout);
  // The same program on this x86-64 node (the linux-x64-gnu prebuilt of the same package): the two
  // architectures must send the same bytes.
  const host = spawnSync(process.execPath, ['-e', SMOKE], {
    cwd: project,
    encoding: 'utf8',
    timeout: TIMEOUT,
    env: { PATH: process.env.PATH, HOME: work },
  });
  if (host.status !== 0)
    throw new Error(`the x86-64 node failed (${host.status ?? host.signal}): ${host.stderr}`);
  x64 = JSON.parse(host.stdout);
}, TIMEOUT);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('an arm64 node loads the linux-arm64-gnu prebuilt from the installed package', () => {
  expect(out.arch).toBe('arm64');
  expect(out.binding).toMatchObject({ source: 'prebuilt', platform: 'linux-arm64-gnu' });
  expect(out.binding.path).toMatch(
    /node_modules\/cycletls-native\/prebuilds\/linux-arm64-gnu\/cycletls_native\.node$/,
  );
});

test('HTTPS over HTTP/2 with the Chrome preset: JA4 and Akamai string equal Chromium 156', () => {
  expect(out.h2).toEqual({
    status: 200,
    httpVersion: '2.0',
    ja4: chromium.tls.ja4,
    akamai: chromium.http2.akamai_fingerprint,
  });
});

test("HTTPS over HTTP/1.1 (forceHTTP1): Chromium's resumed http/1.1-only hello", () => {
  expect(out.h1.status).toBe(200);
  expect(out.h1.httpVersion).toBe('1.1');
  // Second on the same client, it resumes the first one's session: Chromium's resumed http/1.1-only hello.
  expect(out.h1.ja4).toBe(chromiumResumedH1.ja4);
  expect(out.h1.akamai).toBeNull();
});

test('the arm64 and x86-64 prebuilts send the same fingerprints', () => {
  expect(x64.binding).toMatchObject({ source: 'prebuilt', platform: 'linux-x64-gnu' });
  expect(out.h2).toEqual(x64.h2);
  expect(out.h1).toEqual(x64.h1);
});
