#!/usr/bin/env node
// cycletls-native (alias ctn): a curl-like client on initCycleTLS. Options, exit codes and output follow
// curl; `--help` lists them. The work is in lib/cli/ (dist/cli/ once built).
'use strict';
const path = require('node:path');

let cli;
try {
  cli = require(path.join(__dirname, '..', 'dist', 'cli', 'main.js'));
} catch (err) {
  process.stderr.write(
    `cycletls-native: dist/cli/main.js is missing; build first (npm run build:ts)\n${err.message}\n`,
  );
  process.exit(2);
}
cli.main(process.argv.slice(2)).then(
  (code) => {
    // exitCode, not exit(): stdout (a pipe) is flushed before the process ends.
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`cycletls-native: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 2;
  },
);
