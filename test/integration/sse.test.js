'use strict';
// sse() / eventSource() end to end against real local HTTP and HTTPS servers writing event streams.
const initCycleTLS = require('../..');
const { CycleTLSError } = require('../..');
const { startServer, uniquePort } = require('../helpers/servers');
const { peakRss } = require('../helpers/memory');

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let server;
let plain;
let client;
const seen = []; // { path, headers } of every request
const closed = new Map(); // path → number of responses whose connection went away before the end
let reconnects = 0;
const flood = { written: 0 };

/** Writes each piece as its own chunk (a pause between them), then ends unless `hold`. */
async function writePieces(res, pieces, { hold = false } = {}) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  for (const p of pieces) {
    if (res.destroyed) return;
    res.write(p);
    await delay(5);
  }
  if (!hold) res.end();
}

const STREAM = [
  ': a comment first\n',
  'retry: 2500\n',
  'event: greeting\nid: 1\ndata: hello\n\n',
  'data: line one\ndata: line two\ndata:\ndata:  indented\n\n',
  // Split mid-line and mid-field.
  'da',
  'ta: spl',
  'it\r',
  '\n\r\n',
  // Split in the middle of multi-byte UTF-8 characters (é is C3 A9, 😀 is F0 9F 98 80).
  Buffer.from('data: caf\xc3', 'latin1'),
  Buffer.from('\xa9 ', 'latin1'),
  Buffer.from([0xf0, 0x9f]),
  Buffer.from([0x98, 0x80, 0x0a, 0x0a]),
  'id: 2\nevent: bye\ndata: last\r\rdata: never dispatched',
];
const EXPECTED = [
  { event: 'greeting', id: '1', data: 'hello' },
  { event: 'message', id: '1', data: 'line one\nline two\n\n indented' },
  { event: 'message', id: '1', data: 'split' },
  { event: 'message', id: '1', data: 'café 😀' },
  { event: 'bye', id: '2', data: 'last' },
];

function clean(events) {
  return events.map(({ retry, ...e }) => e);
}

async function handler(req, res) {
  const url = new URL(req.url, 'http://x');
  seen.push({ path: url.pathname, headers: req.headers });
  res.on('close', () => {
    if (!res.writableFinished) closed.set(url.pathname, (closed.get(url.pathname) || 0) + 1);
  });
  switch (url.pathname) {
    case '/events':
      return writePieces(res, STREAM);
    case '/endless': {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      for (let i = 0; !res.destroyed; i++) {
        res.write(`id: ${i}\ndata: tick ${i}\n\n`);
        await delay(10);
      }
      return undefined;
    }
    case '/reconnect': {
      // First connection: one event, a short retry, then the end. Later ones: the next event by
      // Last-Event-ID, then the end (so the client reconnects again until it closes).
      const last = req.headers['last-event-id'];
      reconnects++;
      const n = last === undefined ? 1 : Number(last.slice(1)) + 1;
      return writePieces(res, [`retry: 30\nid: e${n}\ndata: event ${n}\n\n`]);
    }
    case '/huge-retry':
      // A retry beyond what setTimeout can wait (2^31-1 ms), then the end of the stream.
      return writePieces(res, ['retry: 99999999999\nid: h\ndata: once\n\n']);
    case '/then-500': {
      if (req.headers['last-event-id'] === undefined)
        return writePieces(res, ['retry: 10\nid: x\ndata: one\n\n']);
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      return res.end('gone');
    }
    case '/500':
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      return res.end('server error body');
    case '/plain':
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return res.end('data: not an event stream\n\n');
    case '/flood': {
      // 32 MiB of events, as fast as the client takes them.
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      const line = `data: ${'x'.repeat(1017)}\n\n`; // 1 KiB per event
      flood.written = 0;
      for (let i = 0; i < 32 * 1024 && !res.destroyed; i++) {
        flood.written += line.length;
        if (!res.write(line)) await new Promise((resolve) => res.once('drain', resolve));
      }
      return res.end();
    }
    case '/endless-line': {
      // One line that never ends (at most 256 MiB, so a client without a limit finishes too).
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('retry: 0\ndata: ');
      const piece = Buffer.alloc(64 * 1024, 'x');
      for (let sent = 0; sent < 256 * 1024 * 1024 && !res.destroyed; sent += piece.length) {
        if (!res.write(piece)) await new Promise((resolve) => res.once('drain', resolve));
      }
      return res.end();
    }
    case '/endless-event': {
      // Data lines without the blank line that would end the event (at most 64 MiB of them).
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('retry: 0\nid: e1\ndata: before\n\n');
      const lines = `data: ${'y'.repeat(1000)}\n`.repeat(64);
      for (let sent = 0; sent < 64 * 1024 * 1024 && !res.destroyed; sent += lines.length) {
        if (!res.write(lines)) await new Promise((resolve) => res.once('drain', resolve));
      }
      return res.end();
    }
    default:
      res.statusCode = 404;
      return res.end();
  }
}

beforeAll(async () => {
  server = await startServer({ handler });
  plain = await startServer({ tls: false, handler });
  client = await initCycleTLS({ port: uniquePort() });
});

afterAll(async () => {
  await client.exit();
  await server.close();
  await plain.close();
});

const connections = (path) => seen.filter((r) => r.path === path).length;

async function until(condition) {
  while (!condition()) await delay(10);
}

async function collect(iterable) {
  const out = [];
  for await (const e of iterable) out.push(e);
  return out;
}

describe.each([
  ['https', () => server],
  ['http', () => plain],
])('%s', (_name, srv) => {
  test('events(): multi-line data, ids, event names, comments, CR/CRLF, split writes mid-line and mid-UTF-8', async () => {
    const r = await client.sse(srv().url('/events'));
    expect(r.status).toBe(200);
    expect(r.headers['Content-Type']).toEqual(['text/event-stream; charset=utf-8']);
    expect(r.data).toBeNull();
    const events = await collect(r.events());
    expect(clean(events)).toEqual(clean(EXPECTED));
    expect(events[0].retry).toBe(2500);
    const req = seen.filter((s) => s.path === '/events').pop();
    expect(req.headers.accept).toBe('text/event-stream');
    expect(req.headers['cache-control']).toBe('no-cache');
    expect(req.headers['last-event-id']).toBeUndefined();
    await r.close();
  });
});

test("onEvent pushes the same events; eventSource is sse; a caller's Accept wins", async () => {
  const r = await client.eventSource(plain.url('/events'), {
    headers: { accept: 'text/event-stream, */*' },
    lastEventId: '0',
  });
  const events = [];
  const ended = new Promise((resolve) => {
    r.onEvent((e) => {
      events.push(e);
      if (e.event === 'bye') resolve();
    });
  });
  await ended;
  expect(clean(events)).toEqual(clean(EXPECTED));
  const req = seen.filter((s) => s.path === '/events').pop();
  expect(req.headers.accept).toBe('text/event-stream, */*');
  expect(req.headers['last-event-id']).toBe('0');
  await r.close();
});

test("retry sets the event's retry field for the block that carried it", async () => {
  const r = await client.sse(plain.url('/reconnect'));
  const events = await collect(r.events());
  expect(events).toEqual([{ event: 'message', id: 'e1', data: 'event 1', retry: 30 }]);
});

test('close() stops the stream, ends the iterator and frees the connection', async () => {
  const before = closed.get('/endless') || 0;
  const r = await client.sse(server.url('/endless'));
  const it = r.events();
  const first = [];
  for (let i = 0; i < 3; i++) first.push((await it.next()).value);
  expect(first.map((e) => e.data)).toEqual(['tick 0', 'tick 1', 'tick 2']);
  await r.close();
  expect(await it.next()).toEqual({ value: undefined, done: true });
  for (let i = 0; i < 100 && (closed.get('/endless') || 0) === before; i++) await delay(10);
  expect(closed.get('/endless')).toBe(before + 1);
  expect(client.stats().engine.requestsInFlight).toBe(0);
  await r.close(); // twice is fine
});

test('leaving a for-await loop early closes the stream', async () => {
  const before = closed.get('/endless') || 0;
  const r = await client.sse(plain.url('/endless'));
  const got = [];
  for await (const e of r.events()) {
    got.push(e.id);
    if (got.length === 2) break;
  }
  expect(got).toEqual(['0', '1']);
  for (let i = 0; i < 100 && (closed.get('/endless') || 0) === before; i++) await delay(10);
  expect(closed.get('/endless')).toBe(before + 1);
});

test('reconnect: after the server ends the stream, again after `retry` with Last-Event-ID', async () => {
  const start = reconnects;
  const r = await client.sse(server.url('/reconnect'), { reconnect: true });
  const got = [];
  for await (const e of r.events()) {
    got.push(e);
    if (got.length === 3) break; // closes
  }
  expect(got.map((e) => [e.id, e.data])).toEqual([
    ['e1', 'event 1'],
    ['e2', 'event 2'],
    ['e3', 'event 3'],
  ]);
  const reqs = seen.filter((s) => s.path === '/reconnect').slice(-3);
  expect(reqs.map((s) => s.headers['last-event-id'])).toEqual([undefined, 'e1', 'e2']);
  expect(reqs.every((s) => s.headers.accept === 'text/event-stream')).toBe(true);
  await delay(100); // closed: no further connection after the loop left
  expect(reconnects - start).toBe(3);
});

test("reconnect: a server's retry beyond what a timer can wait is capped (24 h), not a reconnection storm", async () => {
  const timers = jest.spyOn(globalThis, 'setTimeout');
  try {
    const r = await client.sse(server.url('/huge-retry'), { reconnect: true });
    const it = r.events();
    expect((await it.next()).value).toMatchObject({ data: 'once', retry: 99999999999 });
    // The stream ends; the reconnection is scheduled with the capped delay (before the fix: the raw
    // value, which Node turns into 1 ms, and the server was hit again at once, over and over).
    const scheduled = () => timers.mock.calls.find(([, ms]) => typeof ms === 'number' && ms >= 3_600_000);
    for (let i = 0; i < 500 && !scheduled() && seen.filter((x) => x.path === '/huge-retry').length < 2; i++)
      await delay(10);
    expect(scheduled()[1]).toBe(24 * 3600 * 1000);
    expect(seen.filter((x) => x.path === '/huge-retry')).toHaveLength(1);
    await it.return();
  } finally {
    timers.mockRestore();
  }
});

test('reconnect: a non-200 answer to a reconnection ends the stream with onError', async () => {
  const r = await client.sse(plain.url('/then-500'), { reconnect: { retryMs: 5000, maxRetries: 3 } });
  const errors = [];
  r.onError((e) => errors.push(e));
  const events = await collect(r.events()); // the server's retry (10 ms) wins over retryMs
  expect(events.map((e) => e.data)).toEqual(['one']);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toBeInstanceOf(CycleTLSError);
  expect(errors[0].code).toBe('ERR_PROTOCOL');
  expect(errors[0].message).toMatch(/status 500/);
});

test('reconnect: connection failures are retried up to maxRetries, each reported to onError', async () => {
  const gone = await startServer({ tls: false, handler });
  const r = await client.sse(gone.url('/reconnect'), { reconnect: { retryMs: 10, maxRetries: 2 } });
  const errors = [];
  r.onError((e) => errors.push(e));
  const it = r.events();
  expect((await it.next()).value.data).toBe('event 1');
  await gone.close(); // the stream ends and nothing listens there any more
  expect(await it.next()).toEqual({ value: undefined, done: true });
  const refused = errors.filter((e) => e.code === 'ERR_CONNECT_REFUSED');
  expect(refused).toHaveLength(2);
  expect(errors.every((e) => e instanceof CycleTLSError)).toBe(true);
});

test('a failure before the head resolves cycletls-style (502), is not retried, and goes to onError', async () => {
  const dead = await startServer({ tls: false, handler });
  const url = dead.url('/events');
  await dead.close();
  const r = await client.sse(url, { reconnect: { retryMs: 10, maxRetries: 2 } });
  expect(r.status).toBe(502);
  const errors = [];
  r.onError((e) => errors.push(e));
  expect(await collect(r.events())).toEqual([]);
  expect(errors.map((e) => e.code)).toEqual(['ERR_CONNECT_REFUSED']);
  await expect(client.sse(url, { rejectOnError: true })).rejects.toMatchObject({
    code: 'ERR_CONNECT_REFUSED',
  });
});

test('a 500 resolves with status, headers and body; events() ends at once; onError gets a CycleTLSError', async () => {
  const r = await client.sse(server.url('/500'));
  expect(r.status).toBe(500);
  expect(r.headers['Content-Type']).toEqual(['text/plain']);
  expect(r.data).toBe('server error body');
  expect(await r.text()).toBe('server error body');
  expect(await collect(r.events())).toEqual([]);
  const errors = [];
  r.onError((e) => errors.push(e)); // errors before the first callback are passed to it
  expect(errors).toHaveLength(1);
  expect(errors[0]).toBeInstanceOf(CycleTLSError);
  expect(errors[0].code).toBe('ERR_PROTOCOL');
  expect(errors[0].stage).toBe('headers');
  await r.close();
});

test('a 200 that is not text/event-stream fails the same way; rejectOnError rejects instead', async () => {
  const r = await client.sse(plain.url('/plain'));
  expect(r.status).toBe(200);
  const errors = [];
  r.onError((e) => errors.push(e));
  expect(await collect(r.events())).toEqual([]);
  expect(errors[0].message).toMatch(/text\/plain/);
  await expect(client.sse(server.url('/500'), { rejectOnError: true })).rejects.toMatchObject({
    code: 'ERR_PROTOCOL',
  });
});

test('back-pressure: with nobody consuming, the server is held back; everything arrives once consumed', async () => {
  const r = await client.sse(server.url('/flood'));
  await delay(500);
  expect(flood.written).toBeLessThan(16 * 1024 * 1024);
  let n = 0;
  for await (const e of r.events()) {
    expect(e.data.length).toBe(1017);
    n++;
  }
  expect(n).toBe(32 * 1024);
});

test('options are checked; a plain request with protocol "sse" points to sse()', async () => {
  await expect(client.sse(plain.url('/events'), { reconnect: 'yes' })).rejects.toMatchObject({
    code: 'ERR_INVALID_OPTION',
  });
  await expect(client.sse(plain.url('/events'), { reconnect: { retryMs: -1 } })).rejects.toBeInstanceOf(
    RangeError,
  );
  await expect(client.sse(plain.url('/events'), { lastEventId: 5 })).rejects.toBeInstanceOf(TypeError);
  await expect(client.get(plain.url('/events'), { protocol: 'sse' })).rejects.toMatchObject({
    code: 'ERR_NOT_IMPLEMENTED',
    message: /sse\(\)/,
  });
  // cycletls's own call shape: protocol 'sse' and responseType 'stream' are accepted by sse().
  const r = await client.sse(plain.url('/events'), { protocol: 'sse', responseType: 'stream' });
  expect((await collect(r.events())).length).toBe(EXPECTED.length);
});

test('an aborted signal closes the stream', async () => {
  const ac = new AbortController();
  const r = await client.sse(plain.url('/endless'), { signal: ac.signal, reconnect: true });
  const it = r.events();
  expect((await it.next()).value.data).toBe('tick 0');
  ac.abort();
  // Whatever was already parsed is dropped; the iterator ends.
  let done = false;
  for (let i = 0; i < 10 && !done; i++) done = (await it.next()).done;
  expect(done).toBe(true);
});

describe("maxEventBytes: a hostile server cannot grow the client's memory", () => {
  test('an endless line: ERR_BODY_TOO_LARGE at the default 16 MiB, RSS bounded, the request cancelled, no reconnection', async () => {
    global.gc?.();
    const before = process.memoryUsage.rss();
    const { result: r, peak } = await peakRss(async () => {
      const res = await client.sse(plain.url('/endless-line'), { reconnect: { retryMs: 0 } });
      const errors = [];
      res.onError((e) => errors.push(e));
      const events = await collect(res.events());
      return { events, errors };
    });
    expect(r.events).toEqual([]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toBeInstanceOf(CycleTLSError);
    expect(r.errors[0]).toMatchObject({ code: 'ERR_BODY_TOO_LARGE', stage: 'body' });
    expect(r.errors[0].message).toMatch(/maxEventBytes \(16777216 bytes\)/);
    // The request was cancelled: the server sees its connection go before it finished writing.
    await until(() => closed.get('/endless-line') === 1);
    // 16 MiB of line (held as a string of pieces) and read-ahead; without the limit 256 MiB arrive.
    if (!process.env.CTN_ASAN_JEST) expect(peak - before).toBeLessThan(128 * 1024 * 1024);
    // The server's retry is 0 and the caller asked to reconnect: the stream was still not opened again.
    await delay(200);
    expect(connections('/endless-line')).toBe(1);
  });

  test('an endless event of short data lines: the events before it arrive, then ERR_BODY_TOO_LARGE; no reconnection', async () => {
    const r = await client.sse(server.url('/endless-event'), {
      maxEventBytes: 1024 * 1024,
      reconnect: { retryMs: 0, maxRetries: 5 },
    });
    const errors = [];
    r.onError((e) => errors.push(e));
    expect(await collect(r.events())).toEqual([{ event: 'message', id: 'e1', data: 'before', retry: 0 }]);
    expect(errors.map((e) => e.code)).toEqual(['ERR_BODY_TOO_LARGE']);
    expect(errors[0].message).toMatch(/maxEventBytes \(1048576 bytes\)/);
    await until(() => closed.get('/endless-event') === 1);
    await delay(200);
    expect(connections('/endless-event')).toBe(1);
  });

  test("the client's default applies; a request's maxEventBytes wins; a stream under the limit works", async () => {
    const small = await initCycleTLS({ port: uniquePort(), maxEventBytes: 64 * 1024 });
    try {
      const r = await small.sse(plain.url('/endless-line'));
      const errors = [];
      r.onError((e) => errors.push(e));
      expect(await collect(r.events())).toEqual([]);
      expect(errors[0].message).toMatch(/maxEventBytes \(65536 bytes\)/);
      // The longest line of /events is 53 bytes; its events are all there with a limit of 64.
      const ok = await small.sse(plain.url('/events'), { maxEventBytes: 64 });
      expect(clean(await collect(ok.events()))).toEqual(EXPECTED);
      const flooded = await small.sse(plain.url('/flood'));
      let n = 0;
      for await (const e of flooded.events()) n += e.data.length === 1017 ? 1 : 0;
      expect(n).toBe(32 * 1024);
    } finally {
      await small.exit();
    }
  });

  test('maxEventBytes is checked like maxResponseBytes', async () => {
    for (const v of [0, -1, 1.5])
      await expect(client.sse(plain.url('/events'), { maxEventBytes: v })).rejects.toBeInstanceOf(RangeError);
    await expect(client.sse(plain.url('/events'), { maxEventBytes: '1MB' })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
      message: /maxEventBytes/,
    });
    await expect(initCycleTLS({ port: uniquePort(), maxEventBytes: 0 })).rejects.toBeInstanceOf(RangeError);
  });
});
