'use strict';
// The linux-x64-gnu prebuilt on the oldest C library it claims: this machine's node (whose own floor
// is glibc 2.28) runs inside the Debian 11 build root of scripts/prebuild.js (glibc 2.31, nothing of
// this machine's libraries), loads the prebuilt from the installed package, and makes HTTPS requests
// over HTTP/2 and HTTP/1.1 to the package's echo server with the Chrome preset. The symbol test says
// the binary asks for nothing newer; this shows it. Needs root (chroot) and `npm run prebuilds`.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { buildRoot } = require('../../scripts/debian-roots');
const { loadGolden } = require('../echo/helpers');
const { closedPort } = require('../helpers/servers');
const { packWithDependencies, installPackedProject, SMOKE_PROGRAM } = require('../helpers/pack');

const repo = path.resolve(__dirname, '..', '..');
const prebuilt = path.join(repo, 'prebuilds', 'linux-x64-gnu', 'cycletls_native.node');
const golden = loadGolden();
const chromium =
  golden.find((r) => r.path === '/chromium-headed') || golden.find((r) => r.path === '/chromium-1');
const chromiumResumedH1 = require('../fixtures/fingerprints/resumed.json').records.find(
  (r) => r.tag === 'chromium-1-2',
);
const TIMEOUT = 300000;

let work;
let out;
beforeAll(async () => {
  if (!fs.existsSync(prebuilt)) throw new Error(`${prebuilt} is missing: run \`npm run prebuilds\` first`);
  if (process.getuid() !== 0) throw new Error('this test needs root (chroot into the Debian 11 root)');
  const root = buildRoot();
  work = fs.mkdtempSync(path.join(root, 'tmp', 'ctn-glibc-'));
  const inRoot = (p) => `/${path.relative(root, p)}`;
  fs.copyFileSync(process.execPath, path.join(work, 'node'));
  fs.chmodSync(path.join(work, 'node'), 0o755);
  const project = path.join(work, 'app');
  installPackedProject(project, packWithDependencies(path.join(work, 'packed')).tarballs, await closedPort());
  fs.writeFileSync(path.join(project, 'smoke.js'), SMOKE_PROGRAM);
  const r = spawnSync(
    '/usr/sbin/chroot',
    [root, inRoot(path.join(work, 'node')), inRoot(path.join(project, 'smoke.js'))],
    {
      encoding: 'utf8',
      timeout: TIMEOUT,
      env: { PATH: '/usr/bin:/bin', HOME: '/tmp' },
    },
  );
  if (r.status !== 0)
    throw new Error(`node in the Debian 11 root failed (${r.error ?? r.status ?? r.signal}): ${r.stderr}`);
  out = JSON.parse(r.stdout);
}, TIMEOUT);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('node on glibc 2.31 loads the linux-x64-gnu prebuilt from the installed package', () => {
  expect(out.glibc).toBe('2.31');
  expect(out.binding).toMatchObject({ source: 'prebuilt', platform: 'linux-x64-gnu' });
});

test("HTTPS over HTTP/2 and HTTP/1.1 with the Chrome preset works there, with Chromium 156's fingerprints", () => {
  expect(out.h2).toEqual({
    status: 200,
    httpVersion: '2.0',
    ja4: chromium.tls.ja4,
    akamai: chromium.http2.akamai_fingerprint,
  });
  expect(out.h1).toMatchObject({ status: 200, httpVersion: '1.1', akamai: null });
  // Second on the same client, it resumes the first one's session: Chromium's resumed http/1.1-only hello.
  expect(out.h1.ja4).toBe(chromiumResumedH1.ja4);
});
