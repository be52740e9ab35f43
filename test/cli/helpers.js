// Runs the `cycletls-native` command (bin/cycletls-native.js) as a child process: asynchronously, so the
// real servers of the test, in this process, keep answering while it runs.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');

const BIN = path.join(__dirname, '..', '..', 'bin', 'cycletls-native.js');

/**
 * Resolves { code, stdout (Buffer), stderr (string) }; `input` goes to its stdin; `closeStdout` closes the
 * reading end of its stdout at once (a reader that went away, as `| head` does).
 */
function runCli(args, { cwd, input, env, closeStdout = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    if (closeStdout) child.stdout.destroy();
    else child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin.end(input);
  });
}

module.exports = { runCli, BIN };
