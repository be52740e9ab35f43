const path = require('node:path');

// BoringSSL reads SSL_CERT_FILE from the real process environment; Jest's setupFiles only see a
// sandbox copy. Set here, it reaches every worker: all tests trust the test CA.
process.env.SSL_CERT_FILE = path.join(__dirname, 'test', 'fixtures', 'certs', 'ca.pem');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.js'],
  testPathIgnorePatterns: ['/node_modules/', '/test/fixtures/'],
  testTimeout: 60000,
  maxWorkers: 2,
};
