'use strict';
// Property-based fuzzing (fast-check, seeded and bounded) of the event-stream parser (lib/sse-parser.ts),
// which reads what a server sends: any bytes, cut anywhere, never throw and give the same events
// (and the same last event id and retry) as the bytes pushed whole; well-formed streams, with any
// mix of line endings, comments and unknown fields, give back exactly the events written.
const fc = require('fast-check');
const { runs, split } = require('../helpers/fuzz');
const { SSEParser } = require('../../dist/sse-parser');

const RUNS = runs(0x55e11);

function parse(pieces) {
  const parser = new SSEParser();
  const events = [];
  for (const p of pieces) events.push(...parser.push(p));
  return { events, lastEventId: parser.lastEventId, retry: parser.retry };
}

/** Bytes that look like an event stream often: field names, colons, spaces, CR, LF, digits, UTF-8 and junk. */
const streamish = fc
  .array(
    fc
      .oneof(
        fc.constantFrom(
          'data',
          'event',
          'id',
          'retry',
          ':',
          ' ',
          '\r',
          '\n',
          '\r\n',
          '\n\n',
          '0',
          '42',
          '\0',
          '\uFEFF',
          'é',
          '😀',
        ),
        fc.string({ maxLength: 6 }),
      )
      .map((s) => Buffer.from(s, 'utf8')),
    { maxLength: 60 },
  )
  .chain((parts) =>
    fc.uint8Array({ maxLength: 8 }).map((junk) => Buffer.concat([...parts, Buffer.from(junk)])),
  );

const anyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
  streamish,
);

/** Text without CR, LF or NUL (NUL would void an id), in whole code points (no lone surrogates). */
const lineText = fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => s.replace(/[\r\n\0]/g, ''));

const eventArb = fc.record({
  data: fc.array(lineText, { minLength: 1, maxLength: 4 }),
  event: fc.option(
    lineText.filter((s) => s !== ''),
    { nil: undefined },
  ),
  id: fc.option(lineText, { nil: undefined }),
  retry: fc.option(fc.nat({ max: 1e9 }), { nil: undefined }),
  comment: fc.option(lineText, { nil: undefined }),
  unknown: fc.option(lineText, { nil: undefined }),
  eol: fc.constantFrom('\n', '\r\n', '\r'),
});

/** An event's lines: `data: x` keeps a leading space of x (one space after the colon is dropped). */
function encodeEvent(e) {
  const lines = [];
  if (e.comment !== undefined) lines.push(`:${e.comment}`);
  if (e.id !== undefined) lines.push(`id: ${e.id}`);
  if (e.event !== undefined) lines.push(`event: ${e.event}`);
  if (e.unknown !== undefined) lines.push(`x-unknown: ${e.unknown}`);
  if (e.retry !== undefined) lines.push(`retry: ${e.retry}`);
  for (const d of e.data) lines.push(`data: ${d}`);
  return lines.map((l) => l + e.eol).join('') + e.eol;
}

describe('SSEParser under fuzzing', () => {
  test('any bytes, cut anywhere: no throw, and the same events, id and retry as whole', () => {
    fc.assert(
      fc.property(anyBytes, fc.array(fc.nat(), { maxLength: 15 }), (bytes, cuts) => {
        const whole = parse([bytes]);
        expect(parse(split(bytes, cuts))).toEqual(whole);
        expect(parse([...bytes].map((b) => Buffer.from([b])))).toEqual(whole);
      }),
      RUNS,
    );
  });

  test('well-formed streams round-trip whole, however they are split', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { maxLength: 10 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 20 }),
        (events, bom, cuts) => {
          const text = (bom ? '\uFEFF' : '') + events.map(encodeEvent).join('');
          const bytes = Buffer.from(text, 'utf8');
          let lastId = '';
          let retry;
          const expected = events.map((e) => {
            if (e.id !== undefined) lastId = e.id;
            if (e.retry !== undefined) retry = e.retry;
            const out = { data: e.data.join('\n'), event: e.event ?? 'message' };
            if (lastId !== '') out.id = lastId;
            if (e.retry !== undefined) out.retry = e.retry;
            return out;
          });
          const got = parse(split(bytes, cuts));
          expect(got.events).toEqual(expected);
          expect(got.lastEventId).toBe(lastId);
          expect(got.retry).toBe(retry);
        },
      ),
      RUNS,
    );
  });
});

describe('SSEParser under fuzzing, with a small maxEventBytes', () => {
  /** Parses with a limit; stops at a failure. The most held, by the parser's count and by its strings. */
  function parseLimited(pieces, limit) {
    const parser = new SSEParser(limit);
    const events = [];
    let overLimit = 0;
    for (const p of pieces) {
      events.push(...parser.push(p));
      // What its strings really hold (the private fields, read as JS sees them): never more than the
      // limit plus this chunk; the kept last event id is at most one line.
      const held =
        Buffer.byteLength(parser.line) + Buffer.byteLength(parser.data) + Buffer.byteLength(parser.eventType);
      overLimit = Math.max(
        overLimit,
        held - limit - p.length,
        parser.heldBytes - limit,
        Buffer.byteLength(parser.idBuffer) - limit,
      );
      if (parser.failure) break;
    }
    return { events, code: parser.failure?.code, overLimit };
  }

  const bigger = fc.oneof(
    anyBytes,
    fc.array(anyBytes, { maxLength: 8 }).map((a) => Buffer.concat(a)),
  );

  test('never holds more than the limit (+ one chunk); the same outcome however split; events a prefix of the unlimited ones', () => {
    fc.assert(
      fc.property(
        bigger,
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.nat(), { maxLength: 15 }),
        (bytes, limit, cuts) => {
          const whole = parseLimited([bytes], limit);
          const pieces = parseLimited(split(bytes, cuts), limit);
          expect(whole.overLimit).toBeLessThanOrEqual(0);
          expect(pieces.overLimit).toBeLessThanOrEqual(0);
          expect({ events: pieces.events, code: pieces.code }).toEqual({
            events: whole.events,
            code: whole.code,
          });
          const unlimited = parse([bytes]).events;
          expect(unlimited.slice(0, whole.events.length)).toEqual(whole.events);
          if (whole.code === undefined) expect(whole.events).toEqual(unlimited);
          else expect(whole.code).toBe('ERR_BODY_TOO_LARGE');
        },
      ),
      RUNS,
    );
  });

  test('a limit as large as the input never fails', () => {
    fc.assert(
      fc.property(bigger, fc.array(fc.nat(), { maxLength: 15 }), (bytes, cuts) => {
        const r = parseLimited(split(bytes, cuts), Math.max(1, bytes.length * 3));
        expect(r.code).toBeUndefined();
        expect(r.events).toEqual(parse([bytes]).events);
      }),
      RUNS,
    );
  });
});
