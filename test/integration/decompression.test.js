'use strict';
// Content-Encoding from a real local server: gzip, deflate (zlib and raw), br and zstd decoded in the
// engine; `decompress: false` returns the bytes as sent; a decompression bomb stops at
// maxDecompressedBytes. Node 20 has no zstd encoder: zstd frames are built here from raw and RLE
// blocks (RFC 8878 §3.1.1.2), which every decoder must accept.
const zlib = require('node:zlib');
const initCycleTLS = require('../..');
const { startServer, patternBytes, uniquePort } = require('../helpers/servers');

/**
 * A zstd frame (no checksum; a 2^windowLog-byte window, 128 KiB by default) from blocks:
 * { raw: Buffer } or { rle: byte, size }.
 */
function zstdFrame(blocks, windowLog = 17) {
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (windowLog - 10) << 3])];
  blocks.forEach((b, i) => {
    const last = i === blocks.length - 1 ? 1 : 0;
    const type = b.raw ? 0 : 1;
    const size = b.raw ? b.raw.length : b.size;
    const header = last | (type << 1) | (size << 3);
    parts.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff]));
    parts.push(b.raw ? b.raw : Buffer.from([b.rle]));
  });
  return Buffer.concat(parts);
}

/** Raw blocks of at most 128 KiB. */
function zstdRaw(data) {
  const blocks = [];
  for (let off = 0; off < data.length; off += 128 * 1024)
    blocks.push({ raw: data.subarray(off, off + 128 * 1024) });
  return zstdFrame(blocks);
}

const payload = patternBytes(300 * 1024, 11);
const ENCODINGS = {
  gzip: () => zlib.gzipSync(payload),
  deflate: () => zlib.deflateSync(payload),
  'deflate (raw)': () => zlib.deflateRawSync(payload),
  br: () => zlib.brotliCompressSync(payload),
  zstd: () => zstdRaw(payload),
};
const HEADER = { gzip: 'gzip', deflate: 'deflate', 'deflate (raw)': 'deflate', br: 'br', zstd: 'zstd' };

let server;
let client;
let bomb;
beforeAll(async () => {
  // 2 GiB of zeros in 16 KiB of zstd RLE blocks, 256 MiB of zeros in ~256 KiB of gzip, 128 MiB of
  // zeros in a few bytes of br. Frames asking for a 16 MiB zstd window (RFC 9659 allows 8 MiB), and
  // 8 MiB.
  bomb = {
    zstd: zstdFrame(Array.from({ length: 16384 }, () => ({ rle: 0, size: 128 * 1024 }))),
    gzip: zlib.gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 }),
    br: zlib.brotliCompressSync(Buffer.alloc(128 * 1024 * 1024), {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 },
    }),
    'zstd-window-24': zstdFrame([{ raw: Buffer.from('hello') }], 24),
    'zstd-window-23': zstdFrame([{ raw: Buffer.from('hello') }], 23),
  };
  server = await startServer({
    handler: (req, res) => {
      const url = new URL(req.url, 'https://x');
      const name = url.searchParams.get('e');
      if (url.pathname === '/bomb') {
        res.writeHead(200, {
          'Content-Encoding': name.split('-')[0],
          'Content-Type': 'application/octet-stream',
        });
        res.end(bomb[name]);
        return;
      }
      res.writeHead(200, { 'Content-Encoding': HEADER[name], 'Content-Type': 'application/octet-stream' });
      res.end(ENCODINGS[name]());
    },
  });
  client = await initCycleTLS({ port: uniquePort(), rejectOnError: true });
});
afterAll(async () => {
  await client.exit();
  await server.close();
});

test.each(Object.keys(ENCODINGS))('%s is decoded byte for byte, whole and streamed', async (name) => {
  const url = server.url(`/x?e=${encodeURIComponent(name)}`);
  const r = await client.get(url, { responseType: 'arraybuffer' });
  expect(Buffer.from(r.data).equals(payload)).toBe(true);
  const s = await client.get(url, { responseType: 'stream' });
  const chunks = [];
  for await (const c of s.data) chunks.push(c);
  expect(Buffer.concat(chunks).equals(payload)).toBe(true);
});

test.each(Object.keys(ENCODINGS))('%s with decompress: false comes back exactly as sent', async (name) => {
  const r = await client.get(server.url(`/x?e=${encodeURIComponent(name)}`), {
    responseType: 'arraybuffer',
    decompress: false,
  });
  expect(Buffer.from(r.data).equals(ENCODINGS[name]())).toBe(true);
  expect(r.headers['Content-Encoding']).toEqual([HEADER[name]]);
});

test.each(['zstd', 'gzip', 'br'])(
  'a %s bomb stops at maxDecompressedBytes with ERR_PROTOCOL',
  async (name) => {
    const err = await client
      .get(server.url(`/bomb?e=${name}`), {
        responseType: 'arraybuffer',
        maxDecompressedBytes: 8 * 1024 * 1024,
      })
      .then(
        () => null,
        (e) => e,
      );
    expect(err).toMatchObject({ code: 'ERR_PROTOCOL', stage: 'body' });
    expect(err.message).toMatch(/exceeds/);
    // The engine is fine afterwards.
    const r = await client.get(server.url('/x?e=gzip'), { responseType: 'arraybuffer' });
    expect(Buffer.from(r.data).equals(payload)).toBe(true);
  },
);

test('maxDecompressedBytes is validated', async () => {
  await expect(client.get(server.url('/x?e=gzip'), { maxDecompressedBytes: 0 })).rejects.toMatchObject({
    code: 'ERR_INVALID_OPTION',
  });
  await expect(client.get(server.url('/x?e=gzip'), { maxDecompressedBytes: '1' })).rejects.toMatchObject({
    code: 'ERR_INVALID_OPTION',
  });
});

test('a zstd frame asking for a window above 8 MiB is ERR_PROTOCOL (RFC 9659); 8 MiB is fine', async () => {
  const ok = await client.get(server.url('/bomb?e=zstd-window-23'), { responseType: 'text' });
  expect(ok.data).toBe('hello');
  const err = await client.get(server.url('/bomb?e=zstd-window-24'), { responseType: 'text' }).then(
    () => null,
    (e) => e,
  );
  expect(err).toMatchObject({ code: 'ERR_PROTOCOL', stage: 'body', message: expect.stringMatching(/zstd/) });
});
