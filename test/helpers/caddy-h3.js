// Debian's caddy serving HTTP/3 (and h1/h2 on TCP, with the Alt-Svc header that advertises h3) for
// https://localhost:<port> on 127.0.0.1, with the test CA's server certificate: a reverse proxy in
// front of a backend of ours (servers.js startServer, plain HTTP), so the HTTP/3 tests use the same
// routes as the rest. The port is free for both TCP and UDP. scripts/install-deps.sh installs caddy.
'use strict';
const { spawn } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const certDir = path.join(__dirname, '..', 'fixtures', 'certs');

/** A port free on 127.0.0.1 for UDP and TCP both (caddy listens on both). */
async function freeTcpUdpPort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const port = udp.address().port;
    const tcpFree = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    udp.close();
    if (tcpFree) return port;
  }
  throw new Error('no port free for both TCP and UDP');
}

/** Whether something listens on UDP 127.0.0.1:port (/proc/net/udp holds the address in hex). */
function udpListening(port) {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return fs.readFileSync('/proc/net/udp', 'utf8').includes(want);
}

/**
 * Starts caddy for https://localhost:<port> proxying to http://127.0.0.1:<backendPort> (bodies
 * streamed through), `extra` lines added to the site. { port, pid, url, log(), close() }.
 * `serve`: lines that answer instead of the proxy (the bench: a file_server); `cert`/`key`: another
 * certificate (PEM files) than the test CA's.
 */
async function startCaddyH3({
  backendPort,
  extra = '',
  serve,
  cert = path.join(certDir, 'server.pem'),
  key = path.join(certDir, 'server-key.pem'),
}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-caddy-h3-'));
  const port = await freeTcpUdpPort();
  const httpPort = await freeTcpUdpPort();
  const conf = path.join(dir, 'Caddyfile');
  fs.writeFileSync(
    conf,
    [
      '{',
      '  admin off',
      '  auto_https off',
      `  http_port ${httpPort}`,
      '  servers {',
      '    protocols h1 h2 h3',
      '  }',
      // A client that connects to 127.0.0.1 sends no SNI: it gets this site's certificate.
      '  default_sni localhost',
      '}',
      `https://localhost:${port}, https://127.0.0.1:${port} {`,
      '  bind 127.0.0.1',
      `  tls ${cert} ${key}`,
      extra,
      ...(serve ?? [`  reverse_proxy 127.0.0.1:${backendPort} {`, '    flush_interval -1', '  }']),
      '}',
      '',
    ].join('\n'),
  );
  const logFile = path.join(dir, 'caddy.log');
  const out = fs.openSync(logFile, 'w');
  const child = spawn('caddy', ['run', '--config', conf, '--adapter', 'caddyfile'], {
    stdio: ['ignore', out, out],
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
  });
  fs.closeSync(out);
  const log = () => fs.readFileSync(logFile, 'utf8');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (let waited = 0; !udpListening(port); waited += 50) {
    if (child.exitCode !== null || waited > 15000) {
      child.kill('SIGKILL');
      throw new Error(`caddy did not start:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    pid: child.pid,
    url: `https://localhost:${port}`,
    log,
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startCaddyH3, freeTcpUdpPort, udpListening };
