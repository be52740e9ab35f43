'use strict';
// Process lifecycle with real child processes: an idle engine never keeps a process alive, an
// in-flight request does, worker_threads load and tear down engines safely, no signal handlers
// are installed, and the CommonJS / ESM entry points are one function.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer } = require('../helpers/servers');
const {
  ROOT,
  start,
  runScript,
  run,
  killAll,
  describe: show,
  assertExitedCleanly,
  childEnv,
} = require('./spawn');

let server;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  killAll();
  await server.close();
});

function stdoutLines(result, prefix) {
  return result.lines.filter((l) => l.line.startsWith(prefix));
}

describe('an idle process exits by itself', () => {
  test('after 3 requests without exit(): prints the statuses and exits (code 0) within 5 s of its last request', async () => {
    const r = await runScript('idle-exit.js', ['requests', server.url('/echo')], { timeoutMs: 15000 });
    assertExitedCleanly(r);
    expect(stdoutLines(r, 'STATUS').map((l) => l.line)).toEqual(['STATUS 200', 'STATUS 200', 'STATUS 200']);
    // The pooled keep-alive connection is idle: it must not hold the process.
    expect(r.stdout).toMatch(/^IDLE [1-9]\d* INFLIGHT 0$/m);
    const last = Number(/^LAST (\d+)$/m.exec(r.stdout)[1]);
    expect(r.exitedAt - last).toBeLessThan(5000);
  });

  test('initCycleTLS() without any request: exits by itself', async () => {
    const r = await runScript('idle-exit.js', ['no-request'], { timeoutMs: 15000 });
    assertExitedCleanly(r);
    const last = Number(/^LAST (\d+)$/m.exec(r.stdout)[1]);
    expect(r.exitedAt - last).toBeLessThan(5000);
  });

  test('with exit(): exits promptly', async () => {
    const r = await runScript('idle-exit.js', ['exit', server.url('/echo')], { timeoutMs: 15000 });
    assertExitedCleanly(r);
    expect(r.stdout).toMatch(/^STATUS 200\nEXITED\nLAST \d+\n$/);
    const last = Number(/^LAST (\d+)$/m.exec(r.stdout)[1]);
    expect(r.exitedAt - last).toBeLessThan(2000);
  });

  test('process.exit() with a request in flight: exits with its code, no crash, no late callback', async () => {
    const r = await runScript('idle-exit.js', ['process-exit', server.url('/stall')], { timeoutMs: 15000 });
    assertExitedCleanly(r);
    expect(r.stdout).not.toMatch(/SETTLED/);
    expect(r.stderr).toBe('');
  });
});

describe('an in-flight request keeps the process alive', () => {
  test('a lone request to /delay?ms=1500 prints its 200 before the process exits', async () => {
    const r = await runScript('in-flight.js', [server.url('/delay?ms=1500')], { timeoutMs: 15000 });
    assertExitedCleanly(r);
    const m = /^STATUS (\d+) "delayed 1500" AFTER (\d+)$/m.exec(r.stdout);
    if (!m) throw new Error(`no result line: ${show(r)}`);
    expect(Number(m[1])).toBe(200);
    expect(Number(m[2])).toBeGreaterThanOrEqual(1400);
    // ...and once it settled, nothing more holds the process.
    expect(r.exitedAt - r.lines.find((l) => l.line.startsWith('STATUS')).at).toBeLessThan(5000);
  });
});

describe('worker_threads', () => {
  test('two Workers load the package at once, a Worker with requests in flight is terminated, and 10 create/request/terminate cycles', async () => {
    const r = await runScript('workers.js', [], { timeoutMs: 45000 });
    if (r.code !== 0 || !/^OK$/m.test(r.stdout)) throw new Error(`workers.js failed: ${show(r)}`);
    assertExitedCleanly(r);
    expect(r.stdout).toMatch(/^PHASE1 ok a=20 b=20 codes=0,0$/m);
    expect(r.stdout).toMatch(/^PHASE2 ok terminateCode=1 /m);
    expect(r.stdout).toMatch(/^PHASE3 ok cycles=10 /m);
    expect(r.stdout).not.toMatch(/WORKER ERROR/);
    expect(r.stderr).toBe('');
  });
});

describe('signals', () => {
  test('no process listeners are installed: SIGINT, SIGTERM, beforeExit, exit and others stay at 0', async () => {
    const r = await runScript('signals.js', [server.url('/echo')], { timeoutMs: 15000 });
    assertExitedCleanly(r);
    const counts = JSON.parse(r.stdout.trim().split('\n').pop());
    expect(counts.status).toBe(200);
    for (const e of ['SIGINT', 'SIGTERM', 'beforeExit', 'exit']) expect(counts.before[e]).toBe(0);
    expect(counts.afterLoad).toEqual(counts.before);
    expect(counts.afterRequest).toEqual(counts.before);
    expect(counts.afterExit).toEqual(counts.before);
    expect(counts.eventNamesAfter).toEqual(counts.eventNamesBefore);
  });

  test.each([
    ['SIGTERM', false],
    ['SIGTERM', true],
    ['SIGINT', true],
  ])(
    'a process with a pending interval dies by %s (default behaviour), request in flight: %s',
    async (signal, stalled) => {
      const args = [path.join(ROOT, 'test', 'fixtures', 'scripts', 'signal-target.js'), server.url('/echo')];
      if (stalled) args.push(server.url('/stall'));
      const child = start(process.execPath, args, { timeoutMs: 15000 });
      await child.waitFor(/^READY$/, 10000);
      child.child.kill(signal);
      const r = await child.done;
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(null);
      expect(r.signal).toBe(signal);
      expect(r.stdout).toMatch(/^STATUS 200$/m);
      expect(r.stdout).not.toMatch(/STALL SETTLED/);
    },
  );
});

describe('entry points', () => {
  test('require(pkg), require(pkg).default and require(pkg).initCycleTLS are the same function', () => {
    // In this process too (Jest's module registry), not only in a plain child.
    const pkg = require(ROOT);
    expect(typeof pkg).toBe('function');
    expect(pkg.default).toBe(pkg);
    expect(pkg.initCycleTLS).toBe(pkg);
  });

  test('the same in a plain CommonJS child, which can make a request', async () => {
    const code = `
      const pkg = require(process.env.CYCLETLS_NATIVE_PATH);
      const same = pkg === pkg.default && pkg === pkg.initCycleTLS && typeof pkg === 'function';
      pkg.default({ port: 9320 }).then(async (c) => {
        const r = await c.get(process.argv[1]);
        console.log(JSON.stringify({ same, status: r.status }));
        await c.exit();
      });`;
    const r = await run(process.execPath, ['-e', code, server.url('/echo')], { timeoutMs: 15000 });
    assertExitedCleanly(r);
    expect(JSON.parse(r.stdout)).toEqual({ same: true, status: 200 });
  });

  describe('ESM', () => {
    let dir;
    beforeAll(() => {
      // An application with the package installed under node_modules (a symlink to this checkout).
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cycletls-native-esm-'));
      fs.mkdirSync(path.join(dir, 'node_modules'));
      fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'cycletls-native'), 'dir');
      fs.writeFileSync(
        path.join(dir, 'package.json'),
        JSON.stringify({ name: 'esm-app', private: true, type: 'module' }),
      );
    });
    afterAll(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    const program = (url) => `
      import initCycleTLS from 'cycletls-native';
      import { initCycleTLS as named, CycleTLSError, errorCodes } from 'cycletls-native';
      import * as ns from 'cycletls-native';
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const cjs = require('cycletls-native');
      const same = typeof initCycleTLS === 'function' && initCycleTLS === named && initCycleTLS === cjs &&
        initCycleTLS === cjs.default && initCycleTLS === ns.default && named === ns.initCycleTLS;
      const client = await named({ port: 9321 });
      const r = await client.get(${JSON.stringify(url)});
      await client.exit();
      const viaDefault = await initCycleTLS({ port: 9322 });
      const r2 = await viaDefault.get(${JSON.stringify(url)});
      await viaDefault.exit();
      console.log(JSON.stringify({ same, status: r.status, status2: r2.status,
        error: typeof CycleTLSError === 'function' && Array.isArray(errorCodes) }));`;

    test('an .mjs file of an application that installed the package: default and named imports', async () => {
      const file = path.join(dir, 'app.mjs');
      fs.writeFileSync(file, program(server.url('/echo')));
      const r = await run(process.execPath, [file], { cwd: dir, timeoutMs: 15000 });
      assertExitedCleanly(r);
      expect(JSON.parse(r.stdout)).toEqual({ same: true, status: 200, status2: 200, error: true });
    });

    test('node --input-type=module -e "import initCycleTLS from ..." (package self-reference)', async () => {
      const r = await run(process.execPath, ['--input-type=module', '-e', program(server.url('/echo'))], {
        cwd: ROOT,
        timeoutMs: 15000,
      });
      assertExitedCleanly(r);
      expect(JSON.parse(r.stdout)).toEqual({ same: true, status: 200, status2: 200, error: true });
    });

    test('node --input-type=module -e with the absolute path of the ESM entry', async () => {
      const entry = path.join(ROOT, 'dist', 'index.mjs');
      const code = `
        import initCycleTLS, { initCycleTLS as named } from ${JSON.stringify(entry)};
        import { createRequire } from 'node:module';
        const cjs = createRequire(import.meta.url)(${JSON.stringify(ROOT)});
        const c = await initCycleTLS({ port: 9323 });
        const r = await c.get(${JSON.stringify(server.url('/echo'))});
        await c.exit();
        console.log(JSON.stringify({ same: initCycleTLS === named && named === cjs, status: r.status }));`;
      const r = await run(process.execPath, ['--input-type=module', '-e', code], {
        cwd: os.tmpdir(),
        env: childEnv(),
        timeoutMs: 15000,
      });
      assertExitedCleanly(r);
      expect(JSON.parse(r.stdout)).toEqual({ same: true, status: 200 });
    });
  });
});
