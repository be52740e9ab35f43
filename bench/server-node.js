'use strict';
// Fallback target server (used when nginx is not available), in its own process (forked by run.js):
//   port A: node:https, HTTP/1.1 only (ALPN offers only http/1.1);
//   port B: node:http2 createSecureServer, h2 + http/1.1 by ALPN (allowHTTP1).
// Keep-alive without a per-socket request limit, static 1 KiB / 1 MiB bodies, never compressed.
// Counts TLS handshakes ('secureConnection') over both ports.
const https = require('node:https');
const http2 = require('node:http2');
const fs = require('node:fs');
const path = require('node:path');

const [dir, portArg] = process.argv.slice(2);
const files = new Map();
for (const name of fs.readdirSync(path.join(dir, 'www'))) {
  files.set('/' + name, fs.readFileSync(path.join(dir, 'www', name)));
}
let handshakes = 0;
let connections = 0;
let requests = 0;

function handler(req, res) {
  requests++;
  const proto = `HTTP/${req.httpVersion}`;
  if (req.url === '/proto') {
    const s = req.socket;
    const text = `${s.getProtocol()} ${s.getCipher().standardName} ${proto} alpn=${s.alpnProtocol || ''}\n`;
    res.writeHead(200, {
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(text),
      'x-bench-proto': proto,
    });
    res.end(text);
    return;
  }
  const body = files.get(req.url);
  if (!body || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { 'content-length': 0, 'x-bench-proto': proto });
    res.end();
    return;
  }
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': body.length,
    'x-bench-proto': proto,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

const tlsOpts = {
  key: fs.readFileSync(path.join(dir, 'key.pem')),
  cert: fs.readFileSync(path.join(dir, 'cert.pem')),
};
const h1 = https.createServer(
  {
    ...tlsOpts,
    ALPNProtocols: ['http/1.1'],
    keepAlive: true,
    keepAliveTimeout: 65000,
    maxRequestsPerSocket: 0,
    requestTimeout: 0,
    headersTimeout: 60000,
  },
  handler,
);
h1.keepAliveTimeout = 65000;
const h2 = http2.createSecureServer(
  {
    ...tlsOpts,
    allowHTTP1: true,
    settings: { maxConcurrentStreams: 128 },
  },
  handler,
);
for (const s of [h1, h2]) {
  s.on('connection', () => {
    connections++;
  });
  s.on('secureConnection', () => {
    handshakes++;
  });
}
h1.listen(Number(portArg), '127.0.0.1', () => {
  h2.listen(0, '127.0.0.1', () =>
    process.send({ type: 'listening', port: h1.address().port, h2Port: h2.address().port }),
  );
});
process.on('message', (m) => {
  if (m && m.type === 'stats') process.send({ type: 'stats', id: m.id, handshakes, connections, requests });
});
process.on('disconnect', () => process.exit(0));
