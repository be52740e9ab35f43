'use strict';
// Mirrors cycletls 2.0.5 tests/images.test.ts: 2 of its 2 tests (JPEG, PNG, SVG and WebP downloaded over plain
// http:// and written to files; the files equal the originals byte for byte), against the local httpbin stand-in.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const initCycleTLS = require('../..');
const { compatSuite } = require('./helpers/suite');
const { startHttpbin, imageBytes } = require('./helpers/httpbin');
const { FIREFOX_87_JA3: ja3, FIREFOX_87_UA: userAgent } = require('./helpers/stand-ins');

const KINDS = ['jpeg', 'png', 'svg', 'webp'];
const env = compatSuite({ httpbin: () => startHttpbin({ tls: false }) });
let outDir;
beforeAll(() => {
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'compat-images-'));
});
afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

test('every image type downloads and is written to a file', async () => {
  const cycleTLS = await initCycleTLS({ port: 9610 });
  for (const kind of KINDS) {
    const response = await cycleTLS(env.httpbin.url(`/image/${kind}`), { ja3, userAgent }, 'get');
    expect(response.status).toBe(200);
    fs.writeFileSync(path.join(outDir, `output.${kind}`), Buffer.from(await response.arrayBuffer()));
  }
  await cycleTLS.exit();
});

test('the written files equal the originals', () => {
  for (const kind of KINDS) {
    expect(fs.readFileSync(path.join(outDir, `output.${kind}`)).equals(imageBytes(kind))).toBe(true);
  }
});
