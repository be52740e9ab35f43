'use strict';
// Unit tests of the event-stream parser (lib/sse-parser.ts) against the WHATWG rules, every input also
// fed split at every byte boundary (and byte by byte).
const { SSEParser, DEFAULT_MAX_EVENT_BYTES } = require('../../dist/sse-parser');

function parseWhole(input) {
  const p = new SSEParser();
  return { events: p.push(Buffer.from(input)), parser: p };
}

/** The events of `input` fed in one piece, in two pieces at every byte, and byte by byte — all equal. */
function parse(input) {
  const bytes = Buffer.from(input);
  const whole = parseWhole(bytes);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const p = new SSEParser();
    const events = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut))];
    expect({ cut, events }).toEqual({ cut, events: whole.events });
    expect(p.lastEventId).toBe(whole.parser.lastEventId);
    expect(p.retry).toBe(whole.parser.retry);
  }
  const p = new SSEParser();
  const events = [];
  for (let i = 0; i < bytes.length; i++) events.push(...p.push(bytes.subarray(i, i + 1)));
  expect(events).toEqual(whole.events);
  return whole;
}

test('data lines are joined with \\n; one trailing newline is removed; type defaults to message', () => {
  expect(parse('data: a\ndata: b\ndata\ndata:  c\n\n').events).toEqual([
    { event: 'message', data: 'a\nb\n\n c' },
  ]);
  expect(parse('data:x\n\ndata: y\n\n').events).toEqual([
    { event: 'message', data: 'x' },
    { event: 'message', data: 'y' },
  ]);
});

test('LF, CRLF and CR line endings, mixed, including CR and LF in different chunks', () => {
  const expected = [
    { event: 'message', data: '1' },
    { event: 'message', data: '2' },
    { event: 'message', data: '3\n4' },
  ];
  expect(parse('data: 1\r\n\r\ndata: 2\r\rdata: 3\ndata: 4\r\n\n').events).toEqual(expected);
  // CR then LF is one line end, never an empty line between.
  expect(parse('data: a\r\ndata: b\r\n\r\n').events).toEqual([{ event: 'message', data: 'a\nb' }]);
});

test('event names, and the type resets after each dispatch', () => {
  expect(parse('event: add\ndata: 1\n\ndata: 2\n\nevent:remove\ndata: 3\n\n').events).toEqual([
    { event: 'add', data: '1' },
    { event: 'message', data: '2' },
    { event: 'remove', data: '3' },
  ]);
});

test('ids: persist across events, an empty id clears, ids with NUL are ignored, set at dispatch', () => {
  const { events, parser } = parse(
    'id: 1\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\nid\ndata: d\n\nid: 7\n\n',
  );
  expect(events).toEqual([
    { event: 'message', data: 'a', id: '1' },
    { event: 'message', data: 'b', id: '1' },
    { event: 'message', data: 'c', id: '1' },
    { event: 'message', data: 'd' },
  ]);
  // An id-only block dispatches nothing but still sets the last event id.
  expect(parser.lastEventId).toBe('7');
  // An id without the blank line that ends its block is not in force yet.
  expect(parse('id: 9\ndata: z').parser.lastEventId).toBe('');
});

test('retry: digits only; sets the reconnection time even in a block without data', () => {
  let r = parse('retry: 1500\n\n');
  expect(r.events).toEqual([]);
  expect(r.parser.retry).toBe(1500);
  r = parse('retry: 10\ndata: a\n\nretry: 1.5\nretry: -1\nretry: 2x\nretry:\ndata: b\n\n');
  expect(r.events).toEqual([
    { event: 'message', data: 'a', retry: 10 },
    { event: 'message', data: 'b' },
  ]);
  expect(r.parser.retry).toBe(10);
});

test('comments, unknown fields and fields without a colon', () => {
  expect(parse(': hello\n:\ndata: a\n: mid\nfoo: bar\ndata\n\n').events).toEqual([
    { event: 'message', data: 'a\n' },
  ]);
  // "data" with no colon is an empty data line; "event" with no colon an empty type (→ message).
  expect(parse('event\ndata\n\n').events).toEqual([{ event: 'message', data: '' }]);
  // Only one space after the colon is dropped; field names are case-sensitive.
  expect(parse('data:   x\nDATA: y\nData: z\n\n').events).toEqual([{ event: 'message', data: '  x' }]);
});

test('no dispatch with an empty data buffer; event type of such a block does not leak', () => {
  expect(parse('event: a\n\ndata: x\n\n').events).toEqual([{ event: 'message', data: 'x' }]);
  expect(parse('\n\n\n').events).toEqual([]);
});

test('a BOM at the start of the stream is dropped, a second one is not', () => {
  const bom = '\uFEFF';
  expect(parse(`${bom}data: a\n\n`).events).toEqual([{ event: 'message', data: 'a' }]);
  expect(parse(`${bom}${bom}data: a\n\n`).events).toEqual([]); // the field name is "\uFEFFdata"
  expect(parse(`data: ${bom}a\n\n`).events).toEqual([{ event: 'message', data: `${bom}a` }]);
});

test('UTF-8 across chunk boundaries; invalid bytes become U+FFFD', () => {
  expect(parse('data: héllo wörld 日本 😀\n\n').events).toEqual([
    { event: 'message', data: 'héllo wörld 日本 😀' },
  ]);
  const p = new SSEParser();
  expect(p.push(Buffer.from([0x64, 0x61, 0x74, 0x61, 0x3a, 0xff, 0x0a, 0x0a]))).toEqual([
    { event: 'message', data: '\uFFFD' },
  ]);
});

test('an incomplete event at the end is discarded; end() resets the stream but keeps id and retry', () => {
  const p = new SSEParser();
  expect(p.push(Buffer.from('id: 3\nretry: 50\ndata: a\n\nid: 4\ndata: b\ndata: c'))).toEqual([
    { event: 'message', data: 'a', id: '3', retry: 50 },
  ]);
  p.end();
  expect(p.lastEventId).toBe('3');
  expect(p.retry).toBe(50);
  // A new stream: no leftovers of the old one; the BOM is dropped again; a pending CR is gone.
  expect(p.push(Buffer.from('\uFEFF\ndata: d\n\n'))).toEqual([{ event: 'message', data: 'd', id: '3' }]);
  p.push(Buffer.from('data: e\r'));
  p.end();
  expect(p.push(Buffer.from('\ndata: f\n\n'))).toEqual([{ event: 'message', data: 'f', id: '3' }]);
});

test('long lines and many events in one chunk', () => {
  const big = 'x'.repeat(100000);
  let input = `data: ${big}\n\n`;
  for (let i = 0; i < 1000; i++) input += `id: ${i}\ndata: ${i}\n\n`;
  const events = new SSEParser().push(Buffer.from(input));
  expect(events.length).toBe(1001);
  expect(events[0].data).toBe(big);
  expect(events[1000]).toEqual({ event: 'message', data: '999', id: '999' });
});

describe('maxEventBytes: what a server can make the parser hold', () => {
  /** Feeds `input` in pieces of `size` bytes with the given limit; the events, the failure and the most held. */
  function limited(input, limit, size = Infinity) {
    const bytes = Buffer.from(input);
    const p = new SSEParser(limit);
    const events = [];
    let maxHeld = 0;
    for (let i = 0; i < bytes.length && !p.failure; i += size) {
      events.push(...p.push(bytes.subarray(i, Math.min(bytes.length, i + size))));
      maxHeld = Math.max(maxHeld, p.heldBytes);
    }
    return { events, failure: p.failure, maxHeld, parser: p };
  }

  /** The same outcome whole, cut at every byte, and byte by byte. */
  function limitedEverySplit(input, limit) {
    const whole = limited(input, limit);
    const bytes = Buffer.from(input);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const p = new SSEParser(limit);
      const events = p.push(bytes.subarray(0, cut));
      if (!p.failure) events.push(...p.push(bytes.subarray(cut)));
      expect({ cut, events, code: p.failure?.code }).toEqual({
        cut,
        events: whole.events,
        code: whole.failure?.code,
      });
    }
    const bytewise = limited(input, limit, 1);
    expect(bytewise.events).toEqual(whole.events);
    expect(bytewise.failure?.code).toBe(whole.failure?.code);
    return whole;
  }

  test('the default is 16 MiB', () => {
    expect(DEFAULT_MAX_EVENT_BYTES).toBe(16 * 1024 * 1024);
  });

  test('an endless line stops at the limit with ERR_BODY_TOO_LARGE, holding no more than the limit', () => {
    const p = new SSEParser(1000);
    expect(p.push(Buffer.from('data: '))).toEqual([]);
    let pushes = 0;
    while (!p.failure && pushes < 1000) {
      p.push(Buffer.alloc(64, 'x'));
      expect(p.heldBytes).toBeLessThanOrEqual(1000);
      pushes++;
    }
    expect(pushes).toBe(16); // 6 + 15 * 64 = 966 fit; one more chunk would be 1030
    expect(p.failure).toMatchObject({ name: 'CycleTLSError', code: 'ERR_BODY_TOO_LARGE', stage: 'body' });
    expect(p.failure.message).toMatch(/maxEventBytes/);
    expect(p.failure.message).toMatch(/1000 bytes/);
    expect(p.heldBytes).toBe(0); // what it held is let go
    expect(() => p.push(Buffer.from('\n\n'))).toThrow(p.failure); // the stream is over
  });

  test('an endless event of short data lines (never a blank line) stops the same way', () => {
    const r = limited('data: x\n'.repeat(10000), 4096, 100);
    expect(r.events).toEqual([]);
    expect(r.failure.code).toBe('ERR_BODY_TOO_LARGE');
    expect(r.maxHeld).toBeLessThanOrEqual(4096);
    // Events end, so a long stream of events under the limit is fine.
    const ok = limited('data: x\n\n'.repeat(10000), 16, 100);
    expect(ok.failure).toBeUndefined();
    expect(ok.events).toHaveLength(10000);
  });

  test('the pending line, data (with its newlines), event type and id count; exactly at the limit passes, one byte over fails', () => {
    // One line of 16 bytes ("data:" and 11 x): fits a limit of 16, not of 15.
    const line = `data:${'x'.repeat(11)}\n\n`;
    expect(limitedEverySplit(line, 16)).toMatchObject({
      events: [{ event: 'message', data: 'x'.repeat(11) }],
      failure: undefined,
    });
    expect(limitedEverySplit(line, 15).failure.code).toBe('ERR_BODY_TOO_LARGE');
    // Held data "a\nb\n" (4) + the line "data:c" (6) = 10.
    expect(limitedEverySplit('data:a\ndata:b\ndata:c\n\n', 10).events).toEqual([
      { event: 'message', data: 'a\nb\nc' },
    ]);
    expect(limitedEverySplit('data:a\ndata:b\ndata:c\n\n', 9).failure.code).toBe('ERR_BODY_TOO_LARGE');
    // The type "t" (1) and id "i" (1) are held with the event: 2 + "data:c" (6) = 8.
    expect(limitedEverySplit('event:t\nid:i\ndata:c\n\n', 8).events).toEqual([
      { event: 't', id: 'i', data: 'c' },
    ]);
    expect(limitedEverySplit('event:t\nid:i\ndata:c\n\n', 7).failure.code).toBe('ERR_BODY_TOO_LARGE');
    // Counted in UTF-8 bytes: "data:" + é (2 bytes) twice = 9, however the é bytes are split.
    expect(limitedEverySplit('data:éé\n\n', 9).events).toEqual([{ event: 'message', data: 'éé' }]);
    expect(limitedEverySplit('data:éé\n\n', 8).failure.code).toBe('ERR_BODY_TOO_LARGE');
  });

  test('comments and unknown fields are not kept, but a line is held while it is read', () => {
    expect(limitedEverySplit(`${':comment\n'.repeat(50)}x-unknown: 12345\ndata: a\n\n`, 16).events).toEqual([
      { event: 'message', data: 'a' },
    ]);
    expect(limitedEverySplit(`:${'c'.repeat(20)}\ndata: a\n\n`, 16).failure.code).toBe('ERR_BODY_TOO_LARGE');
  });

  test('events completed before the limit in the same chunk are returned; end() starts a fresh stream', () => {
    const p = new SSEParser(32);
    expect(p.push(Buffer.from(`id: 7\ndata: one\n\ndata: ${'x'.repeat(40)}`))).toEqual([
      { event: 'message', data: 'one', id: '7' },
    ]);
    expect(p.failure.code).toBe('ERR_BODY_TOO_LARGE');
    p.end();
    expect(p.failure).toBeUndefined();
    expect(p.lastEventId).toBe('7');
    expect(p.push(Buffer.from('data: two\n\n'))).toEqual([{ event: 'message', data: 'two', id: '7' }]);
  });
});
