'use strict';
// Bounded child processes for the process-level tests: every child gets a deadline after which it is
// killed (SIGKILL) and the result says so; every child still alive is killed by killAll() (afterAll).
const { spawn } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const CA_FILE = path.join(ROOT, 'test', 'fixtures', 'certs', 'ca.pem');
const SCRIPTS = path.join(ROOT, 'test', 'fixtures', 'scripts');

const live = new Set();

/** The environment of a child: ours, minus Jest's worker markers, plus the test CA. */
function childEnv(extra = {}) {
  const env = { ...process.env, SSL_CERT_FILE: CA_FILE, CYCLETLS_NATIVE_PATH: ROOT };
  for (const k of Object.keys(env)) if (k.startsWith('JEST_')) delete env[k];
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

/**
 * Starts a child (as another user when uid/gid are given). Returns { child, done, lines, waitFor(re, ms) }:
 *  done resolves to { code, signal, stdout, stderr, timedOut, elapsedMs, exitedAt };
 *  waitFor resolves with the first stdout line matching re (or rejects after ms).
 */
function start(command, args, { env, cwd = ROOT, timeoutMs = 20000, uid, gid } = {}) {
  const startedAt = Date.now();
  const child = spawn(command, args, {
    cwd,
    env: env || childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    uid,
    gid,
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  let pending = '';
  const lines = [];
  const waiters = [];
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    stdout += d;
    pending += d;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      lines.push({ line, at: Date.now() });
      for (const w of [...waiters]) {
        if (w.re.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          clearTimeout(w.timer);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const done = new Promise((resolve) => {
    child.on('error', (err) => {
      stderr += `\n[spawn error] ${err.message}`;
    });
    child.on('close', (code, signal) => {
      const exitedAt = Date.now();
      clearTimeout(timer);
      live.delete(child);
      for (const w of waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(
          new Error(
            `child exited (code ${code}, signal ${signal}) before printing ${w.re}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
          ),
        );
      }
      resolve({ code, signal, stdout, stderr, timedOut, elapsedMs: exitedAt - startedAt, exitedAt, lines });
    });
  });
  const waitFor = (re, ms = 10000) => {
    const seen = lines.find((l) => re.test(l.line));
    if (seen) return Promise.resolve(seen.line);
    return new Promise((resolve, reject) => {
      const w = { re, resolve, reject };
      w.timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(
          new Error(`no stdout line matching ${re} within ${ms} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`),
        );
      }, ms);
      waiters.push(w);
    });
  };
  return { child, done, lines, waitFor };
}

/** Runs a child to its end (bounded). */
function run(command, args, options) {
  return start(command, args, options).done;
}

/** Runs `node [nodeArgs] <fixture script> ...args`. */
function runScript(script, args = [], { nodeArgs = [], ...options } = {}) {
  return run(process.execPath, [...nodeArgs, path.join(SCRIPTS, script), ...args], options);
}

function killAll() {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

/** A readable account of a finished child, for failure messages. */
function describe(result) {
  return (
    `code=${result.code} signal=${result.signal} timedOut=${result.timedOut} elapsed=${result.elapsedMs}ms\n` +
    `--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`
  );
}

/** expect()-friendly: asserts with the child's output in the message. */
function assertExitedCleanly(result) {
  if (result.code !== 0 || result.signal !== null || result.timedOut) {
    throw new Error(`child did not exit cleanly: ${describe(result)}`);
  }
}

module.exports = {
  ROOT,
  CA_FILE,
  SCRIPTS,
  childEnv,
  start,
  run,
  runScript,
  killAll,
  describe,
  assertExitedCleanly,
};
