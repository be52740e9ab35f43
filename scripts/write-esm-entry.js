#!/usr/bin/env node
// The ESM entry re-exports the CommonJS build, so `import initCycleTLS from 'cycletls-native'`,
// `require('cycletls-native')` and `.default` all reach the same function (as with cycletls).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const out = path.resolve(__dirname, '..', 'dist', 'index.mjs');
fs.writeFileSync(
  out,
  [
    "import cjs from './index.js';",
    'export default cjs;',
    'export const initCycleTLS = cjs.initCycleTLS;',
    'export const CycleTLSError = cjs.CycleTLSError;',
    'export const errorCodes = cjs.errorCodes;',
    'export const nativeBinding = cjs.nativeBinding;',
    'export const CycleTLS = cjs.CycleTLS;',
    'export const fetch = cjs.fetch;',
    'export const createFetch = cjs.createFetch;',
    '',
  ].join('\n'),
);

// `cycletls-native/crawlee`: the same for the Crawlee HTTP client (lib/crawlee.ts).
fs.writeFileSync(
  path.resolve(__dirname, '..', 'dist', 'crawlee.mjs'),
  [
    "import cjs from './crawlee.js';",
    'export default cjs.CycleTLSHttpClient;',
    ...[
      'CycleTLSHttpClient',
      'RequestError',
      'TimeoutError',
      'HTTPError',
      'MaxRedirectsError',
      'ParseError',
    ].map((name) => `export const ${name} = cjs.${name};`),
    '',
  ].join('\n'),
);
