'use strict';
// Unit tests of the WebSocket session (lib/ws-protocol/session.ts) over an in-memory transport that records
// what the client writes and lets the test play the server's frames.
const zlib = require('node:zlib');
const { WebSocketSession } = require('../../dist/ws-protocol/session');
const { closePayload } = require('../../dist/ws-protocol/frame');
const { CycleTLSError } = require('../../dist/errors');
const { serverFrame, decodeClientFrame } = require('../helpers/ws-frames');

const TAIL = Buffer.from([0, 0, 0xff, 0xff]);
const DEFLATE = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

class FakeTransport {
  constructor() {
    this.writes = [];
    this.ended = 0;
    this.pauses = [];
    this.buffered = 0;
  }

  write(chunk) {
    this.writes.push(chunk);
  }

  writableLength() {
    return this.buffered;
  }

  end() {
    this.ended++;
  }

  pause(p) {
    this.pauses.push(p);
  }

  /** What the client sent, one frame per write, unmasked. */
  frames() {
    return this.writes.map(decodeClientFrame);
  }

  last() {
    return decodeClientFrame(this.writes[this.writes.length - 1]);
  }
}

function open(options) {
  const t = new FakeTransport();
  const s = new WebSocketSession(t, options);
  return { t, s, feed: (...frames) => s.receive(Buffer.concat(frames)) };
}

/** Records every callback of a session, in order. */
function record(s) {
  const log = [];
  s.onMessage((m) =>
    log.push(['message', m.type, Buffer.isBuffer(m.data) ? m.data.toString('hex') : m.data]),
  );
  s.onClose((code, reason) => log.push(['close', code, reason]));
  s.onError((err) => log.push(['error', err.code, err.message]));
  s.onPing((d) => log.push(['ping', d.toString()]));
  s.onPong((d) => log.push(['pong', d.toString()]));
  return log;
}

const text = (s, opts) => serverFrame(1, Buffer.from(s), opts);
const close = (code, reason = '') => serverFrame(8, closePayload(code, reason));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Inflation runs on libuv's thread pool: wait for what it leads to, not a fixed while (a busy CI machine). */
async function until(done, ms = 5000) {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await sleep(5);
}
const closeFrame = (f) => ({
  opcode: f.opcode,
  code: f.payload.length ? f.payload.readUInt16BE(0) : undefined,
  reason: f.payload.subarray(2).toString(),
});

const unhandled = [];
const onUnhandled = (reason) => unhandled.push(reason);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(async () => {
  await sleep(20);
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

describe('sending', () => {
  test('strings as text, bytes as binary, isBinary overrides; frames masked', async () => {
    const { t, s } = open();
    const view = new Uint8Array(new Uint8Array(Buffer.from('..view..')).buffer, 2, 4);
    await s.send('héllo');
    await s.send(Buffer.from([1, 2, 3]));
    await s.send('as bytes', true);
    await s.send(Buffer.from('as text'), false);
    await s.send(new Uint8Array([9, 8]).buffer);
    await s.send(view);
    expect(t.frames().map((f) => [f.opcode, f.fin, f.rsv1, f.payload.toString('hex')])).toEqual([
      [1, true, false, Buffer.from('héllo').toString('hex')],
      [2, true, false, '010203'],
      [2, true, false, Buffer.from('as bytes').toString('hex')],
      [1, true, false, Buffer.from('as text').toString('hex')],
      [2, true, false, '0908'],
      [2, true, false, Buffer.from('view').toString('hex')],
    ]);
  });

  test('bad input rejects with ERR_INVALID_OPTION and sends nothing', async () => {
    const { t, s } = open();
    await expect(s.send(Buffer.from([0xc3, 0x28]), false)).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    await expect(s.send(42)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(s.ping(Buffer.alloc(126))).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    expect(t.writes).toHaveLength(0);
  });

  test('fragmentSize splits a message into continuation frames', async () => {
    const { t, s } = open({ fragmentSize: 4 });
    await s.send('0123456789');
    await s.send('abc');
    expect(t.frames().map((f) => [f.opcode, f.fin, f.payload.toString()])).toEqual([
      [1, false, '0123'],
      [0, false, '4567'],
      [0, true, '89'],
      [1, true, 'abc'],
    ]);
  });

  test('send() resolves when the transport is below the high-water mark, else after drained()', async () => {
    const { t, s } = open({ highWaterMark: 100 });
    t.buffered = 150;
    let done = false;
    const p = s.send('x').then(() => {
      done = true;
    });
    await sleep(5);
    expect(done).toBe(false);
    expect(t.writes).toHaveLength(1); // handed over at once, only the promise waits
    expect(s.bufferedAmount).toBe(150);
    s.drained(); // still above
    await sleep(5);
    expect(done).toBe(false);
    t.buffered = 50;
    s.drained();
    await p;
    expect(done).toBe(true);
  });

  test('ping() writes a Ping; pongs come to onPong', async () => {
    const { t, s, feed } = open();
    const log = record(s);
    await s.ping('are you there');
    expect(t.last()).toMatchObject({ opcode: 9 });
    expect(t.last().payload.toString()).toBe('are you there');
    feed(serverFrame(10, Buffer.from('yes')));
    expect(log).toEqual([['pong', 'yes']]);
  });
});

describe('receiving', () => {
  test('text and binary messages; a fragmented message with a Ping in between is answered with a Pong', () => {
    const { t, s, feed } = open();
    const log = record(s);
    feed(text('one'), serverFrame(2, Buffer.from([0xca, 0xfe])));
    feed(
      text('frag', { fin: false }),
      serverFrame(9, Buffer.from('p1')),
      serverFrame(0, Buffer.from('men'), { fin: false }),
      serverFrame(0, Buffer.from('ted')),
    );
    // Split mid-character: the UTF-8 decoding spans fragments.
    const euro = Buffer.from('€');
    feed(serverFrame(1, euro.subarray(0, 1), { fin: false }), serverFrame(0, euro.subarray(1)));
    expect(log).toEqual([
      ['message', 'text', 'one'],
      ['message', 'binary', 'cafe'],
      ['ping', 'p1'],
      ['message', 'text', 'fragmented'],
      ['message', 'text', '€'],
    ]);
    expect(t.frames().map((f) => [f.opcode, f.payload.toString()])).toEqual([[10, 'p1']]);
  });

  test('messages that come before onMessage is registered are delivered to it, in order', () => {
    const { s, feed } = open();
    feed(text('a'), text('b'));
    feed(text('c'));
    const got = [];
    s.onMessage((m) => got.push(m.data));
    feed(text('d'));
    expect(got).toEqual(['a', 'b', 'c', 'd']);
  });

  test('invalid UTF-8 closes with 1007, at the fragment that has it', () => {
    const { t, s, feed } = open();
    const log = record(s);
    feed(serverFrame(1, Buffer.from([0x61, 0xff]), { fin: false }));
    expect(closeFrame(t.last())).toMatchObject({ opcode: 8, code: 1007 });
    expect(log[0]).toEqual(['error', 'ERR_PROTOCOL', 'text message is not valid UTF-8']);
    expect(log[1]).toEqual(['close', 1007, 'text message is not valid UTF-8']);
    expect(t.ended).toBe(1);
    expect(s.readyState).toBe(3);
  });

  test('an oversized message closes with 1009', () => {
    const { t, s, feed } = open({ maxPayload: 10 });
    const log = record(s);
    feed(text('12345', { fin: false }), serverFrame(0, Buffer.from('678901')));
    expect(closeFrame(t.last())).toMatchObject({ opcode: 8, code: 1009 });
    expect(log.map((e) => e[0])).toEqual(['error', 'close']);
  });

  test('a masked server frame closes with 1002; so do continuation errors', () => {
    for (const bytes of [
      serverFrame(1, Buffer.from('x'), { mask: [1, 2, 3, 4] }),
      serverFrame(0, Buffer.from('x')),
      Buffer.concat([text('a', { fin: false }), text('b')]),
    ]) {
      const { t, s, feed } = open();
      const log = record(s);
      feed(bytes);
      expect(closeFrame(t.last())).toMatchObject({ opcode: 8, code: 1002 });
      expect(log.filter((e) => e[0] !== 'message').map((e) => e.slice(0, 2))).toEqual([
        ['error', 'ERR_PROTOCOL'],
        ['close', 1002],
      ]);
      expect(t.ended).toBe(1);
    }
  });

  test("frames after the server's Close are ignored", () => {
    const { s, feed } = open();
    const log = record(s);
    feed(close(1000), text('late'));
    feed(text('later'));
    expect(log).toEqual([]);
  });
});

describe('closing', () => {
  test("initiated by the client: Close, the server's Close, then the server ends the connection", async () => {
    const { t, s, feed } = open();
    const log = record(s);
    const closed = s.close(4000, 'bye');
    expect(s.close()).toBe(closed); // idempotent
    expect(closeFrame(t.last())).toEqual({ opcode: 8, code: 4000, reason: 'bye' });
    expect(s.readyState).toBe(2);
    await expect(s.send('x')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', stage: 'write' });
    feed(text('still delivered'), close(4000, 'ok'));
    expect(s.readyState).toBe(2);
    s.transportEnded();
    await closed;
    expect(s.readyState).toBe(3);
    expect(t.ended).toBe(0);
    expect(log).toEqual([
      ['message', 'text', 'still delivered'],
      ['close', 4000, 'ok'],
    ]);
    await expect(s.send('x')).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
      message: expect.stringMatching(/closed/),
    });
    await expect(s.close()).resolves.toBeUndefined();
  });

  test('the server does not end the connection after the Close exchange: end() after closeTimeoutMs', async () => {
    const { t, s, feed } = open({ closeTimeoutMs: 300 }); // far past the 5 ms below, also on a busy machine
    const log = record(s);
    const closed = s.close();
    feed(close(1000));
    await sleep(5);
    expect(t.ended).toBe(0);
    await closed;
    expect(t.ended).toBe(1);
    expect(log).toEqual([['close', 1000, '']]);
  });

  test('the server never answers our Close: end() after closeHandshakeTimeoutMs, 1006', async () => {
    const { t, s } = open({ closeHandshakeTimeoutMs: 30 });
    const log = record(s);
    await s.close(1001);
    expect(t.ended).toBe(1);
    expect(log).toEqual([['close', 1006, '']]);
  });

  test('initiated by the server: its code is echoed at once, onClose gets its code and reason', async () => {
    const { t, s, feed } = open();
    const log = record(s);
    feed(close(1001, 'going away'));
    expect(closeFrame(t.last())).toEqual({ opcode: 8, code: 1001, reason: '' });
    expect(s.readyState).toBe(2);
    await expect(s.send('x')).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
      message: expect.stringMatching(/closing/),
    });
    s.transportEnded();
    expect(log).toEqual([['close', 1001, 'going away']]);
    await s.close();
  });

  test('a Close without a code is answered with 1000 and reported as 1005', () => {
    const { t, s, feed } = open();
    const log = record(s);
    feed(serverFrame(8));
    expect(closeFrame(t.last())).toMatchObject({ code: 1000 });
    s.transportEnded();
    expect(log).toEqual([['close', 1005, '']]);
  });

  test('invalid Close payloads: 1 byte or a bad code → 1002, a bad reason → 1007', () => {
    for (const [payload, code] of [
      [Buffer.from([3]), 1002],
      [closePayload(1006, ''), 1002],
      [closePayload(2999, ''), 1002],
      [Buffer.concat([closePayload(1000, ''), Buffer.from([0xff])]), 1007],
    ]) {
      const { t, s, feed } = open();
      const log = record(s);
      feed(serverFrame(8, payload));
      expect(closeFrame(t.last()).code).toBe(code);
      expect(log.map((e) => e.slice(0, 2))).toEqual([
        ['error', 'ERR_PROTOCOL'],
        ['close', code],
      ]);
    }
  });

  test('the server ends the connection without a Close: 1006 and ERR_CONNECTION_CLOSED', () => {
    const { s } = open();
    const log = record(s);
    s.transportEnded();
    expect(log.map((e) => e.slice(0, 2))).toEqual([
      ['error', 'ERR_CONNECTION_CLOSED'],
      ['close', 1006],
    ]);
  });

  test('transport failure: onError gets it, 1006; after a complete close exchange a failure is no error', () => {
    const a = open();
    const logA = record(a.s);
    const err = new CycleTLSError('ERR_CONNECTION_CLOSED', 'reset', 'body');
    a.s.transportFailed(err);
    expect(logA).toEqual([
      ['error', 'ERR_CONNECTION_CLOSED', 'reset'],
      ['close', 1006, ''],
    ]);
    const b = open();
    const logB = record(b.s);
    void b.s.close();
    b.feed(close(1000));
    b.s.transportFailed(new Error('ECONNRESET'));
    expect(logB).toEqual([['close', 1000, '']]);
  });

  test('close() checks code and reason', async () => {
    const { s } = open();
    for (const code of [999, 1004, 1005, 1006, 1015, 2000, 5000, 1000.5, '1000']) {
      await expect(s.close(code)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    }
    await expect(s.close(1000, 'x'.repeat(124))).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(s.close(1000, 'é'.repeat(62))).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    expect(s.readyState).toBe(1);
    s.close(1000, 'é'.repeat(61)).catch(() => {});
    expect(s.readyState).toBe(2);
    s.transportEnded();
  });

  test('onClose and onError registered after the fact still get them', () => {
    const { s, feed } = open();
    feed(serverFrame(5));
    const log = record(s);
    expect(log.map((e) => e.slice(0, 2))).toEqual([
      ['close', 1002],
      ['error', 'ERR_PROTOCOL'],
    ]);
  });

  test('pending sends: taken as sent after a clean close, rejected after an abnormal one', async () => {
    const clean = open({ highWaterMark: 10 });
    clean.t.buffered = 100;
    const sent = clean.s.send('a');
    const closing = clean.s.close();
    clean.feed(close(1000));
    clean.s.transportEnded();
    await expect(sent).resolves.toBeUndefined();
    await closing;
    const broken = open({ highWaterMark: 10 });
    broken.t.buffered = 100;
    const lost = broken.s.send('a');
    broken.s.transportFailed(new Error('boom'));
    await expect(lost).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED', stage: 'write' });
  });

  test('no Pong once our Close is sent', () => {
    const { t, s, feed } = open();
    void s.close();
    feed(serverFrame(9, Buffer.from('late ping')));
    expect(t.frames().map((f) => f.opcode)).toEqual([8]);
    s.transportEnded();
  });
});

describe('messages()', () => {
  test('pull with back-pressure: pause(true) past queueLimit, pause(false) at half', async () => {
    const { t, s, feed } = open({ queueLimit: 4 });
    const it = s.messages();
    for (let i = 0; i < 5; i++) feed(text(`m${i}`));
    expect(t.pauses).toEqual([true]);
    expect((await it.next()).value).toEqual({ type: 'text', data: 'm0' });
    expect((await it.next()).value.data).toBe('m1');
    expect(t.pauses).toEqual([true]);
    expect((await it.next()).value.data).toBe('m2');
    expect(t.pauses).toEqual([true, false]);
    const waiting = it.next();
    expect((await it.next()).value.data).toBe('m4');
    feed(text('m5'), close(1000));
    s.transportEnded();
    expect((await waiting).value.data).toBe('m3');
    expect((await it.next()).value.data).toBe('m5');
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  test('messages wait for the first onMessage too, paused past the limit', () => {
    const { t, s, feed } = open({ queueLimit: 2 });
    feed(text('a'), text('b'));
    expect(t.pauses).toEqual([true]);
    const got = [];
    s.onMessage((m) => got.push(m.data));
    expect(got).toEqual(['a', 'b']);
    expect(t.pauses).toEqual([true, false]);
  });

  test('an abnormal close: queued messages first, then the error, then done', async () => {
    const { s, feed } = open();
    const it = s.messages();
    feed(text('last words'));
    s.transportEnded();
    expect((await it.next()).value.data).toBe('last words');
    await expect(it.next()).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
    expect((await it.next()).done).toBe(true);
  });

  test('a waiting next() rejects when the connection fails', async () => {
    const { s, feed } = open();
    const it = s.messages();
    const waiting = it.next();
    feed(serverFrame(1, Buffer.from([0xff])));
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_PROTOCOL' });
  });

  test('leaving a for-await loop early closes the connection with 1000', async () => {
    const { t, s, feed } = open({ closeHandshakeTimeoutMs: 20 });
    feed(text('a'), text('b'));
    for await (const m of s.messages()) {
      expect(m.data).toBe('a');
      break;
    }
    expect(closeFrame(t.frames()[0])).toMatchObject({ opcode: 8, code: 1000 });
    expect(s.readyState).toBe(3);
  });

  test("close() resumes reading so that the server's Close can arrive", () => {
    const { t, s, feed } = open({ queueLimit: 1 });
    s.messages();
    feed(text('a'));
    expect(t.pauses).toEqual([true]);
    void s.close();
    expect(t.pauses).toEqual([true, false]);
    feed(text('b'), close(1000));
    s.transportEnded();
  });
});

describe('with permessage-deflate', () => {
  const serverInflate = (frames) =>
    zlib.inflateRawSync(Buffer.concat(frames.flatMap((f) => [f.payload, TAIL])), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });

  test('messages go out compressed (RSV1 on the first frame), in order, fragmented too', async () => {
    const { t, s } = open({ deflate: DEFLATE, fragmentSize: 8 });
    await Promise.all([s.send('hello hello hello hello'), s.send(Buffer.alloc(100, 7)), s.send('')]);
    const frames = t.frames();
    expect(frames[0]).toMatchObject({ opcode: 1, rsv1: true });
    expect(frames.filter((f) => f.rsv1)).toHaveLength(3);
    expect(frames.slice(1).every((f) => f.opcode === 0 || f.rsv1)).toBe(true);
    // Reassemble per message, then inflate the whole stream as the server would.
    const messages = [];
    for (const f of frames) {
      if (f.opcode !== 0) messages.push({ opcode: f.opcode, parts: [] });
      messages[messages.length - 1].parts.push(f.payload);
    }
    expect(messages.map((m) => m.opcode)).toEqual([1, 2, 1]);
    const inflated = serverInflate(messages.map((m) => ({ payload: Buffer.concat(m.parts) })));
    expect(
      inflated.equals(Buffer.concat([Buffer.from('hello hello hello hello'), Buffer.alloc(100, 7)])),
    ).toBe(true);
  });

  test('compressed messages come in inflated; control frames are answered while one is inflating', async () => {
    const { t, s, feed } = open({ deflate: DEFLATE });
    const log = record(s);
    const c1 = zlib
      .deflateRawSync(Buffer.from('squeezed text'), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
      .subarray(0, -4);
    const c2 = zlib
      .deflateRawSync(Buffer.alloc(1000, 1), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
      .subarray(0, -4);
    feed(
      serverFrame(1, c1.subarray(0, 3), { rsv1: true, fin: false }),
      serverFrame(0, c1.subarray(3)),
      serverFrame(2, c2, { rsv1: true }),
      text('plain'),
      serverFrame(9, Buffer.from('p')),
    );
    expect(t.frames().map((f) => f.opcode)).toEqual([10]);
    await until(() => log.length >= 4);
    expect(log).toEqual([
      ['ping', 'p'],
      ['message', 'text', 'squeezed text'],
      ['message', 'binary', Buffer.alloc(1000, 1).toString('hex')],
      ['message', 'text', 'plain'],
    ]);
  });

  test('inflated past maxPayload: 1009; inflated text that is not UTF-8: 1007', async () => {
    const big = open({ deflate: DEFLATE, maxPayload: 1000 });
    const logBig = record(big.s);
    big.feed(serverFrame(2, zlib.deflateRawSync(Buffer.alloc(5000)), { rsv1: true }));
    await until(() => logBig.length >= 2);
    expect(closeFrame(big.t.last()).code).toBe(1009);
    expect(logBig.map((e) => e.slice(0, 2))).toEqual([
      ['error', 'ERR_PROTOCOL'],
      ['close', 1009],
    ]);
    const bad = open({ deflate: DEFLATE });
    const logBad = record(bad.s);
    bad.feed(serverFrame(1, zlib.deflateRawSync(Buffer.from([0xff, 0xfe])), { rsv1: true }));
    await until(() => logBad.length >= 2);
    expect(logBad.map((e) => e.slice(0, 2))).toEqual([
      ['error', 'ERR_PROTOCOL'],
      ['close', 1007],
    ]);
  });

  test('a compressed message, the Close and the EOF at once: the message, then a clean close', async () => {
    const { s, feed } = open({ deflate: DEFLATE });
    const log = record(s);
    const c = zlib
      .deflateRawSync(Buffer.from('last'), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
      .subarray(0, -4);
    feed(serverFrame(1, c, { rsv1: true }), close(1000, 'done'));
    s.transportEnded();
    await s.close();
    expect(log).toEqual([
      ['message', 'text', 'last'],
      ['close', 1000, 'done'],
    ]);
  });

  test('RSV1 without negotiated deflate is a 1002', () => {
    const { t, feed } = open();
    feed(serverFrame(1, Buffer.from('x'), { rsv1: true }));
    expect(closeFrame(t.last()).code).toBe(1002);
  });

  test('close() waits for messages still being compressed; a Ping goes ahead of them', async () => {
    const { t, s, feed } = open({ deflate: DEFLATE });
    const sent = s.send(Buffer.alloc(200000, 3));
    expect(s.bufferedAmount).toBe(200000);
    const pinged = s.ping('now');
    const closed = s.close(1000);
    expect(t.frames().map((f) => f.opcode)).toEqual([9]);
    await sent;
    await pinged;
    expect(t.frames().map((f) => f.opcode)).toEqual([9, 2, 8]);
    feed(close(1000));
    s.transportEnded();
    await closed;
  });

  test('sends still being compressed when the connection fails reject; nothing unhandled', async () => {
    const { s } = open({ deflate: DEFLATE });
    const a = s.send(Buffer.alloc(300000, 1));
    const b = s.send('second');
    s.transportFailed(new Error('gone'));
    await expect(a).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
    await expect(b).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
  });
});

test('the accessors', () => {
  const { s } = open({ protocol: 'chat', extensions: 'permessage-deflate' });
  expect([s.readyState, s.protocol, s.extensions, s.bufferedAmount]).toEqual([
    1,
    'chat',
    'permessage-deflate',
    0,
  ]);
  s.transportEnded();
});

test('a throwing callback does not break the session: its error is rethrown on the next tick', () => {
  const { s, feed } = open();
  const thrown = [];
  // Jest fails a test on an uncaught exception; the rethrow is caught where it is scheduled instead.
  const spy = jest.spyOn(process, 'nextTick').mockImplementation((fn) => {
    try {
      fn();
    } catch (err) {
      thrown.push(err.message);
    }
  });
  try {
    const got = [];
    s.onMessage(() => {
      throw new Error('user bug');
    });
    s.onMessage((m) => got.push(m.data));
    feed(text('a'), text('b'));
    expect(got).toEqual(['a', 'b']);
    expect(thrown).toEqual(['user bug', 'user bug']);
  } finally {
    spy.mockRestore();
  }
  s.transportEnded();
});
