'use strict';
// The echo server's HTTP/3 side end to end on 127.0.0.1 (startEchoServer({ quic: true }): the addon's
// QuicEchoServer, native/quic_server). Our own QUIC client (build/quic_server_test's environment-driven case,
// quic::ClientConnection) fetches over HTTP/3 and gets back that very connection's QUIC and HTTP/3 views; the
// client's own dump of the same connection (CTN_QUIC_CONNECTION_DUMP_DIR), decoded offline by
// decodeQuicConnection, must say the same. A real browser's first flight replayed as raw datagrams still gets
// its first-flight view (the server answers, the replaying socket never does). The CLI's --quic --log, the QPACK
// table option and quicAnswer: false (the silent UDP side) are covered too.
const { execFile, spawn } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { startEchoServer, decodeQuicConnection } = require('../../dist/echo');
const { expectBrowserQuicView } = require('./quic-browsers');
const { loadQuicConnections, browserOf } = require('./quic-helpers');
const { interruptAndWait } = require('./helpers');

const binary = process.env.CTN_QUIC_SERVER_TEST || path.join(__dirname, '../../build/quic_server_test');

/** Our client fetches `paths` over one connection; resolves { bodies: [{status, json}], dump: {datagrams, keys} }. */
async function fetchWithOurClient(port, paths) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-h3-echo-'));
  const out = path.join(dir, 'body');
  await new Promise((resolve, reject) =>
    execFile(
      binary,
      ['--gtest_filter=QuicServer.FetchFromTheEchoNamedByTheEnvironment'],
      {
        env: {
          ...process.env,
          CTN_QUIC_ECHO_PORT: String(port),
          CTN_QUIC_ECHO_PATHS: paths.join(','),
          CTN_QUIC_ECHO_OUT: out,
          CTN_QUIC_CONNECTION_DUMP_DIR: dir,
        },
      },
      (err, stdout) => (err ? reject(new Error(`${err.message}\n${stdout}`)) : resolve()),
    ),
  );
  const bodies = paths.map((_, i) => {
    const text = fs.readFileSync(`${out}.${i}`, 'utf8');
    const nl = text.indexOf('\n');
    return { status: Number(text.slice(0, nl)), json: JSON.parse(text.slice(nl + 1)) };
  });
  const name = fs.readdirSync(dir).find((f) => f.endsWith('.datagrams'));
  const datagrams = fs
    .readFileSync(path.join(dir, name), 'utf8')
    .trim()
    .split('\n')
    .map((l) => ({ from: l.startsWith('>') ? 'client' : 'server', data: Buffer.from(l.slice(2), 'hex') }));
  const keys = fs.readFileSync(path.join(dir, name.replace(/\.datagrams$/, '.keys.log')), 'utf8');
  fs.rmSync(dir, { recursive: true, force: true });
  return { bodies, dump: { datagrams, keys } };
}

const settingsOf = (list) => (list ?? []).map((s) => [s.id, s.value]);

describe('the echo over HTTP/3', () => {
  let echo;
  beforeAll(async () => {
    expect(fs.existsSync(binary)).toBe(true);
    echo = await startEchoServer({ quic: true });
  });
  afterAll(() => echo.close());

  test("our client gets its connection's QUIC and HTTP/3 views, equal to the offline decode of its own dump", async () => {
    const { bodies, dump } = await fetchWithOurClient(echo.port, ['/quic', '/anything?x=1']);
    for (const b of bodies) expect(b.status).toBe(200);
    const [first, second] = bodies.map((b) => b.json);
    expect(first.http_version).toBe('HTTP/3');
    expect(first.path).toBe('/quic');
    expect(second.path).toBe('/anything?x=1');
    expect(second.connection).toBe(first.connection);
    expect(second.request_on_connection).toBe(2);
    expect(first.pseudo_header_order).toEqual([':method', ':scheme', ':authority', ':path']);
    expect(first.headers).toEqual([
      ['user-agent', 'cycletls-native quic_server_test'],
      ['accept', 'application/json'],
    ]);
    expect(first.ja4).toMatch(/^q13d\d{4}h3_[0-9a-f]{12}_[0-9a-f]{12}$/);
    expect(first.quic_errors).toEqual([]);
    expect(first.http3_request.pseudo_header_order).toEqual(first.pseudo_header_order);
    // The server's own SETTINGS as the decoder read them: a QPACK table of 4096 by default.
    expect(settingsOf(first.http3.server_settings)).toEqual(expect.arrayContaining([['0x1', 4096]]));

    // The client's own record of the same connection, decoded offline, says the same.
    const offline = decodeQuicConnection(dump.datagrams, dump.keys);
    expect(offline.errors).toEqual([]);
    expect(second.quic.ja4).toBe(offline.first_flight.ja4);
    expect(second.quic.transport_parameter_order).toEqual(offline.first_flight.transport_parameter_order);
    expect(second.quic.client_hello_hex).toBe(offline.first_flight.client_hello_hex);
    expect(second.http3.settings).toEqual(offline.http3.settings);
    expect(second.http3.control_frames).toEqual(offline.http3.control_frames);
    expect(second.http3.stream_order.slice(0, 5)).toEqual(offline.http3.stream_order.slice(0, 5));
    for (const i of [0, 1]) {
      expect(second.http3.requests[i].headers).toEqual(offline.http3.requests[i].headers);
      expect(second.http3.requests[i].field_lines).toEqual(offline.http3.requests[i].field_lines);
      expect(second.http3.requests[i].pseudo_header_order).toEqual(
        offline.http3.requests[i].pseudo_header_order,
      );
    }
    // And the first-flight table over TCP holds this connection too.
    expect(echo.quicViews().some((v) => v.dcid === second.quic.dcid && v.complete)).toBe(true);
  }, 30_000);

  test('a replayed Chromium first flight (raw datagrams) still gets its first-flight view', async () => {
    const chromium = loadQuicConnections().find((c) => browserOf(c) === 'chromium');
    const socket = dgram.createSocket('udp4');
    await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
    for (const d of chromium.datagrams)
      await new Promise((resolve, reject) =>
        socket.send(d, echo.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
      );
    const first = chromium.datagrams[0];
    const dcid = first.subarray(6, 6 + first[5]).toString('hex'); // RFC 9000 §17.2: the DCID after its length
    let view;
    for (let i = 0; i < 500 && !view; i++) {
      view = echo.quicViews().find((v) => v.complete && v.dcid === dcid);
      if (!view) await new Promise((r) => setTimeout(r, 10));
    }
    socket.close();
    expect(view).toBeDefined();
    expectBrowserQuicView(view, 'chromium');
  }, 30_000);
});

test('quicQpackMaxTableCapacity: 0 announces no QPACK table, like caddy', async () => {
  const echo = await startEchoServer({ quic: true, quicQpackMaxTableCapacity: 0 });
  try {
    const { bodies } = await fetchWithOurClient(echo.port, ['/quic']);
    expect(settingsOf(bodies[0].json.http3.server_settings)).toEqual(expect.arrayContaining([['0x1', 0]]));
  } finally {
    await echo.close();
  }
}, 30_000);

test('the CLI with --quic --log answers over HTTP/3 and prints the answer as a {"http3": …} line', async () => {
  const bin = path.join(__dirname, '..', '..', 'bin', 'cycletls-native-echo.js');
  const child = spawn(process.execPath, [bin, '--port', '0', '--quic', '--log'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const lines = async (pred) => {
      for (let i = 0; i < 1000; i++) {
        const found = out.split('\n').filter(Boolean).find(pred);
        if (found) return found;
        if (child.exitCode !== null) throw new Error(`exited early with ${child.exitCode}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`no such CLI line in:\n${out}`);
    };
    const url = await lines((l) => l.startsWith('https://'));
    const { bodies } = await fetchWithOurClient(Number(new URL(url).port), ['/cli']);
    expect(bodies[0].json.path).toBe('/cli');
    const logged = JSON.parse(await lines((l) => l.startsWith('{"http3"')));
    expect(logged.http3.path).toBe('/cli');
    expect(logged.http3.ja4).toBe(bodies[0].json.ja4);
    expect(await interruptAndWait(child)).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}, 30_000);

test('quicAnswer: false keeps the silent UDP side: first flights are viewed, nothing answers', async () => {
  const echo = await startEchoServer({ quic: true, quicAnswer: false });
  const socket = dgram.createSocket('udp4');
  try {
    let answered = false;
    socket.on('message', () => {
      answered = true;
    });
    await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const chromium = loadQuicConnections().find((c) => browserOf(c) === 'chromium');
    for (const d of chromium.datagrams)
      await new Promise((resolve, reject) =>
        socket.send(d, echo.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
      );
    let view;
    for (let i = 0; i < 500 && !view; i++) {
      view = echo.quicViews().find((v) => v.complete);
      if (!view) await new Promise((r) => setTimeout(r, 10));
    }
    expect(view.ja4).toBe(chromium.summary.ja4);
    // The view completed after the last datagram was read: an answering server would have sent its Initial.
    expect(answered).toBe(false);
  } finally {
    socket.close();
    await echo.close();
  }
}, 30_000);
