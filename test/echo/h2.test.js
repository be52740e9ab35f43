'use strict';
// HTTP/2 first-flight parser and Akamai fingerprint. The golden captures store each client's frames decoded; we write
// them back as bytes (headers as literal HPACK) and check that parsing gives the stored Akamai string, hash and frames.
const { createHash } = require('node:crypto');

const { H2FrameParser, akamaiString, parseH2FirstFlight } = require('../../dist/echo/h2');
const {
  loadGolden,
  labelOf,
  PREFACE,
  frame,
  hpackLiteral,
  hpackInt,
  splitHeaderLines,
  encodeSentFrames,
} = require('./helpers');

const h2Records = loadGolden().filter((r) => r.http2 && r.http2.sent_frames);

/** The golden frames without HEADERS lengths (our re-encoding uses another HPACK representation). */
function comparable(frames) {
  return frames.map((f) => {
    const out = { ...f };
    if (f.frame_type === 'HEADERS') delete out.length;
    return out;
  });
}

test('the golden file has HTTP/2 captures of Chromium, Firefox, curl and Node', () => {
  const akamai = new Set(h2Records.map((r) => r.http2.akamai_fingerprint));
  expect(akamai).toEqual(
    new Set([
      '1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p',
      '1:65536;2:0;4:131072;5:16384|12517377|0|m,p,a,s',
      '3:100;4:33554432;2:0|33488897|0|m,p,s,a',
      '|00|0|p,m,a,s',
    ]),
  );
});

describe.each(h2Records.map((r) => [labelOf(r), r]))('golden %s', (_label, rec) => {
  const bytes = encodeSentFrames(rec.http2.sent_frames);

  test('Akamai fingerprint, hash, stream id and frames equal the stored ones', () => {
    const parser = new H2FrameParser();
    parser.push(bytes);
    const fp = parser.fingerprint(rec.http2.stream_id);
    expect(fp.observer_error).toBeNull();
    expect(fp.akamai_fingerprint).toBe(rec.http2.akamai_fingerprint);
    expect(fp.akamai_fingerprint_hash).toBe(rec.http2.akamai_fingerprint_hash);
    expect(fp.akamai_fingerprint_hash).toBe(
      createHash('md5').update(rec.http2.akamai_fingerprint).digest('hex'),
    );
    expect(fp.stream_id).toBe(rec.http2.stream_id);
    expect(comparable(fp.sent_frames)).toEqual(comparable(rec.http2.sent_frames));
    const headersFrame = rec.http2.sent_frames.find((f) => f.frame_type === 'HEADERS');
    expect(fp.headers_frame).toEqual({
      stream_id: headersFrame.stream_id,
      flags: headersFrame.flags,
      priority: headersFrame.priority || null,
    });
    const own = rec.http2.sent_frames.find(
      (f) => f.frame_type === 'HEADERS' && f.stream_id === rec.http2.stream_id,
    );
    expect(fp.request_headers_frame).toEqual({
      stream_id: own.stream_id,
      flags: own.flags,
      priority: own.priority || null,
    });
    // the Akamai pseudo-header order is the connection's first HEADERS'
    const firstPseudo = splitHeaderLines(headersFrame.headers)
      .map(([n]) => n)
      .filter((n) => n.startsWith(':'));
    expect(fp.pseudo_header_order).toEqual(firstPseudo);
    expect(parseH2FirstFlight(bytes).akamai_fingerprint).toBe(rec.http2.akamai_fingerprint);
  });

  test('request headers come back in wire order, and feeding one byte at a time changes nothing', () => {
    const whole = new H2FrameParser();
    whole.push(bytes);
    const split = new H2FrameParser();
    for (let i = 0; i < bytes.length; i++) split.push(bytes.subarray(i, i + 1));
    expect(split.fingerprint()).toEqual(whole.fingerprint());
    expect(whole.headersOf(rec.http2.stream_id)).toEqual(splitHeaderLines(rec.headers));
    expect(whole.takeHeaders(rec.http2.stream_id)).toEqual(splitHeaderLines(rec.headers));
    expect(whole.headersOf(rec.http2.stream_id)).toBeUndefined();
  });
});

describe('frames the captures do not have', () => {
  const settings = (pairs) =>
    frame(
      4,
      0,
      0,
      Buffer.concat(
        pairs.map(([id, v]) => {
          const b = Buffer.alloc(6);
          b.writeUInt16BE(id, 0);
          b.writeUInt32BE(v, 2);
          return b;
        }),
      ),
    );
  const windowUpdate = (stream, inc) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(inc, 0);
    return frame(8, 0, stream, b);
  };
  const priority = (stream, exclusive, dep, weight) => {
    const b = Buffer.alloc(5);
    b.writeUInt32BE(((exclusive ? 0x80000000 : 0) | dep) >>> 0, 0);
    b[4] = weight - 1;
    return frame(2, 0, stream, b);
  };
  const REQ = [
    [':method', 'GET'],
    [':path', '/'],
    [':authority', 'a.test'],
    [':scheme', 'https'],
    ['user-agent', 'x'],
  ];

  test('PRIORITY frames before the first HEADERS (old Firefox style) are listed as stream:exclusive:depends:weight', () => {
    const bytes = Buffer.concat([
      PREFACE,
      settings([
        [1, 65536],
        [4, 131072],
        [5, 16384],
      ]),
      windowUpdate(0, 12517377),
      priority(3, 0, 0, 201),
      priority(5, 0, 0, 101),
      priority(7, 0, 0, 1),
      priority(9, 0, 7, 1),
      priority(11, 0, 3, 1),
      frame(1, 0x25, 13, Buffer.concat([Buffer.from([0, 0, 0, 11, 41]), hpackLiteral(REQ)])),
      priority(15, 1, 13, 42), // after HEADERS: not part of the fingerprint
    ]);
    const fp = parseH2FirstFlight(bytes);
    expect(fp.akamai_fingerprint).toBe(
      '1:65536;4:131072;5:16384|12517377|3:0:0:201,5:0:0:101,7:0:0:1,9:0:7:1,11:0:3:1|m,p,a,s',
    );
    expect(fp.priority_frames).toHaveLength(5);
    expect(fp.headers_frame).toEqual({
      stream_id: 13,
      flags: ['END_STREAM', 'PRIORITY', 'END_HEADERS'],
      priority: { exclusive: 0, depends_on: 11, weight: 42 },
    });
  });

  test('a padded HEADERS with PRIORITY, continued in CONTINUATION frames, decodes as one block', () => {
    const block = hpackLiteral(REQ);
    const first = Buffer.concat([
      Buffer.from([3]),
      Buffer.from([0x80, 0, 0, 0, 255]),
      block.subarray(0, 10),
      Buffer.alloc(3),
    ]);
    const bytes = Buffer.concat([
      PREFACE,
      settings([[2, 0]]),
      frame(1, 0x08 | 0x20 | 0x01, 1, first),
      frame(9, 0, 1, block.subarray(10, 20)),
      frame(9, 0x4, 1, block.subarray(20)),
      windowUpdate(1, 1000),
      windowUpdate(0, 5), // after HEADERS: not part of the fingerprint
    ]);
    const p = new H2FrameParser();
    p.push(bytes);
    const fp = p.fingerprint();
    expect(fp.observer_error).toBeNull();
    expect(fp.akamai_fingerprint).toBe('2:0|00|0|m,p,a,s');
    expect(fp.headers_frame.priority).toEqual({ exclusive: 1, depends_on: 0, weight: 256 });
    expect(fp.headers_frame.flags).toEqual(['END_STREAM', 'PADDED', 'PRIORITY']);
    expect(p.headersOf(1)).toEqual(REQ);
    expect(fp.stream_window_updates).toEqual([{ stream_id: 1, increment: 1000 }]);
    expect(fp.window_update).toBeNull();
    expect(fp.sent_frames.map((f) => f.frame_type)).toEqual([
      'SETTINGS',
      'HEADERS',
      'CONTINUATION',
      'CONTINUATION',
      'WINDOW_UPDATE',
      'WINDOW_UPDATE',
    ]);
    expect(fp.sent_frames[1].headers).toEqual(REQ.map(([n, v]) => `${n}: ${v}`));
  });

  test('later requests on the connection share the HPACK context (dynamic table entries)', () => {
    // literal with incremental indexing for user-agent, then indexed (62) on the next stream
    const ua = Buffer.concat([
      Buffer.from([0x40]),
      hpackInt(10, 7, 0),
      Buffer.from('user-agent'),
      hpackInt(5, 7, 0),
      Buffer.from('agent'),
    ]);
    const bytes = Buffer.concat([
      PREFACE,
      settings([]),
      frame(1, 0x5, 1, Buffer.concat([Buffer.from([0x82, 0x87, 0x84]), ua])),
      frame(1, 0x5, 3, Buffer.from([0x82, 0x87, 0x84, 0xbe])),
    ]);
    const p = new H2FrameParser();
    p.push(bytes);
    expect(p.headersOf(3)).toEqual([
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/'],
      ['user-agent', 'agent'],
    ]);
    expect(p.fingerprint().akamai_fingerprint).toBe('|00|0|m,s,p');
  });

  test('DATA payloads are skipped without being buffered, in any chunking', () => {
    const big = Buffer.alloc(200000, 0x61);
    const data = [];
    for (let off = 0; off < big.length; off += 16384)
      data.push(frame(0, off + 16384 >= big.length ? 1 : 0, 1, big.subarray(off, off + 16384)));
    const bytes = Buffer.concat([
      PREFACE,
      settings([[4, 65535]]),
      frame(1, 0x4, 1, hpackLiteral(REQ)),
      ...data,
      frame(1, 0x5, 3, hpackLiteral(REQ)),
    ]);
    const p = new H2FrameParser({ maxRecordedFrames: 100 });
    for (let off = 0; off < bytes.length; off += 1000) p.push(bytes.subarray(off, off + 1000));
    expect(p.error).toBeNull();
    expect(p.headersOf(3)).toEqual(REQ);
    expect(p.frameCount).toBe(3 + data.length);
    expect(
      p.frames
        .filter((f) => f.frame_type === 'DATA')
        .map((f) => f.length)
        .reduce((a, b) => a + b, 0),
    ).toBe(big.length);
  });

  test('the number of recorded frames is bounded', () => {
    const pings = Array.from({ length: 50 }, () => frame(6, 0, 0, Buffer.alloc(8)));
    const p = new H2FrameParser({ maxRecordedFrames: 10 });
    p.push(Buffer.concat([PREFACE, settings([]), ...pings]));
    expect(p.frames).toHaveLength(10);
    expect(p.frameCount).toBe(51);
  });

  test('no preface, broken frames and bad HPACK stop observation with an error, never a throw', () => {
    expect(parseH2FirstFlight(Buffer.from('GET / HTTP/1.1\r\n\r\n')).observer_error).toMatch(/preface/);
    expect(
      parseH2FirstFlight(Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(5))])).observer_error,
    ).toMatch(/SETTINGS payload/);
    expect(
      parseH2FirstFlight(Buffer.concat([PREFACE, frame(1, 0x4, 1, Buffer.from([0x80]))])).observer_error,
    ).toMatch(/index 0/);
    expect(
      parseH2FirstFlight(Buffer.concat([PREFACE, frame(9, 0x4, 1, Buffer.from([0x82]))])).observer_error,
    ).toMatch(/CONTINUATION/);
    const p = new H2FrameParser();
    p.push(Buffer.concat([PREFACE, frame(1, 0, 1, hpackLiteral(REQ)), settings([])]));
    expect(p.error).toMatch(/inside a header block/);
    p.push(Buffer.from([1, 2, 3])); // ignored after a stop
    expect(p.error).toMatch(/inside a header block/);
  });

  test('a partial preface is not an error yet', () => {
    const p = new H2FrameParser();
    p.push(PREFACE.subarray(0, 10));
    expect(p.error).toBeNull();
    p.push(Buffer.concat([PREFACE.subarray(10), settings([[3, 100]])]));
    expect(p.fingerprint().akamai_fingerprint).toBe('3:100|00|0|');
  });
});

describe('akamaiString', () => {
  test('the published strings of other clients (peers.md §3) are reproduced from their parts', () => {
    expect(
      akamaiString(
        [
          { id: 2, value: 0 },
          { id: 3, value: 100 },
          { id: 4, value: 2097152 },
          { id: 9, value: 1 },
        ],
        10420225,
        [],
        [':method', ':scheme', ':authority', ':path'],
      ),
    ).toBe('2:0;3:100;4:2097152;9:1|10420225|0|m,s,a,p');
    expect(
      akamaiString(
        [
          { id: 2, value: 0 },
          { id: 4, value: 262144 },
        ],
        458753,
        [],
        [':authority', ':method', ':path', ':scheme'],
      ),
    ).toBe('2:0;4:262144|458753|0|a,m,p,s');
  });
  test('pseudo-headers other than the four are left out of the string', () => {
    expect(akamaiString([], null, [], [':method', ':protocol', ':scheme', ':authority', ':path'])).toBe(
      '|00|0|m,s,a,p',
    );
  });
});
