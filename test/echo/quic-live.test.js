'use strict';
// The echo server's QUIC side end to end on 127.0.0.1: the real Chromium and Firefox first flights
// (test/fixtures/fingerprints/quic) are sent as UDP datagrams to a live server started with `quic: true`, and
// their views come back over its TCP side (/quic over HTTP/1.1 and HTTP/2), through onQuicView, quicViews() and
// the CLI's --quic --log. The server answers over UDP now (HTTP/3, test/echo/h3-echo.test.js): the replaying
// sockets never answer back, so these connections never complete, and their first flights are still viewed.
const { spawn } = require('node:child_process');
const dgram = require('node:dgram');
const http2 = require('node:http2');
const https = require('node:https');
const path = require('node:path');

const { startEchoServer, ECHO_CERT_PEM } = require('../../dist/echo');
const { withTimeout, interruptAndWait } = require('./helpers');
const { expectBrowserQuicView } = require('./quic-browsers');
const { loadQuicConnections, browserOf } = require('./quic-helpers');

const connections = loadQuicConnections();
const [chromium, otherChromium] = connections.filter((c) => browserOf(c) === 'chromium');
const [firefox, otherFirefox] = connections.filter((c) => browserOf(c) === 'firefox');
const resumed = connections.find((c) => browserOf(c) === 'firefox-resumed');

/** Sends one connection's first flight from a fresh UDP socket; resolves with that socket's local port. */
async function sendFlight(port, datagrams) {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const local = socket.address().port;
  for (const d of datagrams)
    await new Promise((resolve, reject) =>
      socket.send(d, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
    );
  socket.close();
  return local;
}

/** GET over HTTP/1.1; resolves { status, json }. */
function getJson(port, reqPath) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = https.get(
        { host: '127.0.0.1', port, path: reqPath, ca: ECHO_CERT_PEM, agent: false },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString()) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
    }),
    10000,
    `GET ${reqPath}`,
  );
}

/** Resolves once `count` views have completed (onQuicView), each flight sent after the listener is set. */
function collector() {
  const views = [];
  let waiters = [];
  return {
    onQuicView(view) {
      views.push(view);
      waiters = waiters.filter((w) => !w());
    },
    until(count) {
      return withTimeout(
        new Promise((resolve) => {
          const check = () => (views.length >= count ? (resolve(views), true) : false);
          if (!check()) waiters.push(check);
        }),
        10000,
        `${count} QUIC views`,
      );
    },
    views,
  };
}

describe('echo server with quic: true', () => {
  let server;
  const seen = collector();

  beforeAll(async () => {
    server = await startEchoServer({ quic: true, onQuicView: seen.onQuicView });
  });
  afterAll(() => server.close());

  test('real Chromium and Firefox first flights over UDP become QUIC views, served at /quic', async () => {
    const ports = [];
    for (const c of [chromium, firefox, resumed]) ports.push(await sendFlight(server.port, c.datagrams));
    const views = await seen.until(3);
    expect(views.map((v) => v.ja4)).toEqual([chromium.summary.ja4, firefox.summary.ja4, resumed.summary.ja4]);
    expect(views.map((v) => v.client)).toEqual(ports.map((p) => `127.0.0.1:${p}`));

    const { status, json } = await getJson(server.port, '/quic');
    expect(status).toBe(200);
    // Newest first.
    expect(json.quic_views.map((v) => v.ja4)).toEqual([
      resumed.summary.ja4,
      firefox.summary.ja4,
      chromium.summary.ja4,
    ]);
    const chrome = json.quic_views[2];
    expect(chrome).toMatchObject({
      version: '0x00000001',
      complete: true,
      ja3n_hash: chromium.summary.ja3n_hash,
      datagram_sizes: [1250, 1250],
      padding: 'frames',
      transport_parameter_order: chromium.summary.transport_parameter_order,
      client_hello_hex: chromium.clientHelloHex,
      errors: [],
    });
    // The whole README check, on the view as served over HTTPS.
    expectBrowserQuicView(json.quic_views[2], 'chromium');
    expectBrowserQuicView(json.quic_views[1], 'firefox');
    expectBrowserQuicView(json.quic_views[0], 'firefox-resumed');
    expect(json.quic_views[1]).toMatchObject({
      padding: 'trailing_zeros',
      datagram_sizes: [1252, 1252],
      ping_count: 0,
    });
    expect(server.quicViews().map((v) => v.dcid)).toEqual(json.quic_views.map((v) => v.dcid));
  });

  test('/quic/<dcid> answers one view over HTTP/1.1 and HTTP/2; an unknown DCID is a 404', async () => {
    const dcid = server.quicViews().find((v) => v.ja4 === firefox.summary.ja4).dcid;
    const one = await getJson(server.port, `/quic/${dcid.toUpperCase()}`);
    expect(one.status).toBe(200);
    expect(one.json.dcid).toBe(dcid);
    expect(one.json.transport_parameters.map((p) => p.name)).toContain('min_ack_delay');
    expect((await getJson(server.port, '/quic/00')).status).toBe(404);

    const session = http2.connect(`https://127.0.0.1:${server.port}`, { ca: ECHO_CERT_PEM });
    try {
      const body = await withTimeout(
        new Promise((resolve, reject) => {
          const req = session.request({ ':path': `/quic/${dcid}` });
          const chunks = [];
          req.on('data', (c) => chunks.push(c));
          req.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
          req.on('error', reject);
          req.end();
        }),
        10000,
        'h2 /quic/<dcid>',
      );
      expect(body.ja4).toBe(firefox.summary.ja4);
    } finally {
      session.close();
    }
    // Every other path is still the TCP echo.
    const echo = await getJson(server.port, '/quicker');
    expect(echo.json.path).toBe('/quicker');
  });

  test('hostile datagrams leave the server answering; truncated Initials stay incomplete views with codes', async () => {
    const before = server.quicViews().length;
    const d = otherChromium.datagrams[0];
    await sendFlight(server.port, [
      Buffer.alloc(0),
      Buffer.from([0x40, 1, 2]),
      Buffer.alloc(1500, 0xff),
      d.subarray(0, 40),
    ]);
    const marker = await sendFlight(server.port, [...otherFirefox.datagrams].reverse());
    // A Firefox flight in reverse order completes on its second datagram.
    await seen.until(4);
    const views = server.quicViews();
    expect(views[0].client).toBe(`127.0.0.1:${marker}`);
    const truncated = views.find((v) => !v.complete);
    expect(truncated.errors.map((e) => e.code)).toEqual(['ERR_QUIC_TRUNCATED']);
    expect(truncated.dcid).toBe(otherChromium.decoded.client_initial_dcid);
    expect(views.length).toBe(before + 2);
    expect((await getJson(server.port, '/x')).json.path).toBe('/x');
  });
});

test('quicMaxViews bounds the views kept (the oldest goes)', async () => {
  const seen = collector();
  const server = await startEchoServer({ quic: true, quicMaxViews: 2, onQuicView: seen.onQuicView });
  try {
    for (const c of [chromium, firefox, resumed]) await sendFlight(server.port, c.datagrams);
    await seen.until(3);
    expect(server.quicViews().map((v) => v.ja4)).toEqual([resumed.summary.ja4, firefox.summary.ja4]);
  } finally {
    await server.close();
  }
});

test('without quic: true there is no UDP side and /quic is an ordinary echo path', async () => {
  const server = await startEchoServer();
  try {
    expect(server.quicViews()).toEqual([]);
    const { json } = await getJson(server.port, '/quic');
    expect(json.path).toBe('/quic');
    // Nobody listens on the UDP port: the datagram goes nowhere and nothing is recorded.
    await sendFlight(server.port, chromium.datagrams);
    expect(server.quicViews()).toEqual([]);
  } finally {
    await server.close();
  }
});

test('a UDP port that is taken fails startEchoServer with the bind error when the port was given', async () => {
  const blocker = dgram.createSocket('udp4');
  await new Promise((resolve) => blocker.bind(0, '127.0.0.1', resolve));
  try {
    await expect(startEchoServer({ quic: true, port: blocker.address().port })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  } finally {
    blocker.close();
  }
});

test('the CLI with --quic --log prints each QUIC view as a {"quic": …} line', async () => {
  const bin = path.join(__dirname, '..', '..', 'bin', 'cycletls-native-echo.js');
  const child = spawn(process.execPath, [bin, '--port', '0', '--quic', '--log'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    const lines = (n) =>
      withTimeout(
        new Promise((resolve, reject) => {
          const check = () => {
            const got = out.split('\n').filter(Boolean);
            if (got.length >= n) resolve(got);
          };
          child.stdout.on('data', (d) => {
            out += d;
            check();
          });
          child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
          check();
        }),
        10000,
        `${n} CLI lines`,
      );
    const [url] = await lines(1);
    await sendFlight(Number(new URL(url).port), chromium.datagrams);
    const [, record] = await lines(2);
    expect(JSON.parse(record).quic.ja4).toBe(chromium.summary.ja4);
    const code = await interruptAndWait(child);
    expect(code).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
