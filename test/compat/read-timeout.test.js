'use strict';
// Mirrors cycletls 2.0.5 tests/read-timeout.test.ts: 3 of its 3 tests (a body that stalls after its first chunk, a
// body whose first chunk comes after the timeout, and no engine restart after such a timeout), against a local
// stalling server. Timeouts are 1 s (cycletls's first test used 3 s; the behaviour is the same).
const { compatSuite } = require('./helpers/suite');
const { startStallingServer, withCycleTLS } = require('./helpers/stand-ins');

const env = compatSuite({ server: () => startStallingServer({ delayMs: 2000 }) });

const withClient = (init, fn) => withCycleTLS({ port: 9617, ...init }, fn);

test('a body that stalls: 408, deadline exceeded', () =>
  withClient({}, async (cycleTLS) => {
    const response = await cycleTLS(env.server.url('/slow-body'), { body: '', timeout: 1 }, 'get');
    expect(response.status).toBe(408);
    expect(await response.text()).toContain('deadline exceeded');
  }));

test('a body that starts after the timeout: 408, deadline exceeded', () =>
  withClient({}, async (cycleTLS) => {
    const response = await cycleTLS(env.server.url('/delayed-body'), { body: '', timeout: 1 }, 'get');
    expect(response.status).toBe(408);
    expect(await response.text()).toContain('deadline exceeded');
  }));

test('a read timeout does not restart anything', () =>
  withClient({ debug: true }, async (cycleTLS) => {
    const logs = [];
    const log = jest.spyOn(console, 'log').mockImplementation((...a) => logs.push(a.join(' ')));
    const error = jest.spyOn(console, 'error').mockImplementation((...a) => logs.push(a.join(' ')));
    try {
      const response = await cycleTLS(env.server.url('/slow-body'), { body: '', timeout: 1 }, 'get');
      expect(response.status).toBe(408);
      expect(
        logs.some(
          (l) => l.includes('Fatal error detected') || l.includes('restarting') || l.includes('cleanExit'),
        ),
      ).toBe(false);
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  }));
