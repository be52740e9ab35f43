'use strict';
// types/crawlee.d.ts against Crawlee's own types: test/types/crawlee.ts must compile (the client is a
// BaseHttpClient of the installed @crawlee/core and fits HttpCrawler), its @ts-expect-error lines must
// fail. Apart from types.test.js: Crawlee's declarations take tsc a while to read.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');

test('test/types/crawlee.ts compiles under strict mode against @crawlee/core', () => {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  const r = spawnSync(
    process.execPath,
    [tsc, '-p', path.join(root, 'test', 'types', 'tsconfig.crawlee.json')],
    {
      encoding: 'utf8',
    },
  );
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
}, 180000);

test('the runtime exports what types/crawlee.d.ts declares, from require() and import', () => {
  const cjs = require(path.join(root, 'dist', 'crawlee.js'));
  const dts = fs.readFileSync(path.join(root, 'types', 'crawlee.d.ts'), 'utf8');
  const declared = [...dts.matchAll(/^export declare class (\w+)/gm)].map((m) => m[1]);
  expect(declared).toContain('CycleTLSHttpClient');
  for (const name of declared) expect(typeof cjs[name]).toBe('function');
  expect(cjs.default).toBe(cjs.CycleTLSHttpClient);
  expect(new cjs.TimeoutError('t', { url: 'u', method: 'GET' }, new Error('x'))).toBeInstanceOf(
    cjs.RequestError,
  );
  // the ESM entry, in a real node (Jest's sandbox has no import()): the same class as require() gives
  const esm = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import C, { CycleTLSHttpClient, TimeoutError } from ${JSON.stringify(path.join(root, 'dist', 'crawlee.mjs'))};
       import { createRequire } from 'node:module';
       const cjs = createRequire(import.meta.url)(${JSON.stringify(path.join(root, 'dist', 'crawlee.js'))});
       console.log(C === cjs.CycleTLSHttpClient && CycleTLSHttpClient === C && TimeoutError === cjs.TimeoutError);`,
    ],
    { encoding: 'utf8' },
  );
  expect(esm.stderr).toBe('');
  expect(esm.stdout.trim()).toBe('true');
  const pkg = require(path.join(root, 'package.json'));
  expect(pkg.exports['./crawlee']).toEqual({
    types: './types/crawlee.d.ts',
    import: './dist/crawlee.mjs',
    require: './dist/crawlee.js',
  });
  expect(pkg.peerDependenciesMeta['@crawlee/core'].optional).toBe(true);
  expect(pkg.dependencies['@crawlee/core']).toBeUndefined();
});
