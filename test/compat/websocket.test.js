'use strict';
// Mirrors cycletls 2.0.5 tests/websocket.test.ts: 2 of its 2 tests (a plain GET to a WebSocket server answers with
// one of a few statuses; the server runs). Neither used ws(); test/integration/websocket.test.js covers ws() itself.
const initCycleTLS = require('../..');
const { startWsEchoServer, FIREFOX_87_JA3: ja3, FIREFOX_87_UA: userAgent } = require('./helpers/stand-ins');

let server;
let cycleTLS;
beforeAll(async () => {
  cycleTLS = await initCycleTLS({ port: 9626 });
  server = await startWsEchoServer();
});
afterAll(async () => {
  await cycleTLS.exit();
  await server.close();
});

test('a plain GET to a WebSocket server', async () => {
  const response = await cycleTLS.get(server.url().replace('ws://', 'http://'), { ja3, userAgent });
  expect([200, 400, 404, 408, 426]).toContain(response.status);
});

test('the WebSocket server is running', () => {
  expect(server.url()).toContain('ws://localhost:');
  expect(server.wss).toBeDefined();
  expect(server.httpServer).toBeDefined();
  expect(server.httpServer.listening).toBe(true);
});
