'use strict';
// A hostile upstream server gets a clean error, never the process's memory: an HPACK reference bomb
// (one 60 KB dynamic table entry, then one-byte references to it: a 78 KiB block that decodes to
// about 1 GB of header fields), bombs in trailers, an endless CONTINUATION run, and endless interim
// (1xx) responses on HTTP/2 and HTTP/1.1. Real TLS servers on 127.0.0.1 writing raw bytes.
const initCycleTLS = require('../..');
const { startRawServer, uniquePort } = require('../helpers/servers');
const { peakRss } = require('../helpers/memory');
const {
  startHostileH2,
  frame,
  literal,
  status,
  STATUS_200,
  NEWEST_ENTRY,
  tableSize,
  headerFrames,
  T,
  F,
} = require('../helpers/hostile-h2');

/** The issue's block: table size 64 KiB (our SETTINGS' maximum), a 60 KB entry, `refs` references. */
function referenceBomb(refs) {
  return Buffer.concat([
    tableSize(65536),
    STATUS_200,
    literal('x-big', Buffer.alloc(60000, 'v'), true),
    Buffer.alloc(refs, NEWEST_ENTRY),
  ]);
}

let server;
let client;
beforeAll(async () => {
  server = await startHostileH2({
    onRequest(conn, stream, headers) {
      const path = headers[':path'];
      if (path === '/bomb') {
        conn.write(headerFrames(stream, referenceBomb(18000), true));
      } else if (path === '/trailer-bomb') {
        conn.write(headerFrames(stream, referenceBomb(0), false)); // the head: one 60 KB field, allowed
        conn.write(frame(T.DATA, 0, stream, Buffer.from('partial')));
        conn.write(headerFrames(stream, Buffer.alloc(18000, NEWEST_ENTRY), true)); // trailers: 1 GB of fields
      } else if (path === '/many-fields') {
        const fields = Array.from({ length: 600 }, (_, i) => literal(`x-f${i}`, '1'));
        conn.write(headerFrames(stream, Buffer.concat([STATUS_200, ...fields]), true));
      } else if (path.startsWith('/interim/')) {
        const n = Number(path.slice(9));
        for (let i = 0; i < n; i++) conn.write(headerFrames(stream, status(100), false));
        conn.write(headerFrames(stream, STATUS_200, false));
        conn.write(frame(T.DATA, F.END_STREAM, stream, Buffer.from('final')));
      } else if (path === '/continuation-flood') {
        // HEADERS without END_HEADERS, then CONTINUATION frames for as long as the socket lives.
        conn.write(frame(T.HEADERS, 0, stream, STATUS_200));
        const flood = Buffer.concat(Array.from({ length: 64 }, () => frame(T.CONTINUATION, 0, stream)));
        const pump = () => {
          if (conn.socket.destroyed) return;
          while (conn.socket.write(flood)) {
            if (conn.socket.writableLength > 1 << 20) break;
          }
          setImmediate(pump);
        };
        pump();
      } else {
        conn.write(headerFrames(stream, STATUS_200, false));
        conn.write(frame(T.DATA, F.END_STREAM, stream, Buffer.from('fine')));
      }
    },
  });
  client = await initCycleTLS({ port: uniquePort(), rejectOnError: true });
});
afterAll(async () => {
  await client.exit();
  await server.close();
});

test('an HPACK reference bomb resets its stream with ERR_PROTOCOL; RSS stays flat; other streams go on', async () => {
  const before = process.memoryUsage.rss();
  const { result, peak } = await peakRss(async () => {
    const errors = [];
    for (let i = 0; i < 3; i++) {
      // A good request beside the bomb, on the same connection.
      const [bomb, fine] = await Promise.all([
        client.get(server.url('/bomb'), { responseType: 'text' }).then(
          () => null,
          (e) => e,
        ),
        client.get(server.url('/fine'), { responseType: 'text' }),
      ]);
      expect(fine.status).toBe(200);
      expect(fine.data).toBe('fine');
      errors.push(bomb);
    }
    return errors;
  });
  for (const err of result) {
    expect(err).toMatchObject({ code: 'ERR_PROTOCOL', stage: 'headers' });
    expect(err.message).toMatch(/header list exceeds 262144 bytes/);
  }
  // The bomb is 1 GB decoded; a generous bound that a flat process keeps by far.
  expect(peak - before).toBeLessThan(64 * 1024 * 1024);
  const after = await client.get(server.url('/fine'), { responseType: 'text' });
  expect(after.connection.reused).toBe(true);
});

test('trailers count against the header budget', async () => {
  const before = process.memoryUsage.rss();
  const { result: err, peak } = await peakRss(() =>
    client.get(server.url('/trailer-bomb'), { responseType: 'text' }).then(
      () => null,
      (e) => e,
    ),
  );
  expect(err).toMatchObject({ code: 'ERR_PROTOCOL', stage: 'body' });
  expect(err.message).toMatch(/262144/);
  expect(peak - before).toBeLessThan(64 * 1024 * 1024);
});

test('more than 512 header fields is ERR_PROTOCOL', async () => {
  await expect(client.get(server.url('/many-fields'))).rejects.toMatchObject({
    code: 'ERR_PROTOCOL',
    message: expect.stringMatching(/more than 512 header fields/),
  });
});

test('HTTP/2: 16 interim responses pass, the 17th is ERR_PROTOCOL', async () => {
  const ok = await client.get(server.url('/interim/16'), { responseType: 'text' });
  expect(ok.status).toBe(200);
  expect(ok.data).toBe('final');
  await expect(client.get(server.url('/interim/17'))).rejects.toMatchObject({
    code: 'ERR_PROTOCOL',
    message: expect.stringMatching(/more than 16 interim \(1xx\) responses/),
  });
});

test('an endless CONTINUATION run is ERR_PROTOCOL, not a hang or memory growth', async () => {
  const before = process.memoryUsage.rss();
  const { result: err, peak } = await peakRss(() =>
    client.get(server.url('/continuation-flood'), { responseType: 'text', timeout: 30 }).then(
      () => null,
      (e) => e,
    ),
  );
  expect(err).toMatchObject({ code: 'ERR_PROTOCOL' });
  expect(err.message).toMatch(/CONTINUATION/);
  expect(peak - before).toBeLessThan(64 * 1024 * 1024);
});

test('HTTP/1.1: 16 interim responses pass, the 17th is ERR_PROTOCOL', async () => {
  const raw = await startRawServer({
    onRequest(socket, head) {
      const n = Number(/GET \/interim\/(\d+)/.exec(head)[1]);
      socket.write(
        'HTTP/1.1 100 Continue\r\n\r\n'.repeat(n) + 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal',
      );
    },
  });
  try {
    const ok = await client.get(raw.url('/interim/16'), { responseType: 'text' });
    expect(ok.data).toBe('final');
    await expect(client.get(raw.url('/interim/17'))).rejects.toMatchObject({
      code: 'ERR_PROTOCOL',
      message: expect.stringMatching(/more than 16 interim \(1xx\) responses/),
    });
  } finally {
    await raw.close();
  }
});
