#!/usr/bin/env node
// `npm run format` lays out the sources; `npm run format:check` (a stage of `npm test`) fails when a
// file differs from that layout. C++: clang-format (Debian's) with .clang-format. TypeScript and
// JavaScript: prettier (a devDependency) with .prettierrc.json and .prettierignore. Then the width:
// no line of the product's own code (native/, lib/, types/) is longer than the configured 110
// characters, comments and strings included, which neither tool breaks by itself.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const check = process.argv.includes('--check');
const WIDTH = 110;
const fail = (msg) => {
  process.stderr.write(`format: ${msg}\n`);
  process.exitCode = 1;
};

function tracked(...patterns) {
  const r = spawnSync('git', ['ls-files', '-z', '--', ...patterns], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  return r.stdout
    .split('\0')
    .filter((f) => f && !f.startsWith('test/fixtures/') && fs.existsSync(path.join(root, f)));
}

const cxx = tracked('*.cc', '*.h');
const clang = spawnSync('clang-format', [...(check ? ['--dry-run', '-Werror'] : ['-i']), ...cxx], {
  cwd: root,
  encoding: 'utf8',
});
if (clang.error)
  fail(`clang-format is not installed (scripts/install-deps.sh installs it): ${clang.error.message}`);
else if (clang.status !== 0) {
  process.stderr.write(clang.stderr.split('\n').slice(0, 40).join('\n') + '\n');
  fail(`C++ files differ from .clang-format's layout: run \`npm run format\``);
}

const prettier = path.join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs');
const pr = spawnSync(
  process.execPath,
  [prettier, check ? '--check' : '--write', '--log-level', 'warn', '.'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (pr.status !== 0)
  fail(`TypeScript/JavaScript files differ from prettier's layout: run \`npm run format\``);

let long = 0;
for (const file of tracked('native/*', 'lib/*', 'types/*')) {
  if (!/\.(cc|h|ts)$/.test(file)) continue;
  fs.readFileSync(path.join(root, file), 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.length > WIDTH) {
        long++;
        if (long <= 20) process.stderr.write(`${file}:${i + 1}: ${line.length} characters\n`);
      }
    });
}
if (long) fail(`${long} line(s) of native/, lib/ or types/ are longer than ${WIDTH} characters`);
if (!process.exitCode)
  process.stdout.write(
    `format: ${check ? 'checked' : 'formatted'} ${cxx.length} C++ files and the TS/JS tree\n`,
  );
