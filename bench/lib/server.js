'use strict';
// Starts the target server in a separate process: Debian's nginx when available, else server-node.js.
const fs = require('node:fs');
const net = require('node:net');
const http = require('node:http');
const https = require('node:https');
const http2 = require('node:http2');
const tls = require('node:tls');
const path = require('node:path');
const { spawn, fork, execFileSync, spawnSync } = require('node:child_process');
const { makeBody, FILES } = require('./body');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// cold-h2: how many HTTP/2 listeners that close after one request take the requests in turn (16 in
// flight: each is back at a listener only after 63 others were started)
const COLD_H2_ORIGINS = 64;

// k distinct free ports: all held open at once while picked (one freePort() after another may get
// the same port back once the previous one is closed)
async function freePorts(k) {
  const servers = [];
  try {
    for (let i = 0; i < k; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve()))));
  }
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function prepareDir(workDir) {
  workDir = path.resolve(workDir);
  fs.mkdirSync(workDir, { recursive: true, mode: 0o755 });
  const dir = fs.mkdtempSync(path.join(workDir, 'srv-'));
  fs.chmodSync(dir, 0o755); // nginx workers run as an unprivileged user and must read www/
  fs.mkdirSync(path.join(dir, 'www'), { mode: 0o755 });
  for (const f of FILES) {
    fs.writeFileSync(path.join(dir, 'www', f.path.slice(1)), makeBody(f.bytes), { mode: 0o644 });
  }
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return dir;
}

function getOnce(mod, opts) {
  return new Promise((resolve, reject) => {
    const req = mod.get({ agent: false, timeout: 5000, ...opts }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, body: Buffer.concat(chunks), headers: res.headers }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitForServer(port, isDead) {
  const deadline = Date.now() + 15000;
  for (;;) {
    if (isDead()) throw new Error('server process exited during startup');
    try {
      const r = await getOnce(https, {
        host: '127.0.0.1',
        port,
        path: FILES[0].path,
        rejectUnauthorized: false,
      });
      if (r.status === 200) return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    if (Date.now() > deadline) throw new Error('server did not answer 200 in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

// One GET over HTTP/2 (node:http2, ALPN h2 only).
function getH2(port, p) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    const fail = (e) => {
      session.destroy();
      reject(e);
    };
    session.on('error', fail);
    session.setTimeout(5000, () => fail(new Error('h2 timeout')));
    const req = session.request({ ':path': p });
    let headers = {};
    const chunks = [];
    req.on('response', (h) => {
      headers = h;
    });
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      session.close();
      resolve({
        status: headers[':status'],
        body: Buffer.concat(chunks),
        headers,
        alpn: session.alpnProtocol,
      });
    });
    req.on('error', fail);
    req.end();
  });
}

// Which protocol the server picks by ALPN when offered both h2 and http/1.1.
function alpnChoice(port) {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] },
      () => {
        const p = s.alpnProtocol;
        s.end();
        resolve(p || '(none)');
      },
    );
    s.on('error', reject);
  });
}

// Self-check before any cell: both files byte-exact over HTTP/1.1 on both ports and over HTTP/2 on
// the h2 port, the h1 port never selects h2 by ALPN, the h2 port does, and nothing is compressed.
async function verifyBodies(srv) {
  for (const f of FILES) {
    const want = makeBody(f.bytes);
    for (const port of [srv.port, srv.h2Port]) {
      const r = await getOnce(https, {
        host: '127.0.0.1',
        port,
        path: f.path,
        rejectUnauthorized: false,
        headers: { 'accept-encoding': 'gzip, deflate, br, zstd' },
      });
      if (
        r.status !== 200 ||
        !r.body.equals(want) ||
        r.headers['content-encoding'] ||
        r.headers['x-bench-proto'] !== 'HTTP/1.1'
      ) {
        throw new Error(
          `server self-check failed for ${f.path} on port ${port} (HTTP/1.1): status ${r.status}, ${r.body.length} bytes, encoding ${r.headers['content-encoding']}, proto ${r.headers['x-bench-proto']}`,
        );
      }
    }
    const r = await getH2(srv.h2Port, f.path);
    if (
      r.status !== 200 ||
      !r.body.equals(want) ||
      r.headers['content-encoding'] ||
      r.headers['x-bench-proto'] !== 'HTTP/2.0' ||
      r.alpn !== 'h2'
    ) {
      throw new Error(
        `server self-check failed for ${f.path} over HTTP/2: status ${r.status}, ${r.body.length} bytes, alpn ${r.alpn}, proto ${r.headers['x-bench-proto']}`,
      );
    }
  }
  const h1 = await alpnChoice(srv.port);
  const h2 = await alpnChoice(srv.h2Port);
  if (h1 === 'h2') throw new Error('the HTTP/1.1 port selected h2 by ALPN');
  if (h2 !== 'h2') throw new Error(`the HTTP/2 port selected ${h2} by ALPN`);
  srv.alpn = { h1, h2 };
}

async function startNginx(bin, dir, workers) {
  const [port, h2Port, statusPort, h1ColdPort, ...h2ColdPorts] = await freePorts(4 + COLD_H2_ORIGINS);
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, d));
  // what every HTTPS listener serves: the files, the protocol header, /proto (what was negotiated)
  const serveFiles = `    root ${dir}/www;
    add_header X-Bench-Proto $server_protocol always;
    add_header X-Bench-Resumed $ssl_session_reused always;
    location / { }
    location = /proto { default_type text/plain; return 200 "$ssl_protocol $ssl_cipher $server_protocol alpn=$ssl_alpn_protocol\n"; }`;
  const conf = `# generated by bench/lib/server.js for one benchmark run
daemon off;
master_process on;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type application/octet-stream;
  sendfile on;
  gzip off;
  # keep-alive: also governs HTTP/2 since nginx 1.19.7 (http2_idle_timeout / http2_max_requests /
  # http2_recv_timeout are obsolete there and replaced by these three)
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  client_header_timeout 60s;
  http2_max_concurrent_streams 128;
  ssl_certificate ${dir}/cert.pem;
  ssl_certificate_key ${dir}/key.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  # HTTP/1.1 only (ALPN offers only http/1.1)
  server {
    listen 127.0.0.1:${port} ssl;
${serveFiles}
  }
  # HTTP/2 (ALPN h2, http/1.1)
  server {
    listen 127.0.0.1:${h2Port} ssl http2;
${serveFiles}
  }
  # a new connection per request (cold-h1 / cold-h2 workloads). HTTP/1.1: "Connection: close" on
  # every response (keepalive_timeout 0). HTTP/2: GOAWAY (last stream = the first) as soon as the
  # first request's HEADERS arrive (keepalive_requests 1); streams a client had already sent on that
  # connection are refused and none of the clients retries them, so the requests are spread over
  # ${COLD_H2_ORIGINS} listeners (origins) round-robin: with 16 in flight a client comes back to one only 64 requests later,
  # and the GOAWAY is there before its next request to that origin
  server {
    listen 127.0.0.1:${h1ColdPort} ssl;
    keepalive_timeout 0;
${serveFiles}
  }
  server {
${h2ColdPorts.map((p) => `    listen 127.0.0.1:${p} ssl http2;`).join('\n')}
    keepalive_requests 1;
${serveFiles}
  }
  server {
    listen 127.0.0.1:${statusPort};
    location = /status { stub_status; }
  }
}
`;
  const confPath = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confPath, conf);
  const t = spawnSync(bin, ['-t', '-p', dir + '/', '-e', path.join(dir, 'error.log'), '-c', confPath], {
    encoding: 'utf8',
  });
  if (t.status !== 0) throw new Error(`nginx -t failed: ${(t.stderr || '').trim()}`);
  const child = spawn(bin, ['-p', dir + '/', '-e', path.join(dir, 'error.log'), '-c', confPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let dead = false;
  child.on('exit', () => {
    dead = true;
  });
  try {
    await waitForServer(port, () => dead);
  } catch (e) {
    child.kill('SIGKILL');
    let log = '';
    try {
      log = fs.readFileSync(path.join(dir, 'error.log'), 'utf8');
    } catch {}
    throw new Error(`nginx did not start: ${e.message} ${stderr} ${log}`.trim());
  }
  const version = (spawnSync(bin, ['-v'], { encoding: 'utf8' }).stderr || '')
    .trim()
    .replace(/^nginx version: /, '');
  // stub_status "accepts" counts TCP connections accepted (each HTTPS connection = one TLS handshake),
  // the status requests themselves included: those are taken off (each reading counts its own)
  let statusReads = 0;
  const accepts = async () => {
    statusReads++;
    const r = await getOnce(http, { host: '127.0.0.1', port: statusPort, path: '/status' });
    const m = /\n\s*(\d+)\s+(\d+)\s+(\d+)/.exec(r.body.toString());
    return m ? Number(m[1]) - statusReads : NaN;
  };
  return {
    kind: 'nginx',
    version: `${version} (${workers} worker${workers > 1 ? 's' : ''}, TLS 1.2/1.3, EC P-256 cert; port A: HTTP/1.1 only, port B: HTTP/2 + HTTP/1.1 by ALPN, http2_max_concurrent_streams 128; cold listeners: HTTP/1.1 with keepalive_timeout 0, ${COLD_H2_ORIGINS} HTTP/2 with keepalive_requests 1)`,
    port,
    h2Port,
    h1ColdPort,
    h2ColdPorts,
    pid: child.pid,
    dir,
    async connections() {
      return accepts();
    },
    connectionsDelta: (a, b) => b - a,
    stop() {
      return new Promise((resolve) => {
        if (dead) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGQUIT');
        setTimeout(() => {
          if (!dead) child.kill('SIGKILL');
        }, 5000).unref();
      });
    },
  };
}

async function startNodeServer(dir) {
  const child = fork(path.join(__dirname, '..', 'server-node.js'), [dir, '0'], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let dead = false;
  child.on('exit', () => {
    dead = true;
  });
  const { port, h2Port } = await new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m));
    child.once('exit', (code) => reject(new Error(`node server exited (${code})`)));
  });
  await waitForServer(port, () => dead);
  let seq = 0;
  const stats = () =>
    new Promise((resolve) => {
      const id = ++seq;
      const on = (m) => {
        if (m.type === 'stats' && m.id === id) {
          child.off('message', on);
          resolve(m);
        }
      };
      child.on('message', on);
      child.send({ type: 'stats', id });
    });
  return {
    kind: 'node',
    version: `node ${process.version} (EC P-256 cert; port A: https, HTTP/1.1 only; port B: http2.createSecureServer, h2 + http/1.1 by ALPN)`,
    port,
    h2Port,
    pid: child.pid,
    dir,
    async connections() {
      return (await stats()).handshakes;
    },
    connectionsDelta: (a, b) => b - a,
    stop() {
      return new Promise((resolve) => {
        if (dead) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => {
          if (!dead) child.kill('SIGKILL');
        }, 5000).unref();
      });
    },
  };
}

async function startServer({
  workDir,
  prefer = 'auto',
  nginxWorkers = 1,
  installNginx = false,
  log = () => {},
}) {
  const dir = prepareDir(workDir);
  let srv;
  if (prefer !== 'node') {
    let bin = which('nginx') || (fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null);
    // the only non-loopback action of the bench, so opt-in (--install-nginx): Debian's apt mirror
    if (!bin && installNginx && process.getuid && process.getuid() === 0) {
      log('nginx not found; trying `apt-get install -y nginx` (Debian mirror)');
      spawnSync('apt-get', ['install', '-y', 'nginx'], {
        stdio: 'ignore',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      bin = which('nginx') || (fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null);
    }
    if (bin) {
      // twice: the ports are picked free and then bound by nginx: another process on the machine
      // may take one in between
      for (let attempt = 1; attempt <= 2 && !srv; attempt++) {
        try {
          srv = await startNginx(bin, dir, nginxWorkers);
        } catch (e) {
          if (attempt === 1) {
            log(`nginx failed (${e.message}); trying once more with other ports`);
            for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
              fs.rmSync(path.join(dir, d), { recursive: true, force: true });
          } else if (prefer === 'nginx') throw e;
          else log(`nginx failed (${e.message}); falling back to the Node https server`);
        }
      }
    } else if (prefer === 'nginx') {
      throw new Error('nginx not available');
    } else {
      log(
        'nginx not available (install it with `apt-get install -y nginx`, or pass --install-nginx); using the Node https server',
      );
    }
  }
  if (!srv) srv = await startNodeServer(dir);
  try {
    await verifyBodies(srv);
  } catch (e) {
    await srv.stop();
    throw e;
  }
  return srv;
}

module.exports = { startServer, freePort };
