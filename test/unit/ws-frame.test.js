'use strict';
// Unit tests of the WebSocket framing (lib/ws-protocol/frame.ts): the parser of server frames, every input
// also fed split at every byte boundary and byte by byte, a seeded fuzz of random frame sequences
// in random splits, every violation's close code, and the client frame encoder.
const {
  FrameParser,
  WsProtocolError,
  encodeFrame,
  encodeFrameHeader,
  isValidCloseCode,
  closePayload,
  parseClosePayload,
} = require('../../dist/ws-protocol/frame');
const { serverFrame, decodeClientFrame } = require('../helpers/ws-frames');

const plain = (f) => ({ fin: f.fin, rsv1: f.rsv1, opcode: f.opcode, payload: f.payload.toString('hex') });

function run(pieces, options = {}) {
  const frames = [];
  const p = new FrameParser({ ...options, onFrame: (f) => frames.push(plain(f)) });
  let error;
  for (const piece of pieces) {
    try {
      p.push(piece);
    } catch (err) {
      error = err;
      break;
    }
  }
  return { frames, error };
}

/** Frames of `bytes` fed whole, in two pieces at every byte (when small), and byte by byte: all equal. */
function parse(bytes, options) {
  const whole = run([bytes], options);
  const cuts = bytes.length <= 400 ? bytes.length : 0;
  for (let cut = 0; cut <= cuts; cut++) {
    const r = run([bytes.subarray(0, cut), bytes.subarray(cut)], options);
    expect({ cut, ...r }).toEqual({ cut, ...whole });
  }
  if (bytes.length <= 5000) {
    const bytewise = [];
    for (let i = 0; i < bytes.length; i++) bytewise.push(bytes.subarray(i, i + 1));
    expect(run(bytewise, options)).toEqual(whole);
  }
  return whole;
}

function expectViolation(bytes, closeCode, options, framesBefore = 0) {
  const r = parse(bytes, options);
  expect(r.error).toBeInstanceOf(WsProtocolError);
  expect(r.error.closeCode).toBe(closeCode);
  expect(r.frames).toHaveLength(framesBefore);
  return r.error;
}

describe('FrameParser', () => {
  test('7-bit, 16-bit and 64-bit lengths, at their boundaries', () => {
    for (const n of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
      const payload = Buffer.alloc(n, n % 251);
      const r = parse(serverFrame(2, payload));
      expect(r.error).toBeUndefined();
      expect(r.frames).toEqual([{ fin: true, rsv1: false, opcode: 2, payload: payload.toString('hex') }]);
    }
  });

  test('lengths in a longer form than needed are accepted', () => {
    const r = parse(
      Buffer.concat([
        serverFrame(1, Buffer.from('hi'), { len: 16 }),
        serverFrame(1, Buffer.from('yo'), { len: 64 }),
      ]),
    );
    expect(r.frames.map((f) => Buffer.from(f.payload, 'hex').toString())).toEqual(['hi', 'yo']);
  });

  test('empty payloads and control frames: ping, pong, close', () => {
    const bytes = Buffer.concat([
      serverFrame(1),
      serverFrame(9),
      serverFrame(10, Buffer.from('pong!')),
      serverFrame(9, Buffer.alloc(125, 7)),
      serverFrame(8, closePayload(1000, 'bye')),
      serverFrame(2),
    ]);
    const r = parse(bytes);
    expect(r.error).toBeUndefined();
    expect(r.frames.map((f) => [f.opcode, f.payload.length / 2])).toEqual([
      [1, 0],
      [9, 0],
      [10, 5],
      [9, 125],
      [8, 5],
      [2, 0],
    ]);
  });

  test('a fragmented message with control frames in between', () => {
    const bytes = Buffer.concat([
      serverFrame(1, Buffer.from('He'), { fin: false }),
      serverFrame(9, Buffer.from('p')),
      serverFrame(0, Buffer.from('ll'), { fin: false }),
      serverFrame(10),
      serverFrame(0, Buffer.from('o')),
      serverFrame(2, Buffer.from([1]), { fin: false }),
      serverFrame(0, Buffer.alloc(0)),
    ]);
    const r = parse(bytes);
    expect(r.error).toBeUndefined();
    expect(r.frames.map((f) => [f.fin, f.opcode])).toEqual([
      [false, 1],
      [true, 9],
      [false, 0],
      [true, 10],
      [true, 0],
      [false, 2],
      [true, 0],
    ]);
  });

  test('RSV1 on the first frame of a message with permessage-deflate', () => {
    const bytes = Buffer.concat([
      serverFrame(1, Buffer.from([1, 2]), { rsv1: true, fin: false }),
      serverFrame(0, Buffer.from([3])),
    ]);
    const r = parse(bytes, { perMessageDeflate: true });
    expect(r.error).toBeUndefined();
    expect(r.frames.map((f) => f.rsv1)).toEqual([true, false]);
  });

  test('payloads are views of the input when a frame lies in one chunk', () => {
    const bytes = serverFrame(2, Buffer.from('abcdef'));
    let got;
    new FrameParser({
      onFrame: (f) => {
        got = f.payload;
      },
    }).push(bytes);
    expect(got.buffer).toBe(bytes.buffer);
    expect(got.toString()).toBe('abcdef');
  });

  test('violations carry the close code to send', () => {
    expectViolation(serverFrame(1, Buffer.from('x'), { mask: [1, 2, 3, 4] }), 1002); // masked by the server
    for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) expectViolation(serverFrame(op), 1002);
    expectViolation(serverFrame(1, Buffer.from('x'), { rsv1: true }), 1002); // no extension
    expectViolation(serverFrame(1, Buffer.from('x'), { rsv2: true }), 1002, { perMessageDeflate: true });
    expectViolation(serverFrame(1, Buffer.from('x'), { rsv3: true }), 1002, { perMessageDeflate: true });
    // RSV1 on a continuation or a control frame, even with permessage-deflate.
    expectViolation(
      Buffer.concat([
        serverFrame(1, Buffer.from('a'), { fin: false, rsv1: true }),
        serverFrame(0, Buffer.from('b'), { rsv1: true }),
      ]),
      1002,
      { perMessageDeflate: true },
      1,
    );
    expectViolation(serverFrame(9, Buffer.alloc(0), { rsv1: true }), 1002, { perMessageDeflate: true });
    // Control frames: FIN required, payload ≤ 125.
    expectViolation(serverFrame(9, Buffer.from('p'), { fin: false }), 1002);
    expectViolation(serverFrame(8, Buffer.alloc(126)), 1002);
    expectViolation(serverFrame(10, Buffer.alloc(5), { len: 16 }), 1002);
    // The 64-bit length's top bit.
    const huge = serverFrame(2, Buffer.alloc(0), { len: 64 });
    huge[2] = 0x80;
    expectViolation(huge, 1002);
    // Continuation rules.
    expectViolation(serverFrame(0, Buffer.from('x')), 1002);
    expectViolation(
      Buffer.concat([serverFrame(1, Buffer.from('a'), { fin: false }), serverFrame(2, Buffer.from('b'))]),
      1002,
      {},
      1,
    );
  });

  test('maxPayload: the declared length is checked before any of it is buffered (1009)', () => {
    expect(parse(serverFrame(2, Buffer.alloc(100)), { maxPayload: 100 }).error).toBeUndefined();
    expectViolation(serverFrame(2, Buffer.alloc(101)), 1009, { maxPayload: 100 });
    // The header alone is enough: no payload byte has arrived.
    const header = serverFrame(2, Buffer.alloc(70000)).subarray(0, 10);
    const err = run([header], { maxPayload: 65536 }).error;
    expect(err.closeCode).toBe(1009);
    // A length beyond 2^53 is too big for any limit.
    const far = serverFrame(2, Buffer.alloc(0), { len: 64 });
    far[2] = 0x7f;
    expect(run([far]).error.closeCode).toBe(1009);
    // Fragments count together; control frames do not.
    const frags = Buffer.concat([
      serverFrame(1, Buffer.alloc(60), { fin: false }),
      serverFrame(9, Buffer.alloc(100)),
      serverFrame(0, Buffer.alloc(41)),
    ]);
    expectViolation(frags, 1009, { maxPayload: 100 }, 2);
    // The count restarts with each message.
    expect(
      parse(Buffer.concat([serverFrame(2, Buffer.alloc(100)), serverFrame(2, Buffer.alloc(100))]), {
        maxPayload: 100,
      }).error,
    ).toBeUndefined();
  });

  test('after a violation the parser stays failed', () => {
    const p = new FrameParser({ onFrame: () => {} });
    expect(() => p.push(serverFrame(3))).toThrow(WsProtocolError);
    expect(() => p.push(serverFrame(1, Buffer.from('ok')))).toThrow(/reserved opcode/);
  });

  test('frames before a violation in the same chunk are delivered first', () => {
    const r = run([
      Buffer.concat([serverFrame(1, Buffer.from('a')), serverFrame(2, Buffer.from('b')), serverFrame(3)]),
    ]);
    expect(r.frames).toHaveLength(2);
    expect(r.error.closeCode).toBe(1002);
  });
});

/** mulberry32: a small seeded generator, so that a failing case can be replayed. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('fuzz: 3000 random frame sequences in random splits come out equal', () => {
  const rand = rng(6455);
  const int = (n) => Math.floor(rand() * n);
  // Payloads are random stretches of one random pool: cheap to make, still all different.
  const pool = Buffer.allocUnsafe(1 << 18);
  for (let i = 0; i < pool.length; i++) pool[i] = int(256);
  const bytesOf = (n) => {
    const at = int(pool.length - n);
    return pool.subarray(at, at + n);
  };
  const size = () => {
    const r = rand();
    if (r < 0.7) return int(126);
    if (r < 0.95) return 126 + int(2000);
    if (r < 0.99) return 65530 + int(12);
    return 65536 + int(5000);
  };
  let frames = 0;
  for (let iter = 0; iter < 3000; iter++) {
    const expected = [];
    const wire = [];
    const add = (opcode, payload, opts = {}) => {
      wire.push(serverFrame(opcode, payload, opts));
      expected.push({ fin: opts.fin !== false, rsv1: opts.rsv1 === true, opcode, payload });
    };
    const control = () => add([8, 9, 10][int(3)], bytesOf(int(126)));
    const messages = 1 + int(4);
    for (let m = 0; m < messages; m++) {
      if (rand() < 0.3) control();
      const fragments = rand() < 0.3 ? 2 + int(3) : 1;
      for (let f = 0; f < fragments; f++) {
        add(f === 0 ? 1 + int(2) : 0, bytesOf(size()), {
          fin: f === fragments - 1,
          rsv1: f === 0 && rand() < 0.3,
        });
        if (f < fragments - 1 && rand() < 0.3) control();
      }
    }
    const all = Buffer.concat(wire);
    const got = [];
    const parser = new FrameParser({ perMessageDeflate: true, onFrame: (f) => got.push(f) });
    for (let at = 0; at < all.length;) {
      const step = rand() < 0.5 ? 1 + int(8) : 1 + int(all.length);
      parser.push(all.subarray(at, at + step));
      at += step;
    }
    const same =
      got.length === expected.length &&
      got.every((f, i) => {
        const e = expected[i];
        return f.fin === e.fin && f.rsv1 === e.rsv1 && f.opcode === e.opcode && f.payload.equals(e.payload);
      });
    if (!same) throw new Error(`fuzz iteration ${iter} differs`);
    frames += got.length;
  }
  expect(frames).toBeGreaterThan(6000);
});

describe('encodeFrame', () => {
  test('encodeFrameHeader + a payload masked with its last 4 bytes = the same frame (what the native writeMasked does)', () => {
    for (const n of [0, 125, 126, 4096, 65536, 70001]) {
      const payload = Buffer.alloc(n);
      for (let i = 0; i < n; i++) payload[i] = (i * 13 + 5) & 0xff;
      const header = encodeFrameHeader(2, n, { rsv1: true, fin: false });
      const key = header.subarray(header.length - 4);
      const masked = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
      const f = decodeClientFrame(Buffer.concat([header, masked]));
      expect(f.payload.equals(payload)).toBe(true);
      expect([f.fin, f.rsv1, f.opcode]).toEqual([false, true, 2]);
      expect(header.length).toBe(n < 126 ? 6 : n < 65536 ? 8 : 14);
    }
  });

  test('masks every payload, lengths at the 125/126/65535/65536 boundaries', () => {
    for (const n of [0, 1, 3, 4, 5, 31, 32, 33, 125, 126, 127, 1000, 65535, 65536, 100001]) {
      const payload = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) payload[i] = (i * 31 + 7) & 0xff;
      const copy = Buffer.from(payload);
      const frame = encodeFrame(2, payload);
      const f = decodeClientFrame(frame);
      expect(f.payload.equals(copy)).toBe(true);
      expect(payload.equals(copy)).toBe(true); // the caller's bytes are untouched
      expect(f.lenForm).toBe(n < 126 ? n : n < 65536 ? 126 : 127);
      expect(frame.length).toBe(n + (n < 126 ? 6 : n < 65536 ? 8 : 14));
      expect([f.fin, f.rsv1, f.opcode]).toEqual([true, false, 2]);
    }
  });

  test('payloads at any alignment of their buffer', () => {
    const backing = Buffer.alloc(300);
    for (let i = 0; i < backing.length; i++) backing[i] = i & 0xff;
    for (let off = 0; off < 8; off++) {
      const payload = backing.subarray(off, off + 200 + off);
      expect(decodeClientFrame(encodeFrame(1, payload)).payload.equals(payload)).toBe(true);
    }
  });

  test('fin and rsv1 bits, opcodes', () => {
    const f = decodeClientFrame(encodeFrame(1, Buffer.from('a'), { fin: false, rsv1: true }));
    expect([f.fin, f.rsv1, f.opcode]).toEqual([false, true, 1]);
    const c = decodeClientFrame(encodeFrame(0, Buffer.from('b')));
    expect([c.fin, c.rsv1, c.opcode]).toEqual([true, false, 0]);
    expect(decodeClientFrame(encodeFrame(9, Buffer.alloc(0))).opcode).toBe(9);
  });

  test('a fresh masking key for each frame', () => {
    const keys = new Set();
    for (let i = 0; i < 5000; i++)
      keys.add(decodeClientFrame(encodeFrame(1, Buffer.from('x'))).mask.toString('hex'));
    // 4-byte random keys: collisions among 5000 are possible but a handful at most.
    expect(keys.size).toBeGreaterThan(4990);
  });
});

describe('close payloads', () => {
  test('valid codes', () => {
    for (const c of [
      1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999,
    ])
      expect(isValidCloseCode(c)).toBe(true);
    for (const c of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 1000.5, NaN])
      expect(isValidCloseCode(c)).toBe(false);
  });

  test('round trip, empty, 1-byte, bad code, bad UTF-8', () => {
    expect(parseClosePayload(closePayload(4001, 'ciao ✓'))).toEqual({ code: 4001, reason: 'ciao ✓' });
    expect(parseClosePayload(Buffer.alloc(0))).toEqual({ code: 1005, reason: '' });
    expect(() => parseClosePayload(Buffer.from([3]))).toThrow(expect.objectContaining({ closeCode: 1002 }));
    expect(() => parseClosePayload(closePayload(1005, ''))).toThrow(
      expect.objectContaining({ closeCode: 1002 }),
    );
    expect(() => parseClosePayload(closePayload(999, ''))).toThrow(
      expect.objectContaining({ closeCode: 1002 }),
    );
    expect(() =>
      parseClosePayload(Buffer.concat([closePayload(1000, ''), Buffer.from([0xc3, 0x28])])),
    ).toThrow(expect.objectContaining({ closeCode: 1007 }));
  });
});
