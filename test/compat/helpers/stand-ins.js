// The other local stand-ins the compat suite needs besides httpbin: a fingerprint echo (tls.peet.ws's role, our own
// `cycletls-native/echo` with the test CA's certificate), servers with expired and self-signed certificates
// (badssl.com's role), a stalling server for read timeouts, an SSE server, a WebSocket echo server, and a port nobody
// listens on. Plus the fingerprint strings and user agents cycletls's suite uses (public facts about browsers).
'use strict';
const http = require('node:http');
const https = require('node:https');
const { WebSocketServer } = require('ws');
const initCycleTLS = require('../../..');
const { startEchoServer } = require('../../../dist/echo');
const { startServer, certPair, closedPort } = require('../../helpers/servers');

/** Firefox 87: cycletls's README JA3 and default in most of its tests (lists the DHE suites 0x33 and 0x39). */
const FIREFOX_87_JA3 =
  '771,4865-4867-4866-49195-49199-52393-52392-49196-49200-49162-49161-49171-49172-51-57-47-53-10,0-23-65281-10-11-35-16-5-51-43-13-45-28-21,29-23-24-25-256-257,0';
const FIREFOX_87_UA = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:87.0) Gecko/20100101 Firefox/87.0';
/** A Chrome-like JA3 with padding (21), used by cycletls's encoding, forceHTTP1, integration and timeout tests. */
const CHROME_PADDING_JA3 =
  '771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,0-23-65281-10-11-35-16-5-13-18-51-45-43-27-21,29-23-24,0';
/** Chrome with ALPS under its old code point (17513), used by cycletls's frameHeader, connectionReuse and SNI tests. */
const CHROME_ALPS_JA3 =
  '771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,0-23-65281-10-11-35-16-5-13-18-51-45-43-27-17513,29-23-24,0';
/** Firefox without the DHE suites (cycletls's frameHeader Firefox test). */
const FIREFOX_JA3 =
  '771,4865-4867-4866-49195-49199-52393-52392-49196-49200-49162-49161-49171-49172-156-157-47-53-10,0-23-65281-10-11-35-16-5-51-43-13-45-28-21,29-23-24-25-256-257,0';

/** The fingerprint echo on 127.0.0.1, reached as https://localhost:PORT (the name the test CA's certificate holds). */
async function startEcho() {
  const { key, cert } = certPair('server');
  const echo = await startEchoServer({ key, cert });
  return { ...echo, close: () => echo.close(), url: (p = '/api/all') => echo.url(p, 'localhost') };
}

/** An HTTPS server whose certificate fails verification: 'expired' or 'self-signed' (fixtures/certs). */
function startBadCertServer(kind) {
  return startServer({ cert: kind, handler: (req, res) => res.end('bad cert server reached') });
}

/**
 * A plain HTTP server for read timeouts. /slow-body: head and a first chunk, then nothing; /delayed-body: the head,
 * then a chunk after `delayMs`, never the end.
 */
async function startStallingServer({ delayMs = 2000 } = {}) {
  const open = new Set();
  const timers = new Set();
  const server = http.createServer((req, res) => {
    open.add(res);
    if (req.url === '/slow-body') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('Start of response...');
    } else if (req.url === '/delayed-body') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.flushHeaders();
      timers.add(setTimeout(() => res.write('Delayed chunk...'), delayMs));
    } else {
      res.writeHead(404);
      res.end('Not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    url: (p) => `http://localhost:${port}${p}`,
    close() {
      for (const t of timers) clearTimeout(t);
      for (const r of open) r.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** /events: three `message` events 20 ms apart, then the end; anything else 404. */
function sseHandler(req, res) {
  if (req.url !== '/events') {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
  });
  let n = 0;
  const next = () => {
    n++;
    res.write(`event: message\nid: ${n}\ndata: Event ${n}\n\n`);
    if (n < 3) setTimeout(next, 20);
    else res.end();
  };
  next();
}

/** An SSE server over plain HTTP (sseHandler). */
async function startSseServer() {
  const server = http.createServer(sseHandler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    url: (p = '/events') => `http://localhost:${port}${p}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A WebSocket echo server over plain HTTP (a plain GET gets the `ws` package's 426). */
async function startWsEchoServer() {
  const httpServer = http.createServer((req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain' });
    res.end('Upgrade Required');
  });
  const wss = new WebSocketServer({ server: httpServer });
  wss.on('connection', (socket) =>
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })),
  );
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address();
  return {
    port,
    httpServer,
    wss,
    url: (p = '/') => `ws://localhost:${port}${p}`,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => httpServer.close(() => resolve()));
      }),
  };
}

/**
 * One HTTPS server (test CA certificate, h1) for the README's live examples: WebSocket echo on any path (it accepts
 * the subprotocol 'echo-protocol'), the SSE stream of startSseServer at /events, and at any other path a text line
 * naming the SNI and the Host header it was reached with.
 */
async function startLiveServer() {
  const server = https.createServer(certPair('server'), (req, res) => {
    if (req.url === '/events') return sseHandler(req, res);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    return res.end(`sni=${req.socket.servername || ''} host=${req.headers.host}`);
  });
  const wss = new WebSocketServer({
    server,
    handleProtocols: (set) => (set.has('echo-protocol') ? 'echo-protocol' : false),
  });
  const upgrades = [];
  wss.on('connection', (socket, req) => {
    upgrades.push({ url: req.url, host: req.headers.host, sni: req.socket.servername });
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    upgrades,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => server.close(() => resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Runs fn with a fresh client of `initCycleTLS(init)` and always exits it (a fresh client per test, as cycletls's tests did). */
async function withCycleTLS(init, fn) {
  const cycleTLS = await initCycleTLS(init);
  try {
    return await fn(cycleTLS);
  } finally {
    await cycleTLS.exit();
  }
}

/** Reads a Node Readable to the end as one Buffer. */
async function drain(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(chunks);
}

module.exports = {
  FIREFOX_87_JA3,
  FIREFOX_87_UA,
  CHROME_PADDING_JA3,
  CHROME_ALPS_JA3,
  FIREFOX_JA3,
  startEcho,
  startBadCertServer,
  startStallingServer,
  startSseServer,
  startWsEchoServer,
  startLiveServer,
  closedPort,
  withCycleTLS,
  drain,
};
