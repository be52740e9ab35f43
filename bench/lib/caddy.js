'use strict';
// The HTTP/3 rows' server: Debian's caddy (quic-go) serving the bench's static files (the nginx
// server's www/ and certificate) on one port of 127.0.0.1, HTTP/3 on UDP and HTTP/1.1 + h2 on TCP,
// started as the tests start it (test/helpers/caddy-h3.js). X-Bench-Proto carries the HTTP version
// caddy saw ({http.request.proto}: HTTP/3.0, HTTP/2.0). It has the shape run.js expects of a
// server; its connection count is not read (caddy has no stub_status): those cells show "—".
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { startCaddyH3 } = require('../../test/helpers/caddy-h3');

async function startCaddy({ dir }) {
  const caddy = await startCaddyH3({
    cert: path.join(dir, 'cert.pem'),
    key: path.join(dir, 'key.pem'),
    serve: [
      `  root * ${path.join(dir, 'www')}`,
      '  header X-Bench-Proto {http.request.proto}',
      '  file_server',
    ],
  });
  let version = 'caddy';
  try {
    version = `caddy ${execFileSync('caddy', ['version'], { encoding: 'utf8' }).trim().split(' ')[0]}`;
  } catch {}
  return {
    kind: 'caddy',
    version: `${version} (h3 on UDP, h1/h2 on TCP, same port; file_server, EC P-256 cert)`,
    pid: caddy.pid,
    caddyPort: caddy.port,
    connections: async () => NaN,
    connectionsDelta: () => NaN,
    stop: () => caddy.close(),
  };
}

module.exports = { startCaddy };
