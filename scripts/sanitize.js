#!/usr/bin/env node
// Builds the rooms (ctn_native), the native tests and the addon with AddressSanitizer + UndefinedBehaviorSanitizer
// in build-sanitize/ (reusing the BoringSSL archives of build/) and runs the native tests with ctest.
// The addon is for scripts/asan-jest.js. `--build-only`: builds and stops (npm test runs the tests itself, once).
'use strict';
const { execFileSync } = require('node:child_process');
const os = require('node:os');
const { root, configureSanitizeBuild } = require('./build-config');

const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

const out = configureSanitizeBuild();
run('cmake', ['--build', out, '--parallel', String(Math.max(1, os.cpus().length))]);
if (process.argv.includes('--build-only')) process.exit(0);
process.env.ASAN_OPTIONS = 'detect_leaks=1:abort_on_error=1';
process.env.UBSAN_OPTIONS = 'print_stacktrace=1:halt_on_error=1';
run('ctest', ['--test-dir', out, '--output-on-failure']);
