'use strict';
// Timeouts, aborts, and one engine shared by several clients on a port.
const initCycleTLS = require('../..');
const { startServer, uniquePort } = require('../helpers/servers');

let server;
let client;
beforeAll(async () => {
  server = await startServer();
  client = await initCycleTLS({ port: uniquePort() });
});
afterAll(async () => {
  await client.exit();
  await server.close();
});

describe('timeouts', () => {
  test.each([
    ['no response head', '/stall', 'headers'],
    ['a body that stops', '/stall-body', 'body'],
  ])('%s: the timeout settles on time with ERR_TIMEOUT', async (_name, path, stage) => {
    const t0 = Date.now();
    const r = await client.get(server.url(path), { timeout: 0.5 });
    const elapsed = Date.now() - t0;
    expect(r.status).toBe(408);
    expect(r.error).toMatchObject({ code: 'ERR_TIMEOUT', stage });
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(5000);
  });

  test('a stalled request does not delay the others', async () => {
    const stalled = client.get(server.url('/stall'), { timeout: 2 });
    const quick = await Promise.all(Array.from({ length: 20 }, () => client.get(server.url('/echo'))));
    expect(quick.every((r) => r.status === 200)).toBe(true);
    expect((await stalled).status).toBe(408);
  });

  test('a request that finishes in time is not cut', async () => {
    const r = await client.get(server.url('/delay?ms=200'), { timeout: 2, responseType: 'text' });
    expect(r.data).toBe('delayed 200');
  });
});

describe('abort', () => {
  test('aborting while waiting for the head settles with ERR_ABORTED', async () => {
    const ac = new AbortController();
    const p = client.get(server.url('/stall'), { signal: ac.signal, rejectOnError: true });
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  test('an already aborted signal never starts the request', async () => {
    const ac = new AbortController();
    ac.abort();
    const before = server.stats.requests;
    const r = await client.get(server.url('/echo'), { signal: ac.signal });
    expect(r.error.code).toBe('ERR_ABORTED');
    expect(server.stats.requests).toBe(before);
  });

  test('aborting a stream mid-body errors the stream', async () => {
    const ac = new AbortController();
    const r = await client.get(server.url('/stall-body'), { signal: ac.signal, responseType: 'stream' });
    const done = new Promise((resolve) => r.data.on('error', resolve));
    r.data.resume();
    ac.abort();
    expect((await done).code).toBe('ERR_ABORTED');
  });
});

describe('shared instance per port', () => {
  test('exit() of one client cancels only its own requests', async () => {
    const port = uniquePort();
    const a = await initCycleTLS({ port });
    const b = await initCycleTLS({ port });
    const pendingA = a.get(server.url('/stall'), { timeout: 30 });
    const pendingB = b.get(server.url('/delay?ms=300'), { responseType: 'text' });
    await new Promise((r) => setTimeout(r, 50));
    await a.exit();
    const ra = await pendingA;
    expect(ra.error.code).toBe('ERR_CLIENT_CLOSED');
    expect((await pendingB).data).toBe('delayed 300');
    expect((await b.get(server.url('/echo'))).status).toBe(200);
    const late = await a.get(server.url('/echo'));
    expect(late.error.code).toBe('ERR_CLIENT_CLOSED');
    await b.exit();
  });

  test('the last exit() closes the engine; a new init on the port starts a fresh one', async () => {
    const port = uniquePort();
    const a = await initCycleTLS({ port });
    await a.get(server.url('/echo'));
    await a.exit();
    await a.exit(); // twice is fine
    expect(a.stats().engine.closed).toBe(true);
    const c = await initCycleTLS({ port });
    expect((await c.get(server.url('/echo'))).status).toBe(200);
    expect(c.stats().engine.requestsStarted).toBe(1);
    await Promise.all([c.exit(), c.exit()]);
  });

  test('exit() with a streamed body nobody reads closes the body without an unhandled error', async () => {
    // As Node's own response bodies: the error goes to an 'error' listener when there is one, and
    // a body nobody listens to simply closes (an unheard 'error' event would crash the process).
    const c = await initCycleTLS({ port: uniquePort() });
    const unread = await c.get(server.url('/stall-body'), { responseType: 'stream' });
    const heard = await c.get(server.url('/stall-body'), { responseType: 'stream' });
    const errors = [];
    heard.data.on('error', (err) => errors.push(err.code));
    await c.exit();
    await new Promise((resolve) => setImmediate(resolve));
    expect(unread.data.destroyed).toBe(true);
    expect(unread.data.readableEnded).toBe(false);
    expect(errors).toEqual(['ERR_CLIENT_CLOSED']);
  });

  test('exit() during a request settles it and resolves', async () => {
    const c = await initCycleTLS({ port: uniquePort() });
    const p = c.get(server.url('/stall'));
    const results = await Promise.all([p, c.exit()]);
    expect(results[0].error.code).toBe('ERR_CLIENT_CLOSED');
    expect(results[1]).toBeUndefined();
  });
});
