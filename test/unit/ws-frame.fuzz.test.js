'use strict';
// Property-based fuzzing (fast-check, seeded and bounded) of the WebSocket frame parser
// (lib/ws-protocol/frame.ts), which reads what a server sends: any bytes, cut anywhere, give frames or a
// WsProtocolError and nothing else; the outcome does not depend on where the bytes were cut; and
// well-formed server frames come back whole, however they are split.
const fc = require('fast-check');
const { runs, split } = require('../helpers/fuzz');
const { FrameParser, WsProtocolError } = require('../../dist/ws-protocol/frame');

const RUNS = runs(0x5eed11);

/** Pushes the pieces; the frames delivered (copied) and the error that stopped the parser, if any. */
function parse(pieces, options) {
  const frames = [];
  const parser = new FrameParser({
    ...options,
    onFrame: (f) => frames.push({ ...f, payload: Buffer.from(f.payload) }),
  });
  let error;
  for (const piece of pieces) {
    try {
      parser.push(Buffer.from(piece));
    } catch (err) {
      if (!(err instanceof WsProtocolError)) throw err; // anything else fails the property
      if (error === undefined) error = err;
      // Dead from now on: every later push throws the same error.
      expect(() => parser.push(Buffer.from([0x81, 0x00]))).toThrow(err);
      break;
    }
  }
  if (error) expect([1002, 1007, 1009]).toContain(error.closeCode);
  return { frames, error: error && { code: error.closeCode, message: error.message } };
}

const optionsArb = fc.record({
  perMessageDeflate: fc.boolean(),
  maxPayload: fc.option(fc.nat({ max: 70000 }), { nil: undefined }),
});

/** A server frame (unmasked) as bytes, in any of the three length encodings big enough for it. */
function serverFrame({ fin, rsv1, opcode, payload, lengthForm }) {
  const len = payload.length;
  const form = Math.max(lengthForm, len < 126 ? 0 : len < 0x10000 ? 1 : 2);
  const head = Buffer.alloc(form === 0 ? 2 : form === 1 ? 4 : 10);
  head[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (form === 0) {
    head[1] = len;
  } else if (form === 1) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 127;
    head.writeUInt32BE(0, 2);
    head.writeUInt32BE(len, 6);
  }
  return Buffer.concat([head, payload]);
}

/**
 * A valid sequence of server frames (data frames also in longer length forms than needed, which the
 * parser accepts): data messages (one frame, or fragmented with continuations)
 * with control frames (ping, pong, close; ≤ 125 bytes, never fragmented) between any two frames.
 */
const controlArb = fc.record({
  fin: fc.constant(true),
  rsv1: fc.constant(false),
  opcode: fc.constantFrom(0x8, 0x9, 0xa),
  // The 7-bit length only: a control frame's length field says ≤ 125 itself (RFC 6455 §5.5).
  payload: fc.uint8Array({ maxLength: 125 }).map((a) => Buffer.from(a)),
  lengthForm: fc.constant(0),
});
const messageArb = (deflate) =>
  fc
    .record({
      opcode: fc.constantFrom(0x1, 0x2),
      compressed: deflate ? fc.boolean() : fc.constant(false),
      parts: fc.array(
        fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
        { minLength: 1, maxLength: 4 },
      ),
      controls: fc.array(fc.option(controlArb, { nil: undefined }), { maxLength: 4 }),
      lengthForm: fc.constantFrom(0, 1, 2),
    })
    .map(({ opcode, compressed, parts, controls, lengthForm }) => {
      const frames = [];
      parts.forEach((payload, i) => {
        frames.push({
          fin: i === parts.length - 1,
          rsv1: compressed && i === 0,
          opcode: i === 0 ? opcode : 0x0,
          payload,
          lengthForm,
        });
        const control = controls[i];
        if (control && i < parts.length - 1) frames.push(control);
      });
      return frames;
    });
const streamArb = fc.boolean().chain((deflate) =>
  fc.record({
    deflate: fc.constant(deflate),
    messages: fc.array(
      fc.oneof(
        messageArb(deflate),
        controlArb.map((c) => [c]),
      ),
      { maxLength: 8 },
    ),
  }),
);

describe('FrameParser under fuzzing', () => {
  test('arbitrary bytes, cut anywhere: frames or a WsProtocolError, the same whatever the cuts', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        optionsArb,
        (data, cuts, options) => {
          const bytes = Buffer.from(data);
          const whole = parse([bytes], options);
          const cut = parse(split(bytes, cuts), options);
          expect(cut).toEqual(whole);
        },
      ),
      RUNS,
    );
  });

  test('byte-at-a-time and whole give the same outcome for header-heavy inputs', () => {
    // Short frames with every header form: many headers per input, cut at every byte.
    const headerish = fc
      .array(
        fc.tuple(
          fc.integer({ min: 0, max: 255 }),
          fc.constantFrom(0, 1, 125, 126, 127),
          fc.uint8Array({ maxLength: 10 }),
        ),
        { maxLength: 20 },
      )
      .map((parts) =>
        Buffer.concat(
          parts.map(([b0, b1, rest]) => Buffer.concat([Buffer.from([b0, b1]), Buffer.from(rest)])),
        ),
      );
    fc.assert(
      fc.property(headerish, optionsArb, (bytes, options) => {
        const whole = parse([bytes], options);
        const bytewise = parse(
          [...bytes].map((b) => Buffer.from([b])),
          options,
        );
        expect(bytewise).toEqual(whole);
      }),
      RUNS,
    );
  });

  test('well-formed server frames round-trip whole, however they are split', () => {
    fc.assert(
      fc.property(streamArb, fc.array(fc.nat(), { maxLength: 20 }), ({ deflate, messages }, cuts) => {
        const frames = messages.flat();
        const bytes = Buffer.concat(frames.map(serverFrame));
        const { frames: got, error } = parse(split(bytes, cuts), { perMessageDeflate: deflate });
        expect(error).toBeUndefined();
        expect(got).toEqual(frames.map(({ fin, rsv1, opcode, payload }) => ({ fin, rsv1, opcode, payload })));
      }),
      RUNS,
    );
  });

  test('a message past maxPayload is refused with 1009 before its payload, however it is split', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2000 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (limit, extra, cuts) => {
          const payload = Buffer.alloc(limit + extra, 0x61);
          const bytes = serverFrame({ fin: true, rsv1: false, opcode: 0x2, payload, lengthForm: 0 });
          // Only the header is pushed: the refusal must not wait for the payload.
          const headerSize = bytes.length - payload.length;
          const { frames, error } = parse(split(bytes.subarray(0, headerSize), cuts), { maxPayload: limit });
          expect(frames).toEqual([]);
          expect(error && error.code).toBe(1009);
        },
      ),
      RUNS,
    );
  });
});
