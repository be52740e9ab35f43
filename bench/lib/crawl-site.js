'use strict';
// The crawl workload's site, in its own process (forked by crawl.js): N HTML pages of ~3 KiB on
// 127.0.0.1 over TLS (node:http2 with HTTP/1.1 allowed, so each client negotiates what it prefers),
// /p/<i> linking to five others; page 0 sets a cookie. Counts requests and the protocols they came in.
const http2 = require('node:http2');
const fs = require('node:fs');
const path = require('node:path');

const pages = Number(process.argv[2]);
const certs = path.join(__dirname, '..', '..', 'test', 'fixtures', 'certs');
const filler = `<p>${'lorem ipsum dolor sit amet '.repeat(100)}</p>`;
const counts = { requests: 0, protocols: {} };

function page(i) {
  const links = [i + 1, 2 * i + 1, 2 * i + 2, (i * 31 + 7) % pages, 0].filter((j) => j < pages);
  const body = `<!doctype html><html><head><title>page ${i}</title></head><body><h1>page ${i}</h1>${links
    .map((j) => `<a href="/p/${j}">page ${j}</a>`)
    .join(' ')}${filler}</body></html>`;
  return Buffer.from(body);
}
const bodies = Array.from({ length: pages }, (_, i) => page(i));

const server = http2.createSecureServer(
  {
    allowHTTP1: true,
    key: fs.readFileSync(path.join(certs, 'server-key.pem')),
    cert: fs.readFileSync(path.join(certs, 'server.pem')),
  },
  (req, res) => {
    counts.requests++;
    const proto = `HTTP/${req.httpVersion}`;
    counts.protocols[proto] = (counts.protocols[proto] ?? 0) + 1;
    const m = /^\/p\/(\d+)$/.exec(req.url);
    const body = m && bodies[Number(m[1])];
    if (!body) {
      res.writeHead(404, { 'content-length': 0 });
      return res.end();
    }
    const headers = { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length };
    if (m[1] === '0') headers['set-cookie'] = 'crawl=1; Path=/';
    res.writeHead(200, headers);
    res.end(body);
  },
);
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (msg) => {
  if (msg === 'counts') process.send({ counts });
  if (msg === 'stop') server.close(() => process.exit(0));
});
