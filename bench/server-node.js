'use strict';
// Fallback target server (used when nginx is not available): HTTPS, HTTP/1.1 only (no ALPN),
// keep-alive without a per-socket request limit, static 1 KiB / 1 MiB bodies.
// Runs in its own process (forked by run.js); counts TLS handshakes ('secureConnection').
const https = require('node:https');
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

const server = https.createServer({
  key: fs.readFileSync(path.join(dir, 'key.pem')),
  cert: fs.readFileSync(path.join(dir, 'cert.pem')),
  keepAlive: true,
  keepAliveTimeout: 65000,
  maxRequestsPerSocket: 0,
  requestTimeout: 0,
  headersTimeout: 60000,
}, (req, res) => {
  requests++;
  if (req.url === '/proto') {
    const text = `${req.socket.getProtocol()} ${req.socket.getCipher().standardName}\n`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  const body = files.get(req.url);
  if (!body || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { 'content-length': 0 });
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.keepAliveTimeout = 65000;
server.on('connection', () => { connections++; });
server.on('secureConnection', () => { handshakes++; });
server.listen(Number(portArg), '127.0.0.1', () => process.send({ type: 'listening', port: server.address().port }));
process.on('message', (m) => {
  if (m && m.type === 'stats') process.send({ type: 'stats', id: m.id, handshakes, connections, requests });
});
process.on('disconnect', () => process.exit(0));
