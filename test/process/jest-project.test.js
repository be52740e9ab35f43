'use strict';
// A user's Jest project (test/fixtures/jest-project) run by a real Jest in a child process, without
// --forceExit: it must pass, report no open handle, and exit by itself: in band with
// --detectOpenHandles, in band without it (where a held process shows as "Jest did not exit"), and
// with 2 worker processes (where a held worker shows as "failed to exit gracefully").
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer } = require('../helpers/servers');
const { ROOT, start, childEnv, killAll, describe: show } = require('./spawn');

const PROJECT = path.join(ROOT, 'test', 'fixtures', 'jest-project');
const JEST_BIN = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
const GUARD_MS = 50000;
const BAD_OUTPUT = [
  /open handle/i,
  /Jest did not exit/i,
  /failed to exit gracefully/i,
  /Jest has detected/i,
  /force exited/i,
];

let server;
const tmpDirs = [];

/** Runs the fixture project; resolves with the child's result plus the report of who ran what. */
async function runProject(modeArgs) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cycletls-native-jest-project-'));
  tmpDirs.push(tmp);
  const report = path.join(tmp, 'report.ndjson');
  const args = [
    JEST_BIN,
    '--config',
    path.join(PROJECT, 'jest.config.js'),
    '--rootDir',
    PROJECT,
    '--cacheDirectory',
    path.join(tmp, 'cache'),
    '--ci',
    '--no-watchman',
    ...modeArgs,
  ];
  const child = start(process.execPath, args, {
    cwd: PROJECT,
    timeoutMs: GUARD_MS,
    env: childEnv({
      CYCLETLS_NATIVE_PATH: ROOT,
      CYCLETLS_TEST_ORIGIN: server.origin,
      CYCLETLS_TEST_REPORT: report,
      FORCE_COLOR: '0',
      NO_COLOR: '1',
    }),
  });
  const result = await child.done;
  result.pid = child.child.pid;
  result.output = `${result.stdout}\n${result.stderr}`;
  result.report = fs.existsSync(report)
    ? fs
        .readFileSync(report, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
  return result;
}

const runs = {};
beforeAll(async () => {
  server = await startServer();
  // All runs at once: they share nothing but the server.
  [runs.detect, runs.inBand, runs.workers] = await Promise.all([
    runProject(['--runInBand', '--detectOpenHandles']),
    runProject(['--runInBand']),
    // --detectOpenHandles implies --runInBand, so the worker run goes without it.
    runProject(['--maxWorkers=2']),
  ]);
}, GUARD_MS + 20000);

afterAll(async () => {
  killAll();
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  if (server) await server.close();
});

describe.each([
  ['--runInBand --detectOpenHandles', 'detect'],
  ['--runInBand', 'inBand'],
  ['--maxWorkers=2', 'workers'],
])('jest %s', (_label, key) => {
  test('exits by itself (no --forceExit) within the guard, with code 0', () => {
    const r = runs[key];
    if (r.timedOut || r.code !== 0 || r.signal)
      throw new Error(`the fixture project's Jest did not pass and exit: ${show(r)}`);
  });

  test('all 3 suites and 9 tests passed', () => {
    const r = runs[key];
    expect(r.output).toMatch(/Test Suites:\s+3 passed, 3 total/);
    expect(r.output).toMatch(/Tests:\s+9 passed, 9 total/);
    for (const file of ['one.test.js', 'two.test.js', 'fake-timers.test.js'])
      expect(r.output).toMatch(new RegExp(`PASS\\s+__tests__/${file.replace('.', '\\.')}`));
  });

  test('reports no open handle and no worker that failed to exit', () => {
    const r = runs[key];
    const bad = BAD_OUTPUT.filter((re) => re.test(r.output));
    if (bad.length) throw new Error(`Jest's output matches ${bad.join(', ')}:\n${r.output}`);
  });

  test('ran the files where expected (in the Jest process / in worker processes)', () => {
    const r = runs[key];
    expect(r.report.map((x) => x.file).sort()).toEqual(['fake-timers.test.js', 'one.test.js', 'two.test.js']);
    if (key !== 'workers') {
      expect(r.report.every((x) => x.pid === r.pid)).toBe(true);
    } else {
      expect(r.report.every((x) => x.pid !== r.pid && x.worker !== null)).toBe(true);
    }
  });
});
