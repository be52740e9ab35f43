// Real local servers on 127.0.0.1, port 0: an HTTPS (or HTTP) server with routes that tests need,
// counting its own connections and handshakes, and a raw server for byte-exact framing.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const path = require('node:path');
const tls = require('node:tls');
const crypto = require('node:crypto');

const certDir = path.join(__dirname, '..', 'fixtures', 'certs');
function certPair(name) {
  return {
    key: fs.readFileSync(path.join(certDir, `${name}-key.pem`)),
    cert: fs.readFileSync(path.join(certDir, `${name}.pem`)),
  };
}

/** Deterministic pseudo-random bytes, so a test can check a body without keeping a copy. */
function patternBytes(n, seed = 1) {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A TCP port on 127.0.0.1 with nothing listening (bound, then released): connecting to it is refused. */
async function closedPort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

async function defaultRoutes(req, res, ctx) {
  const url = new URL(req.url, 'http://x');
  const body = await readBody(req);
  const p = url.pathname;
  if (p === '/echo' || p === '/' || p.startsWith('/echo/')) {
    const sock = req.socket;
    res.setHeader('Content-Type', 'application/json');
    res.end(
      JSON.stringify({
        method: req.method,
        url: req.url,
        httpVersion: req.httpVersion,
        rawHeaders: req.rawHeaders,
        body: body.toString('base64'),
        bodyLength: body.length,
        connection: sock.__id,
        tls: sock.encrypted
          ? {
              protocol: sock.getProtocol(),
              cipher: sock.getCipher().name,
              alpn: sock.alpnProtocol,
              servername: sock.servername || null,
            }
          : null,
      }),
    );
    return;
  }
  if (p.startsWith('/status/')) {
    res.statusCode = Number(p.slice(8));
    res.end(res.statusCode === 204 || res.statusCode === 304 ? undefined : `status ${res.statusCode}`);
    return;
  }
  if (p.startsWith('/redirect/')) {
    // /redirect/N?status=302 → N hops, then /echo
    const n = Number(p.slice(10));
    res.statusCode = Number(url.searchParams.get('status') || 302);
    res.setHeader('Location', n > 1 ? `/redirect/${n - 1}${url.search}` : '/echo');
    res.end('redirecting');
    return;
  }
  if (p === '/redirect-to') {
    res.statusCode = Number(url.searchParams.get('status') || 302);
    res.setHeader('Location', url.searchParams.get('url'));
    res.end();
    return;
  }
  if (p === '/bytes') {
    const n = Number(url.searchParams.get('n') || 1024);
    const seed = Number(url.searchParams.get('seed') || 1);
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', n);
    res.end(patternBytes(n, seed));
    return;
  }
  if (p === '/text') {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('héllo wörld');
    return;
  }
  if (p === '/html') {
    res.setHeader('Content-Type', 'text/html');
    res.end('<html>not json</html>');
    return;
  }
  if (p === '/cookie-redirect') {
    // /cookie-redirect?set=a%3D1%3B%20Path%3D%2F&to=/echo → 302 to `to` with each `set` as a Set-Cookie
    res.statusCode = Number(url.searchParams.get('status') || 302);
    res.setHeader('Set-Cookie', url.searchParams.getAll('set'));
    res.setHeader('Location', url.searchParams.get('to') || '/echo');
    res.end();
    return;
  }
  if (p === '/set-cookie') {
    res.setHeader('Set-Cookie', ['c1=v1; Path=/', 'c2=v2; Path=/']);
    res.end('ok');
    return;
  }
  if (p === '/stall') {
    ctx.stalled.push(res);
    return;
  }
  if (p === '/stall-body') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '100' });
    res.write('partial');
    ctx.stalled.push(res);
    return;
  }
  if (p === '/delay') {
    const ms = Number(url.searchParams.get('ms') || 100);
    setTimeout(() => res.end(`delayed ${ms}`), ms);
    return;
  }
  res.statusCode = 404;
  res.end('not found');
}

/**
 * Starts an HTTPS (tls: true) or HTTP server on 127.0.0.1:0. `cert` names a pair in fixtures/certs.
 * stats: connections (TCP), handshakes (TLS), requests.
 */
async function startServer({ tls: useTls = true, cert = 'server', handler, keepAliveTimeout } = {}) {
  const ctx = { stalled: [], sockets: new Set() };
  const stats = { connections: 0, handshakes: 0, requests: 0 };
  const onRequest = (req, res) => {
    stats.requests++;
    Promise.resolve(handler ? handler(req, res, ctx) : defaultRoutes(req, res, ctx)).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  };
  const server = useTls ? https.createServer({ ...certPair(cert) }, onRequest) : http.createServer(onRequest);
  if (keepAliveTimeout !== undefined) server.keepAliveTimeout = keepAliveTimeout;
  let nextId = 1;
  server.on('connection', (sock) => {
    stats.connections++;
    sock.__id = nextId++;
    ctx.sockets.add(sock);
    sock.on('close', () => ctx.sockets.delete(sock));
  });
  server.on('secureConnection', (sock) => {
    stats.handshakes++;
    // The TLSSocket wraps the TCP socket: carry its id over.
    sock.__id = sock._parent?.__id ?? nextId++;
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const scheme = useTls ? 'https' : 'http';
  return {
    port,
    stats,
    server,
    origin: `${scheme}://localhost:${port}`,
    url: (p = '/echo') => `${scheme}://localhost:${port}${p}`,
    /** Closes every idle keep-alive connection (as servers do after their timeout). */
    dropConnections() {
      for (const s of ctx.sockets) s.destroy();
    },
    close() {
      for (const res of ctx.stalled) res.destroy();
      for (const s of ctx.sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A raw server: `onConnection(socket, requestHead)` gets each request head (as a string) and writes
 * whatever bytes it wants. Used for exact framing: chunked + trailers, close-delimited, 1xx.
 */
async function startRawServer({ tls: useTls = true, onRequest }) {
  const stats = { connections: 0, requests: 0 };
  const sockets = new Set();
  const onSocket = (socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const m = /content-length:\s*(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < end + 4 + len) return;
        const body = buf.subarray(end + 4, end + 4 + len);
        buf = buf.subarray(end + 4 + len);
        stats.requests++;
        onRequest(socket, head, body, stats);
      }
    });
  };
  const server = useTls
    ? tls.createServer({ ...certPair('server'), ALPNProtocols: ['http/1.1'] }, onSocket)
    : net.createServer(onSocket);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const scheme = useTls ? 'https' : 'http';
  return {
    port,
    stats,
    url: (p = '/') => `${scheme}://localhost:${port}${p}`,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A unique port number per test file, so shared instances of different files never meet. */
// A port for initCycleTLS: the engine binds 127.0.0.1 on it to share itself with other processes,
// so it is taken below the kernel's ephemeral range (32768+), where outgoing connections live, and
// every Jest worker has its own block: two test files never meet on one port by chance (they would
// share one engine, and its stats).
/**
 * A plain-HTTP server that answers every request with `total` bytes of `fill`, written as fast as the socket
 * takes them: back-pressure tests read `written()` to see how far ahead of a reader that does not read it got.
 */
async function startFirehose(total, fill) {
  let written = 0;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Length': String(total) });
    const chunk = Buffer.alloc(256 * 1024, fill);
    const pump = () => {
      while (written < total) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    written: () => written,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const PORT_BLOCK = 1500;
let portCounter = 0;
function uniquePort() {
  const worker = Number(process.env.JEST_WORKER_ID || 1) - 1;
  const base = 10000 + (worker % 14) * PORT_BLOCK;
  return base + (portCounter++ % PORT_BLOCK);
}

module.exports = {
  startServer,
  startRawServer,
  startFirehose,
  patternBytes,
  certPair,
  uniquePort,
  closedPort,
  readBody,
  sha256: (b) => crypto.createHash('sha256').update(b).digest('hex'),
};
