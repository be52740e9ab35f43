'use strict';
// The echo server end to end, on 127.0.0.1 only: Node's own https (http/1.1) and http2 clients connect to it as
// "fp.test" (a lookup override, so SNI and Host/:authority are what the golden Node captures had) and the answers are
// compared with the golden /node-https and /node-http2 records.
const { spawn } = require('node:child_process');
const http2 = require('node:http2');
const https = require('node:https');
const net = require('node:net');
const path = require('node:path');
const { Duplex } = require('node:stream');
const tls = require('node:tls');

const { startEchoServer, ECHO_CERT_PEM } = require('../../dist/echo');
const { loadGolden, withTimeout, interruptAndWait } = require('./helpers');

const golden = loadGolden();
const goldenOf = (p) => golden.find((r) => r.path === p);
// The captures were made with this Node build; the full JA3 (cipher list order) is only comparable on the same one.
const SAME_NODE_AS_CAPTURES = process.version === 'v20.20.2';

/** Resolves every name to 127.0.0.1 (both callback shapes of dns.lookup). */
function lookup(_hostname, options, callback) {
  const cb = typeof options === 'function' ? options : callback;
  if (options && options.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}

function readAll(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** GET/POST over node:https (http/1.1, no ALPN offered: Node's default). */
function h1Request(port, agent, reqPath, { method = 'GET', headers, body } = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = https.request(
        { host: 'fp.test', port, path: reqPath, method, headers, agent, lookup, ca: ECHO_CERT_PEM },
        (res) => {
          readAll(res).then(
            (b) => resolve({ status: res.statusCode, headers: res.headers, json: JSON.parse(b.toString()) }),
            reject,
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    }),
    10000,
    `https ${reqPath}`,
  );
}

function h2Request(session, headers, body) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = session.request(headers);
      let status;
      req.on('response', (h) => {
        status = h[':status'];
      });
      readAll(req).then((b) => resolve({ status, json: JSON.parse(b.toString()) }), reject);
      req.end(body);
    }),
    10000,
    `http2 ${headers[':path']}`,
  );
}

function h2Connect(port) {
  return http2.connect(`https://fp.test:${port}`, { lookup, ca: ECHO_CERT_PEM });
}

describe('echo server with Node clients', () => {
  let server;
  const records = [];
  const sessions = [];
  const agents = [];

  beforeAll(async () => {
    server = await startEchoServer({ onRecord: (r) => records.push(r) });
  });
  afterAll(async () => {
    for (const s of sessions) s.destroy();
    for (const a of agents) a.destroy();
    await server.close();
  });
  const newAgent = () => {
    const a = new https.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(a);
    return a;
  };

  test('listens on 127.0.0.1 with a free port; url() builds https URLs', () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    expect(server.url('/x')).toBe(`https://127.0.0.1:${server.port}/x`);
    expect(server.url('y', 'localhost')).toBe(`https://localhost:${server.port}/y`);
    expect(server.url(undefined, '::1')).toBe(`https://[::1]:${server.port}/`);
  });

  test('https.get: JA4 equals the golden /node-https capture (no ALPN: "00"), headers in order as sent', async () => {
    const g = goldenOf('/node-https');
    const { status, headers, json } = await h1Request(server.port, newAgent(), '/node-https');
    expect(status).toBe(200);
    expect(headers['content-type']).toBe('application/json; charset=utf-8');
    expect(json.tls.ja4).toBe('t13d591000_a33745022dd6_1f22a2ca17c4');
    expect(json.tls.ja4).toBe(g.tls.ja4);
    expect(json.tls.ja4_r).toBe(g.tls.ja4_r);
    if (SAME_NODE_AS_CAPTURES) {
      expect(json.tls.ja3).toBe(g.tls.ja3);
      expect(json.tls.ja3_hash).toBe(g.tls.ja3_hash);
      expect(json.tls.ja3n_hash).toBe(g.tls.ja3n_hash);
      expect(json.tls.ja4_o).toBe(g.tls.ja4_o);
    }
    expect(json.http_version).toBe('HTTP/1.1');
    expect(json.method).toBe('GET');
    expect(json.path).toBe('/node-https');
    expect(json.sni).toBe('fp.test');
    expect(json.alpn).toEqual([]);
    expect(json.tls.negotiated).toEqual({
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
      alpn: null,
      resumed: false,
    });
    expect(json.headers).toEqual([
      ['Host', `fp.test:${server.port}`],
      ['Connection', 'keep-alive'],
    ]);
    expect(json.http1.headers).toEqual(g.http1.headers.map((h) => h.replace(':8443', `:${server.port}`)));
    expect(json.user_agent).toBeNull();
    expect(json.http2).toBeUndefined();
    expect(json.request_on_connection).toBe(1);
    expect(json.ip).toMatch(/^127\.0\.0\.1:\d+$/);
    // the raw ClientHello comes back too, and re-parses to the same fingerprint
    const { parseClientHello } = require('../../dist/echo/clienthello');
    const { computeJa } = require('../../dist/echo/ja');
    expect(computeJa(parseClientHello(Buffer.from(json.client_hello_hex, 'hex'))).ja4).toBe(json.ja4);
  });

  test('http/1.1: header names keep their case and order; keep-alive requests count up on one connection', async () => {
    const agent = newAgent();
    const sent = [
      ['X-First', 'one'],
      ['user-agent', 'echo-test/1.0'],
      ['X-MiXeD-Case', 'two'],
      ['accept', '*/*'],
      ['Content-Type', 'text/plain'],
    ];
    const first = await h1Request(server.port, agent, '/a?q=1', {
      method: 'POST',
      headers: Object.fromEntries(sent),
      body: 'hello body',
    });
    const second = await h1Request(server.port, agent, '/b', { headers: { 'X-Only': 'yes' } });
    const names = first.json.headers.map(([n]) => n);
    expect(first.json.headers.filter(([n]) => !['Host', 'Connection', 'Content-Length'].includes(n))).toEqual(
      sent,
    );
    expect(names).toEqual(expect.arrayContaining(['Host', 'Connection', 'Content-Length']));
    expect(first.json.method).toBe('POST');
    expect(first.json.path).toBe('/a?q=1');
    expect(first.json.body_length).toBe(10);
    expect(first.json.user_agent).toBe('echo-test/1.0');
    expect(second.json.connection).toBe(first.json.connection);
    expect([first.json.request_on_connection, second.json.request_on_connection]).toEqual([1, 2]);
    expect(second.json.headers[0]).toEqual(['X-Only', 'yes']);
  });

  test('http2.connect: JA4 and the Akamai string equal the golden /node-http2 capture', async () => {
    const g = goldenOf('/node-http2');
    const session = h2Connect(server.port);
    sessions.push(session);
    const { status, json } = await h2Request(session, { ':path': '/node-http2' });
    expect(status).toBe(200);
    expect(json.tls.ja4).toBe('t13d5911h2_a33745022dd6_1f22a2ca17c4');
    expect(json.tls.ja4).toBe(g.tls.ja4);
    expect(json.tls.ja4_r).toBe(g.tls.ja4_r);
    if (SAME_NODE_AS_CAPTURES) {
      expect(json.tls.ja3_hash).toBe(g.tls.ja3_hash);
      expect(json.tls.ja3n_hash).toBe(g.tls.ja3n_hash);
    }
    expect(json.http2.akamai_fingerprint).toBe('|00|0|p,m,a,s');
    expect(json.http2.akamai_fingerprint).toBe(g.http2.akamai_fingerprint);
    expect(json.http2.akamai_fingerprint_hash).toBe(g.http2.akamai_fingerprint_hash);
    expect(json.http2.pseudo_header_order).toEqual([':path', ':method', ':authority', ':scheme']);
    expect(json.headers).toEqual([
      [':path', '/node-http2'],
      [':method', 'GET'],
      [':authority', `fp.test:${server.port}`],
      [':scheme', 'https'],
    ]);
    expect(json.http2.settings).toEqual([]);
    expect(json.http2.window_update).toBeNull();
    expect(json.http2.priority_frames).toEqual([]);
    expect(json.http2.headers_frame).toEqual({
      stream_id: 1,
      flags: ['END_STREAM', 'END_HEADERS'],
      priority: null,
    });
    expect(json.http2.stream_id).toBe(1);
    expect(json.http2.node_raw_headers_agree).toBe(true);
    expect(json.http2.observer_error).toBeNull();
    expect(json.http2.sent_frames.slice(0, 2).map((f) => f.frame_type)).toEqual(['SETTINGS', 'HEADERS']);
    expect(json.http2.sent_frames[1].headers).toEqual(
      g.http2.sent_frames[1].headers.map((h) => h.replace(':8443', `:${server.port}`)),
    );
    expect(json.http_version).toBe('HTTP/2');
    expect(json.alpn).toEqual(['h2']);
    expect(json.tls.negotiated.alpn).toBe('h2');
    expect(json.sni).toBe('fp.test');
  });

  test('http2: later streams keep their own header order (HPACK context shared), fingerprint stays the first flight', async () => {
    const session = h2Connect(server.port);
    sessions.push(session);
    const a = await h2Request(session, {
      ':method': 'GET',
      ':authority': 'fp.test',
      ':scheme': 'https',
      ':path': '/first',
      'user-agent': 'ua-1',
      'x-z': 'z',
      'x-a': 'a',
    });
    const b = await h2Request(
      session,
      {
        ':scheme': 'https',
        ':path': '/second',
        ':authority': 'fp.test',
        ':method': 'POST',
        'x-a': 'a',
        'user-agent': 'ua-1',
        'x-z': 'z',
      },
      Buffer.alloc(1000, 1),
    );
    expect(a.json.headers).toEqual([
      [':method', 'GET'],
      [':authority', 'fp.test'],
      [':scheme', 'https'],
      [':path', '/first'],
      ['user-agent', 'ua-1'],
      ['x-z', 'z'],
      ['x-a', 'a'],
    ]);
    expect(b.json.headers).toEqual([
      [':scheme', 'https'],
      [':path', '/second'],
      [':authority', 'fp.test'],
      [':method', 'POST'],
      ['x-a', 'a'],
      ['user-agent', 'ua-1'],
      ['x-z', 'z'],
    ]);
    expect(a.json.http2.akamai_fingerprint).toBe('|00|0|m,a,s,p');
    expect(b.json.http2.akamai_fingerprint).toBe('|00|0|m,a,s,p');
    expect(b.json.http2.stream_id).toBe(3);
    expect(b.json.http2.request_headers_frame.stream_id).toBe(3);
    expect(b.json.body_length).toBe(1000);
    expect(b.json.method).toBe('POST');
    expect([a.json.request_on_connection, b.json.request_on_connection]).toEqual([1, 2]);
    expect(b.json.connection).toBe(a.json.connection);
    expect(b.json.http2.node_raw_headers_agree).toBe(true);
  });

  test('a ClientHello that arrives in many small TCP segments is re-fed to TLS intact', async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    let sentBytes = 0;
    // Writes the first 600 bytes (the whole ClientHello) a few bytes at a time, with a pause between writes.
    const slow = new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        if (sentBytes >= 600) {
          sentBytes += chunk.length;
          socket.write(chunk, cb);
          return;
        }
        const pieces = [];
        for (let i = 0; i < chunk.length; i += 37) pieces.push(chunk.subarray(i, i + 37));
        sentBytes += chunk.length;
        const next = () => {
          const p = pieces.shift();
          if (!p) return cb();
          socket.write(p);
          setTimeout(next, 2);
        };
        next();
      },
      final(cb) {
        socket.end();
        cb();
      },
      destroy(err, cb) {
        socket.destroy();
        cb(err);
      },
    });
    socket.on('data', (d) => slow.push(d));
    socket.on('end', () => slow.push(null));
    const tlsSocket = tls.connect({
      socket: slow,
      servername: 'fp.test',
      ca: ECHO_CERT_PEM,
      ALPNProtocols: ['http/1.1'],
    });
    const body = await withTimeout(
      new Promise((resolve, reject) => {
        tlsSocket.once('secureConnect', () =>
          tlsSocket.end(`GET /slow HTTP/1.1\r\nHost: fp.test\r\nX-Slow: 1\r\nConnection: close\r\n\r\n`),
        );
        readAll(tlsSocket).then(resolve, reject);
      }),
      10000,
      'slow ClientHello',
    );
    const text = body.toString();
    expect(text.startsWith('HTTP/1.1 200 OK')).toBe(true);
    const json = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    expect(json.path).toBe('/slow');
    expect(json.headers).toEqual([
      ['Host', 'fp.test'],
      ['X-Slow', '1'],
      ['Connection', 'close'],
    ]);
    expect(json.tls.alpn).toEqual(['http/1.1']);
    expect(json.tls.ja4.slice(0, 10)).toBe('t13d5911h1');
    expect(json.tls.client_hello_records).toBe(1);
    socket.destroy();
  });

  test('a connection without a request is reported once it closes', async () => {
    const before = records.length;
    const s = tls.connect({
      host: '127.0.0.1',
      port: server.port,
      servername: 'quiet.test',
      ca: ECHO_CERT_PEM,
      checkServerIdentity: () => undefined,
      ALPNProtocols: ['h2'],
    });
    await withTimeout(
      new Promise((resolve, reject) => {
        s.once('secureConnect', resolve);
        s.once('error', reject);
      }),
      10000,
      'tls.connect',
    );
    s.end();
    const record = await withTimeout(
      (async () => {
        for (;;) {
          const r = records
            .slice(before)
            .find((x) => x.type === 'connection_without_request' && x.tls.sni === 'quiet.test');
          if (r) return r;
          await new Promise((res) => setTimeout(res, 10));
        }
      })(),
      5000,
      'connection record',
    );
    expect(record.ja4.slice(0, 10)).toBe('t13d5911h2');
    expect(record.tls.negotiated.alpn).toBe('h2');
    expect(record.client_hello_hex.length).toBeGreaterThan(100);
  });

  test('onRecord sees every answered request', () => {
    const paths = records.filter((r) => r.path).map((r) => r.path);
    expect(paths).toEqual(
      expect.arrayContaining(['/node-https', '/a?q=1', '/b', '/node-http2', '/first', '/second', '/slow']),
    );
  });

  test('plain HTTP on the TLS port gets a 400 that says to use https', async () => {
    const reply = await withTimeout(
      new Promise((resolve, reject) => {
        const s = net.connect(server.port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
        readAll(s).then(resolve, reject);
      }),
      5000,
      'plain http',
    );
    expect(reply.toString()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*TLS-only/);
  });

  test('garbage that is neither TLS nor HTTP is dropped', async () => {
    const closed = await withTimeout(
      new Promise((resolve) => {
        const s = net.connect(server.port, '127.0.0.1', () =>
          s.write(Buffer.from([0x00, 0x01, 0x02, 0x03, 0x04, 0x05])),
        );
        s.on('error', () => undefined);
        s.on('close', () => resolve(true));
      }),
      5000,
      'garbage',
    );
    expect(closed).toBe(true);
  });
});

describe('lifecycle', () => {
  test('close() ends open connections and frees the port', async () => {
    const server = await startEchoServer();
    const session = h2Connect(server.port);
    session.on('error', () => undefined);
    await h2Request(session, { ':path': '/x' });
    const sessionClosed = new Promise((resolve) => session.once('close', resolve));
    await withTimeout(server.close(), 5000, 'close');
    await withTimeout(sessionClosed, 5000, 'client session close');
    const refused = await new Promise((resolve) => {
      const s = net.connect(server.port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.on('error', (e) => resolve(e.code === 'ECONNREFUSED'));
    });
    expect(refused).toBe(true);
  });

  test('a client that never sends a ClientHello is dropped after handshakeTimeoutMs', async () => {
    const server = await startEchoServer({ handshakeTimeoutMs: 200 });
    try {
      const start = Date.now();
      await withTimeout(
        new Promise((resolve) => {
          const s = net.connect(server.port, '127.0.0.1', () => s.write(Buffer.from([22, 3, 1])));
          s.on('error', () => undefined);
          s.on('close', resolve);
        }),
        5000,
        'idle client',
      );
      expect(Date.now() - start).toBeGreaterThanOrEqual(150);
    } finally {
      await server.close();
    }
  });

  test('an established connection that stays silent is closed after idleTimeoutMs', async () => {
    const server = await startEchoServer({ idleTimeoutMs: 200 });
    try {
      const s = tls.connect({
        host: '127.0.0.1',
        port: server.port,
        servername: 'fp.test',
        ca: ECHO_CERT_PEM,
      });
      s.on('error', () => undefined);
      await withTimeout(
        new Promise((resolve, reject) => {
          s.once('secureConnect', resolve);
          s.once('error', reject);
        }),
        5000,
        'connect',
      );
      const start = Date.now();
      await withTimeout(new Promise((resolve) => s.once('close', resolve)), 5000, 'idle close');
      expect(Date.now() - start).toBeGreaterThanOrEqual(100);
    } finally {
      await server.close();
    }
  });

  test('custom certificate, http/1.1-only ALPN', async () => {
    const fs = require('node:fs');
    const certDir = path.join(__dirname, '..', 'fixtures', 'certs');
    const server = await startEchoServer({
      key: fs.readFileSync(path.join(certDir, 'server-key.pem')),
      cert: fs.readFileSync(path.join(certDir, 'server.pem')),
      alpn: ['http/1.1'],
    });
    try {
      const s = tls.connect({
        host: '127.0.0.1',
        port: server.port,
        servername: 'localhost',
        ca: fs.readFileSync(path.join(certDir, 'ca.pem')),
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      await withTimeout(
        new Promise((resolve, reject) => {
          s.once('secureConnect', resolve);
          s.once('error', reject);
        }),
        5000,
        'custom cert',
      );
      expect(s.authorized).toBe(true);
      expect(s.alpnProtocol).toBe('http/1.1');
      s.destroy();
    } finally {
      await server.close();
    }
  });

  test('bin/cycletls-native-echo.js prints its URL, answers, and exits 0 on SIGINT', async () => {
    const bin = path.join(__dirname, '..', '..', 'bin', 'cycletls-native-echo.js');
    const child = spawn(process.execPath, [bin, '--port', '0', '--host', '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await withTimeout(
        new Promise((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (d) => {
            out += d;
            const line = out.split('\n')[0];
            if (out.includes('\n')) resolve(line.trim());
          });
          child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
        }),
        10000,
        'CLI start',
      );
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
      const port = Number(new URL(url).port);
      const agent = new https.Agent({ keepAlive: false });
      const { json } = await h1Request(port, agent, '/cli');
      agent.destroy();
      expect(json.path).toBe('/cli');
      const code = await interruptAndWait(child);
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  test('the CLI rejects bad arguments with exit code 2', async () => {
    const bin = path.join(__dirname, '..', '..', 'bin', 'cycletls-native-echo.js');
    const child = spawn(process.execPath, [bin, '--port', 'nope'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const code = await withTimeout(
      new Promise((resolve) => child.once('exit', resolve)),
      10000,
      'CLI bad args',
    );
    expect(code).toBe(2);
    expect(err).toMatch(/--port must be an integer/);
  });
});
