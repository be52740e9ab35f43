'use strict';
// The prebuilt binaries keep their promise (scripts/elf-check.js reads each one's dynamic section
// and symbol table): no glibc symbol version above 2.31, no library beyond the C library's own
// (libstdc++ and libgcc linked in), the right machine, and only the two Node-API entry points
// exported. The check itself is shown to catch what it must, on this machine's source build (linked
// against its newer glibc and its shared libstdc++). Needs `npm run prebuilds`.
const fs = require('node:fs');
const path = require('node:path');
const { checkPortable, compareVersions, PORTABLE_GLIBC } = require('../../scripts/elf-check');

const root = path.resolve(__dirname, '..', '..');
const targets = [
  ['linux-x64-gnu', 'x86_64-linux-gnu'],
  ['linux-arm64-gnu', 'aarch64-linux-gnu'],
];

describe.each(targets)('prebuilds/%s', (tag, triplet) => {
  const file = path.join(root, 'prebuilds', tag, 'cycletls_native.node');
  let report;
  beforeAll(() => {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run prebuilds\` first`);
    report = checkPortable(file, triplet);
  });

  test('portable: nothing the check objects to', () => {
    expect(report.problems).toEqual([]);
  });
  test(`glibc symbol versions at most ${PORTABLE_GLIBC}`, () => {
    const glibc = report.versionNeeds
      .filter((v) => /^GLIBC_\d/.test(v.version))
      .map((v) => v.version.slice(6));
    expect(glibc.length).toBeGreaterThan(0);
    for (const v of glibc) expect(compareVersions(v, PORTABLE_GLIBC)).toBeLessThanOrEqual(0);
  });
  test('needs only the C library (no libstdc++, no libgcc_s)', () => {
    expect(report.needed).toContain('libc.so.6');
    for (const lib of report.needed)
      expect(lib).toMatch(/^(libc|libm|libpthread|libdl|librt)\.so\.\d$|^ld-linux-/);
    expect(report.versionNeeds.map((v) => v.file)).not.toContain('libstdc++.so.6');
  });
  test('exports the Node-API entry points and nothing else (BoringSSL, nghttp2, zlib, brotli, zstd stay hidden)', () => {
    expect(report.exports).toContain('napi_register_module_v1');
    expect(
      report.exports.filter((n) => !/^(napi_register_module_v1|node_api_module_get_api_version_v1)$/.test(n)),
    ).toEqual([]);
    expect(
      report.imports.map((s) => s.name).filter((n) => /^(SSL_|EVP_|nghttp2_|inflate|Brotli|ZSTD_)/.test(n)),
    ).toEqual([]);
  });
  test('is small enough to ship (under 6 MB gzip-compressed)', () => {
    const gz = require('node:zlib').gzipSync(fs.readFileSync(file), { level: 9 }).length;
    expect(gz).toBeLessThan(6e6);
  });
});

test("the check catches a binary that is not portable: this machine's source build", () => {
  const file = path.join(root, 'build', 'Release', 'cycletls_native.node');
  const report = checkPortable(file, `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`);
  // Debian 12 links pthread_* at GLIBC_2.34 and the C++ runtime dynamically.
  expect(report.problems).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^needs libstdc\+\+\.so\.6 /),
      expect.stringMatching(/^needs GLIBC_2\.3[2-9] of libc\.so\.6 \(newer than 2\.31\) for /),
    ]),
  );
  expect(checkPortable(file, 'aarch64-linux-gnu').problems[0]).toMatch(/^built for ".*", expected AArch64/);
});
