'use strict';
// HPACK decoder against RFC 7541 Appendix C (every example: integers, single representations, three requests and
// three responses with and without Huffman coding, including dynamic-table contents and sizes after each block).
const {
  HpackDecoder,
  HpackError,
  huffmanDecode,
  decodeInteger,
  HUFFMAN_CODES,
  STATIC_TABLE,
} = require('../../dist/echo/hpack');

const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** Dynamic table as [name, value] newest first, plus its size. */
const tableOf = (d) => ({ entries: d.dynamicTable.map((e) => [e.name, e.value]), size: d.tableSize });

describe('C.1 integer representation', () => {
  test('C.1.1 10 with a 5-bit prefix', () => {
    expect(decodeInteger(Buffer.from([0b11101010]), 0, 5)).toEqual({ value: 10, next: 1 });
  });
  test('C.1.2 1337 with a 5-bit prefix', () => {
    expect(decodeInteger(Buffer.from([0b00011111, 0b10011010, 0b00001010]), 0, 5)).toEqual({
      value: 1337,
      next: 3,
    });
  });
  test('C.1.3 42 starting at an octet boundary (8-bit prefix)', () => {
    expect(decodeInteger(Buffer.from([0b00101010]), 0, 8)).toEqual({ value: 42, next: 1 });
  });
  test('truncated and oversized integers are errors', () => {
    expect(() => decodeInteger(Buffer.from([0x1f, 0x80]), 0, 5)).toThrow(HpackError);
    expect(() => decodeInteger(Buffer.from([0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), 0, 5)).toThrow(
      HpackError,
    );
  });
});

describe('C.2 header field representations', () => {
  test('C.2.1 literal with indexing', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'))).toEqual([
      ['custom-key', 'custom-header'],
    ]);
    expect(tableOf(d)).toEqual({ entries: [['custom-key', 'custom-header']], size: 55 });
  });
  test('C.2.2 literal without indexing', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('040c 2f73 616d 706c 652f 7061 7468'))).toEqual([[':path', '/sample/path']]);
    expect(tableOf(d)).toEqual({ entries: [], size: 0 });
  });
  test('C.2.3 literal never indexed', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'))).toEqual([['password', 'secret']]);
    expect(tableOf(d)).toEqual({ entries: [], size: 0 });
  });
  test('C.2.4 indexed', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('82'))).toEqual([[':method', 'GET']]);
    expect(tableOf(d)).toEqual({ entries: [], size: 0 });
  });
});

const REQUESTS = [
  {
    headers: [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ],
    table: { entries: [[':authority', 'www.example.com']], size: 57 },
    plain: '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
    huffman: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
  },
  {
    headers: [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ],
    table: {
      entries: [
        ['cache-control', 'no-cache'],
        [':authority', 'www.example.com'],
      ],
      size: 110,
    },
    plain: '8286 84be 5808 6e6f 2d63 6163 6865',
    huffman: '8286 84be 5886 a8eb 1064 9cbf',
  },
  {
    headers: [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ],
    table: {
      entries: [
        ['custom-key', 'custom-value'],
        ['cache-control', 'no-cache'],
        [':authority', 'www.example.com'],
      ],
      size: 164,
    },
    plain: '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    huffman: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
  },
];

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOC = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RESPONSES = [
  {
    headers: [
      [':status', '302'],
      ['cache-control', 'private'],
      ['date', DATE1],
      ['location', LOC],
    ],
    table: {
      entries: [
        ['location', LOC],
        ['date', DATE1],
        ['cache-control', 'private'],
        [':status', '302'],
      ],
      size: 222,
    },
    plain:
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
    huffman:
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
  },
  {
    headers: [
      [':status', '307'],
      ['cache-control', 'private'],
      ['date', DATE1],
      ['location', LOC],
    ],
    table: {
      entries: [
        [':status', '307'],
        ['location', LOC],
        ['date', DATE1],
        ['cache-control', 'private'],
      ],
      size: 222,
    },
    plain: '4803 3330 37c1 c0bf',
    huffman: '4883 640e ffc1 c0bf',
  },
  {
    headers: [
      [':status', '200'],
      ['cache-control', 'private'],
      ['date', DATE2],
      ['location', LOC],
      ['content-encoding', 'gzip'],
      ['set-cookie', COOKIE],
    ],
    table: {
      entries: [
        ['set-cookie', COOKIE],
        ['content-encoding', 'gzip'],
        ['date', DATE2],
      ],
      size: 215,
    },
    plain:
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
    huffman:
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
  },
];

describe.each([
  ['C.3 requests without Huffman coding', REQUESTS, 'plain', 4096],
  ['C.4 requests with Huffman coding', REQUESTS, 'huffman', 4096],
  ['C.5 responses without Huffman coding (table size 256)', RESPONSES, 'plain', 256],
  ['C.6 responses with Huffman coding (table size 256)', RESPONSES, 'huffman', 256],
])('%s', (_name, blocks, kind, tableSize) => {
  test('each block decodes in order, and the dynamic table matches after each one', () => {
    const d = new HpackDecoder(tableSize);
    blocks.forEach((b, i) => {
      expect({ block: i + 1, headers: d.decode(hex(b[kind])) }).toEqual({ block: i + 1, headers: b.headers });
      expect({ block: i + 1, table: tableOf(d) }).toEqual({ block: i + 1, table: b.table });
    });
  });
});

describe('Huffman code (Appendix B)', () => {
  test('the canonical code rebuilt from the code lengths has the RFC codes for sample symbols', () => {
    // [symbol, code (LSB-aligned), bits] rows of Appendix B
    const rows = [
      [0, 0x1ff8, 13],
      [1, 0x7fffd8, 23],
      [9, 0xffffea, 24],
      [10, 0x3ffffffc, 30],
      [32, 0x14, 6],
      [47, 0x18, 6],
      [48, 0x0, 5],
      [97, 0x3, 5],
      [116, 0x9, 5],
      [60, 0x7ffc, 15],
      [92, 0x7fff0, 19],
      [128, 0xfffe6, 20],
      [255, 0x3ffffee, 26],
      [256, 0x3fffffff, 30],
    ];
    for (const [sym, code, bits] of rows)
      expect({ sym, code: HUFFMAN_CODES[sym][0], bits: HUFFMAN_CODES[sym][1] }).toEqual({ sym, code, bits });
    expect(HUFFMAN_CODES.length).toBe(257);
    // a complete prefix code: the Kraft sum is exactly 1
    expect(HUFFMAN_CODES.reduce((acc, [, bits]) => acc + 2 ** -bits, 0)).toBeCloseTo(1, 12);
  });
  test('every byte value round-trips through an encoder built from the table', () => {
    const encode = (bytes) => {
      let bits = '';
      for (const b of bytes) bits += HUFFMAN_CODES[b][0].toString(2).padStart(HUFFMAN_CODES[b][1], '0');
      while (bits.length % 8) bits += '1';
      return Buffer.from(bits.match(/.{8}/g).map((x) => parseInt(x, 2)));
    };
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(huffmanDecode(encode(all)).equals(all)).toBe(true);
    expect(huffmanDecode(encode(Buffer.from('www.example.com'))).toString()).toBe('www.example.com');
    expect(huffmanDecode(Buffer.alloc(0)).length).toBe(0);
  });
  test('padding longer than 7 bits, padding that is not EOS, and an encoded EOS are errors', () => {
    expect(() => huffmanDecode(Buffer.from([0xff]))).toThrow(HpackError); // 8 bits of padding
    expect(() => huffmanDecode(Buffer.from([0x00]))).toThrow(HpackError); // '0' + '0' + padding '000' isn't EOS prefix
    expect(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(HpackError); // EOS
  });
});

describe('decoder errors and limits', () => {
  test('index 0 and indices past the tables are errors', () => {
    expect(() => new HpackDecoder().decode(Buffer.from([0x80]))).toThrow(HpackError);
    expect(() => new HpackDecoder().decode(Buffer.from([0xbe]))).toThrow(/not in the table/);
  });
  test('dynamic table size updates: applied, bounded by the protocol limit, only at the start of a block', () => {
    const d = new HpackDecoder(4096);
    d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    expect(d.tableSize).toBe(55);
    d.decode(Buffer.from([0x20])); // size 0 evicts everything
    expect(d.tableSize).toBe(0);
    expect(d.maxTableSize).toBe(0);
    d.decode(Buffer.from([0x3f, 0xe1, 0x1f])); // 4096 is allowed
    expect(d.maxTableSize).toBe(4096);
    expect(() => d.decode(Buffer.from([0x3f, 0xe2, 0x1f]))).toThrow(/above the limit/); // 4097
    expect(() => d.decode(Buffer.from([0x82, 0x20]))).toThrow(/after a header field/);
  });
  test('an entry larger than the table empties it', () => {
    const d = new HpackDecoder(60);
    d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')); // 55 bytes
    expect(d.tableSize).toBe(55);
    d.decode(Buffer.concat([Buffer.from([0x40, 0x01, 0x61, 0x1e]), Buffer.alloc(30, 0x62)])); // 1 + 30 + 32 = 63 > 60
    expect(tableOf(d)).toEqual({ entries: [], size: 0 });
  });
  test('the static table has the 61 entries of Appendix A', () => {
    expect(STATIC_TABLE.length).toBe(61);
    expect(STATIC_TABLE[0]).toEqual([':authority', '']);
    expect(STATIC_TABLE[15]).toEqual(['accept-encoding', 'gzip, deflate']);
    expect(STATIC_TABLE[60]).toEqual(['www-authenticate', '']);
  });
});
