'use strict';
// Unit tests of permessage-deflate (lib/ws-protocol/deflate.ts): round trips against node's zlib playing the
// server (context takeover on and off, window bits), the 00 00 ff ff tail, a decompression bomb,
// ordering, close(), and the negotiation rules of RFC 7692 §7.1.
const zlib = require('node:zlib');
const { PerMessageDeflate, deflateOffer, parseDeflateResponse } = require('../../dist/ws-protocol/deflate');
const { CycleTLSError } = require('../../dist/errors');

const TAIL = Buffer.from([0, 0, 0xff, 0xff]);
const SYNC = { finishFlush: zlib.constants.Z_SYNC_FLUSH };

const params = (over = {}) => ({
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  ...over,
});

/** Text that compresses, with repeats further back than 256 bytes (so small windows matter). */
function sample(seed, n = 3000) {
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
  let out = '';
  let x = seed;
  while (out.length < n) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out += `${words[x % words.length]}${x % 97} `;
  }
  return Buffer.from(out.slice(0, n));
}

/** The server's side of compression: one deflate-raw stream, sync-flushed per message, tail stripped. */
function serverDeflater({ windowBits = 15, noContextTakeover = false } = {}) {
  const stream = zlib.createDeflateRaw({ windowBits });
  return (message) =>
    new Promise((resolve) => {
      const out = [];
      const onData = (c) => out.push(c);
      stream.on('data', onData);
      stream.write(message);
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        stream.off('data', onData);
        if (noContextTakeover) stream.reset();
        const all = Buffer.concat(out);
        resolve(all.subarray(0, all.length - 4));
      });
    });
}

describe('compress (client → server)', () => {
  test('context takeover: the messages form one deflate stream the server inflates in sequence', async () => {
    const pmd = new PerMessageDeflate(params());
    const inputs = [sample(1), sample(1), sample(2, 50), Buffer.alloc(0), sample(3, 70000)];
    const out = [];
    for (const m of inputs) out.push(await pmd.compress(m));
    // The same message again compresses to far less: it refers back into the previous one.
    expect(out[1].length).toBeLessThan(out[0].length / 4);
    for (const c of out) expect(c.subarray(-4).equals(TAIL)).toBe(false);
    const server = zlib.inflateRawSync(Buffer.concat(out.flatMap((c) => [c, TAIL])), SYNC);
    expect(server.equals(Buffer.concat(inputs))).toBe(true);
    pmd.close();
  });

  test('client_no_context_takeover: every message inflates on its own', async () => {
    const pmd = new PerMessageDeflate(params({ clientNoContextTakeover: true }));
    const a = await pmd.compress(sample(1));
    const b = await pmd.compress(sample(1));
    expect(b.equals(a)).toBe(true);
    expect(zlib.inflateRawSync(Buffer.concat([b, TAIL]), SYNC).equals(sample(1))).toBe(true);
    pmd.close();
  });

  test.each([8, 9, 10, 12, 15])(
    'client_max_window_bits=%i: the server inflates with that window',
    async (bits) => {
      const pmd = new PerMessageDeflate(params({ clientMaxWindowBits: bits }));
      const inputs = [sample(bits, 20000), sample(bits + 1, 20000)];
      const wire = [];
      for (const m of inputs) wire.push(await pmd.compress(m), TAIL);
      // 8 bits: we compress with zlib's 9 (it refuses 8); its distances still fit a 256-byte window.
      // A small output chunk makes zlib's inflate really keep to its window (else it reads back
      // through its output buffer and never notices a distance too far back).
      const server = zlib.inflateRawSync(Buffer.concat(wire), { ...SYNC, windowBits: bits, chunkSize: 64 });
      expect(server.equals(Buffer.concat(inputs))).toBe(true);
      pmd.close();
    },
  );

  test('the window check above is real: a 15-bit stream does not inflate with 8 bits', () => {
    const r = sample(5, 20000);
    expect(() => zlib.inflateRawSync(zlib.deflateRawSync(r), { windowBits: 8, chunkSize: 64 })).toThrow(
      /too far back/,
    );
  });

  test('an empty message is the single octet 0x00 (RFC 7692 §7.2.3.6)', async () => {
    const pmd = new PerMessageDeflate(params({ clientNoContextTakeover: true }));
    const c = await pmd.compress(Buffer.alloc(0));
    expect([...c]).toEqual([0]);
    expect(zlib.inflateRawSync(Buffer.concat([c, TAIL]), SYNC).length).toBe(0);
    pmd.close();
  });

  test('many calls at once complete in order', async () => {
    const pmd = new PerMessageDeflate(params());
    const inputs = Array.from({ length: 40 }, (_, i) => sample(i, 100 + i * 50));
    const out = await Promise.all(inputs.map((m) => pmd.compress(m)));
    const server = zlib.inflateRawSync(Buffer.concat(out.flatMap((c) => [c, TAIL])), SYNC);
    expect(server.equals(Buffer.concat(inputs))).toBe(true);
    pmd.close();
  });
});

describe('decompress (server → client)', () => {
  test.each([
    ['context takeover, 15 bits', { windowBits: 15 }, params()],
    ['server_no_context_takeover', { noContextTakeover: true }, params({ serverNoContextTakeover: true })],
    ['server_max_window_bits=9', { windowBits: 9 }, params({ serverMaxWindowBits: 9 })],
    ['server_max_window_bits=11', { windowBits: 11 }, params({ serverMaxWindowBits: 11 })],
  ])('%s', async (_name, server, negotiated) => {
    const deflate = serverDeflater(server);
    const pmd = new PerMessageDeflate(negotiated);
    for (const m of [sample(1), sample(1), Buffer.alloc(0), sample(9, 100000), Buffer.from('x')]) {
      const wire = await deflate(m);
      expect((await pmd.decompress(wire, Infinity)).equals(m)).toBe(true);
    }
    pmd.close();
  });

  test('calls at once complete in order', async () => {
    const deflate = serverDeflater();
    const inputs = Array.from({ length: 30 }, (_, i) => sample(i, 200 + i * 100));
    const wire = [];
    for (const m of inputs) wire.push(await deflate(m));
    const pmd = new PerMessageDeflate(params());
    const out = await Promise.all(wire.map((w) => pmd.decompress(w, Infinity)));
    out.forEach((o, i) => expect(o.equals(inputs[i])).toBe(true));
    pmd.close();
  });

  test('a message ending in a final block (BFINAL) is complete; the next starts a fresh context', async () => {
    const pmd = new PerMessageDeflate(params());
    expect((await pmd.decompress(zlib.deflateRawSync(Buffer.from('final block')), 100)).toString()).toBe(
      'final block',
    );
    const fresh = serverDeflater();
    expect((await pmd.decompress(await fresh(Buffer.from('after')), 100)).toString()).toBe('after');
    pmd.close();
  });

  test('the single octet 0x00 is an empty message', async () => {
    const pmd = new PerMessageDeflate(params());
    expect((await pmd.decompress(Buffer.from([0]), 10)).length).toBe(0);
    pmd.close();
  });

  test('a bomb (10 MiB of zeros) stops at maxBytes with 1009, without inflating it all', async () => {
    const bomb = zlib
      .deflateRawSync(Buffer.alloc(10 * 1024 * 1024), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
      .subarray(0, -4);
    expect(bomb.length).toBeLessThan(20 * 1024);
    // Counts what every inflate-raw stream produces (node's zlib exports cannot be spied on).
    let produced = 0;
    const proto = zlib.InflateRaw.prototype;
    const push = proto.push;
    proto.push = function countingPush(chunk, ...rest) {
      if (chunk) produced += chunk.length;
      return push.call(this, chunk, ...rest);
    };
    try {
      const pmd = new PerMessageDeflate(params());
      const limit = 1024 * 1024;
      await expect(pmd.decompress(bomb, limit)).rejects.toMatchObject({
        name: 'WsProtocolError',
        closeCode: 1009,
      });
      await new Promise((r) => setTimeout(r, 50)); // anything zlib still had in flight
      expect(produced).toBeGreaterThan(limit);
      expect(produced).toBeLessThanOrEqual(limit + 64 * 1024);
      // The instance goes on with a fresh context.
      expect((await pmd.decompress(zlib.deflateRawSync(Buffer.from('ok')), 10)).toString()).toBe('ok');
      pmd.close();
    } finally {
      delete proto.push;
    }
  });

  test('data that does not inflate is a 1007', async () => {
    const pmd = new PerMessageDeflate(params());
    await expect(pmd.decompress(Buffer.from('definitely not deflate'), 1000)).rejects.toMatchObject({
      closeCode: 1007,
    });
    pmd.close();
  });
});

test('close(): operations in flight and later reject; no unhandled rejection', async () => {
  const unhandled = [];
  const onUnhandled = (r) => unhandled.push(r);
  process.on('unhandledRejection', onUnhandled);
  try {
    const pmd = new PerMessageDeflate(params());
    const inFlight = [
      pmd.compress(sample(1, 200000)),
      pmd.compress(sample(2)),
      pmd.decompress(Buffer.from([0]), 10),
    ];
    pmd.close();
    pmd.close();
    for (const p of inFlight) await expect(p).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
    await expect(pmd.compress(Buffer.from('x'))).rejects.toBeInstanceOf(CycleTLSError);
    await expect(pmd.decompress(Buffer.from([0]), 10)).rejects.toBeInstanceOf(CycleTLSError);
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

describe('negotiation (RFC 7692 §7.1)', () => {
  test('the offers', () => {
    expect(deflateOffer(true)).toBe('permessage-deflate; client_max_window_bits');
    expect(deflateOffer(false)).toBe('permessage-deflate');
  });

  test.each([
    ['permessage-deflate', true, params()],
    [
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
      false,
      params({ serverNoContextTakeover: true, clientNoContextTakeover: true }),
    ],
    ['permessage-deflate; server_max_window_bits=10', false, params({ serverMaxWindowBits: 10 })],
    ['permessage-deflate; client_max_window_bits=8', true, params({ clientMaxWindowBits: 8 })],
    [
      'permessage-deflate;client_max_window_bits="12" ; server_max_window_bits=15',
      true,
      params({ clientMaxWindowBits: 12 }),
    ],
    [
      '  Permessage-Deflate ;  Server_No_Context_Takeover  ',
      false,
      params({ serverNoContextTakeover: true }),
    ],
    ['permessage-deflate, ', false, params()],
  ])('accepts %j', (value, offered, expected) => {
    expect(parseDeflateResponse(value, offered)).toEqual(expected);
  });

  test('no extension at all: compression declined', () => {
    expect(parseDeflateResponse('', true)).toBeUndefined();
    expect(parseDeflateResponse(' , ', true)).toBeUndefined();
  });

  test.each([
    ['x-webkit-deflate-frame', true, /not offered/],
    ['permessage-deflate, permessage-deflate', true, /more extensions/],
    ['permessage-deflate, foo', true, /more extensions/],
    ['permessage-deflate; foo', true, /unknown permessage-deflate parameter foo/],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', true, /given twice/],
    ['permessage-deflate; server_max_window_bits=10; server_max_window_bits=10', true, /given twice/],
    ['permessage-deflate; server_no_context_takeover=1', true, /takes no value/],
    ['permessage-deflate; server_max_window_bits', true, /8 to 15/],
    ['permessage-deflate; server_max_window_bits=7', true, /8 to 15/],
    ['permessage-deflate; server_max_window_bits=16', true, /8 to 15/],
    ['permessage-deflate; server_max_window_bits=08', true, /8 to 15/],
    ['permessage-deflate; server_max_window_bits=ten', true, /8 to 15/],
    ['permessage-deflate; client_max_window_bits', true, /8 to 15/],
    ['permessage-deflate; client_max_window_bits=10', false, /not offered/],
    ['permessage-deflate; server_max_window_bits="1 0"', true, /invalid parameter/],
    ['permessage-deflate; server_max_window_bits="10', true, /unterminated/],
    ['permessage deflate', true, /invalid extension name/],
  ])('rejects %j', (value, offered, message) => {
    let err;
    try {
      parseDeflateResponse(value, offered);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CycleTLSError);
    expect(err).toMatchObject({ code: 'ERR_PROTOCOL', stage: 'headers' });
    expect(err.message).toMatch(message);
  });
});
