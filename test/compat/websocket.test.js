'use strict';
// Mirrors cycletls 2.0.5 tests/websocket.test.ts: 2 of its 2 tests (a plain GET to a WebSocket server answers with
// one of a few statuses; the server runs). Neither used ws(); test/integration/websocket.test.js covers ws() itself.
const { compatSuite } = require('./helpers/suite');
const { startWsEchoServer, FIREFOX_87_JA3: ja3, FIREFOX_87_UA: userAgent } = require('./helpers/stand-ins');

const env = compatSuite({ server: startWsEchoServer }, { client: { port: 9626 } });

test('a plain GET to a WebSocket server', async () => {
  const response = await env.cycleTLS.get(env.server.url().replace('ws://', 'http://'), { ja3, userAgent });
  expect([200, 400, 404, 408, 426]).toContain(response.status);
});

test('the WebSocket server is running', () => {
  expect(env.server.url()).toContain('ws://localhost:');
  expect(env.server.wss).toBeDefined();
  expect(env.server.httpServer).toBeDefined();
  expect(env.server.httpServer.listening).toBe(true);
});
