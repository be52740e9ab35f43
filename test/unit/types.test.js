'use strict';
// types/index.d.ts is the public contract: cycletls-style code must compile against it, misuse must
// not (the @ts-expect-error lines in test/types/contract.ts), and it must agree with the runtime.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');

test('test/types/contract.ts compiles under strict mode (and every expected error is an error)', () => {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'test', 'types', 'tsconfig.json')], {
    encoding: 'utf8',
  });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
}, 60000);

test('the declared error codes are exactly the runtime ones', () => {
  const dts = fs.readFileSync(path.join(root, 'types', 'index.d.ts'), 'utf8');
  const union = /export type ErrorCode =([\s\S]*?);/.exec(dts)[1];
  const declared = [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]);
  expect(declared.sort()).toEqual([...require(root).errorCodes].sort());
});

test('the declared public API exists at runtime', async () => {
  const mod = require(root);
  expect(typeof mod).toBe('function');
  expect(mod.default).toBe(mod);
  expect(mod.initCycleTLS).toBe(mod);
  expect(typeof mod.CycleTLSError).toBe('function');
  const client = await mod({ port: 29999 });
  for (const m of [
    'head',
    'get',
    'post',
    'put',
    'delete',
    'trace',
    'options',
    'connect',
    'patch',
    'ws',
    'webSocket',
    'sse',
    'eventSource',
    'exit',
    'stats',
  ]) {
    expect(typeof client[m]).toBe('function');
  }
  expect(typeof client.clientId).toBe('number');
  await client.exit();
});

test('no `any` in the public types', () => {
  const dts = fs
    .readFileSync(path.join(root, 'types', 'index.d.ts'), 'utf8')
    .replace(/\/\/.*$/gm, '')
    .replace(/\/\*[\s\S]*?\*\//g, '');
  expect(dts).not.toMatch(/\bany\b/);
});

test('the declared ProfileId values are exactly the presets the addon carries', () => {
  const dts = fs.readFileSync(path.join(root, 'types', 'index.d.ts'), 'utf8');
  const declared = [.../export type ProfileId =([^;]*);/.exec(dts)[1].matchAll(/'([a-z0-9_]+)'/g)].map(
    (m) => m[1],
  );
  const addon = require(path.join(root, 'build', 'Release', 'cycletls_native.node'));
  expect(declared.sort()).toEqual([...addon.info.profiles].sort());
});

test('the declared v3 client, its WebSocket and fetch exist at runtime, method for method', () => {
  const mod = require(root);
  const dts = fs.readFileSync(path.join(root, 'types', 'index.d.ts'), 'utf8');
  const methodsOf = (cls) => {
    const body = new RegExp(`export declare class ${cls} extends EventEmitter \\{([\\s\\S]*?)\\n\\}`).exec(
      dts,
    )[1];
    return [...new Set([...body.matchAll(/^ {2}([a-zA-Z]+)\(/gm)].map((m) => m[1]))];
  };
  const v3Methods = methodsOf('CycleTLS');
  expect(v3Methods).toEqual(expect.arrayContaining(['request', 'get', 'post', 'ws', 'sse', 'close']));
  for (const m of v3Methods) expect(typeof mod.CycleTLS.prototype[m]).toBe('function');
  const { CycleTLSWebSocket } = require(path.join(root, 'dist', 'v3-websocket.js'));
  const wsMethods = methodsOf('CycleTLSWebSocket');
  expect(wsMethods).toEqual(expect.arrayContaining(['send', 'ping', 'pong', 'close', 'terminate', 'on']));
  for (const m of wsMethods) expect(typeof CycleTLSWebSocket.prototype[m]).toBe('function');
  expect(typeof mod.fetch).toBe('function');
  expect(typeof mod.fetch.close).toBe('function');
  expect(typeof mod.createFetch).toBe('function');
  expect(new mod.CycleTLSError('ERR_TIMEOUT', 'x').statusCode).toBe(408);
  expect(new mod.CycleTLSError('ERR_INTERNAL', 'x').statusCode).toBe(0);
});
