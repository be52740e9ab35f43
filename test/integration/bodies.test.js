'use strict';
// Request bodies end to end: multipart (WHATWG FormData with text, Blob and File parts; form-data
// package shaped objects), Blob, Node Readable and async-iterable bodies, against the local /echo
// server, which returns the raw bytes it received. Multipart is parsed here, byte for byte.
const { Readable } = require('node:stream');
const { Blob } = require('node:buffer');
const initCycleTLS = require('../..');
const http2 = require('node:http2');
const { startServer, patternBytes, uniquePort, certPair, sha256 } = require('../helpers/servers');

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

function header(r, name) {
  const raw = r.data.rawHeaders;
  const out = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === name) out.push(raw[i + 1]);
  return out.length === 1 ? out[0] : out.length ? out : undefined;
}

const received = (r) => Buffer.from(r.data.body, 'base64');

/** A small multipart/form-data parser: [{ name, filename, contentType, data: Buffer }]. */
function parseMultipart(body, contentType) {
  const m = /^multipart\/form-data;\s*boundary=(.+)$/i.exec(contentType);
  if (!m) throw new Error(`not multipart: ${contentType}`);
  const delim = Buffer.from(`--${m[1]}`);
  const parts = [];
  let pos = body.indexOf(delim);
  if (pos !== 0) throw new Error('body does not start with the boundary');
  for (;;) {
    pos += delim.length;
    if (body.subarray(pos, pos + 2).toString() === '--') {
      if (body.subarray(pos + 2).toString() !== '\r\n') throw new Error('junk after the closing boundary');
      return parts;
    }
    if (body.subarray(pos, pos + 2).toString() !== '\r\n') throw new Error('no CRLF after the boundary');
    pos += 2;
    const headEnd = body.indexOf('\r\n\r\n', pos);
    const head = body.subarray(pos, headEnd).toString('utf8');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd + 4);
    if (next < 0) throw new Error('unterminated part');
    const part = { data: body.subarray(headEnd + 4, next) };
    for (const line of head.split('\r\n')) {
      const [k, ...rest] = line.split(':');
      const v = rest.join(':').trim();
      if (k.toLowerCase() === 'content-disposition') {
        part.name = /\bname="([^"]*)"/.exec(v)?.[1];
        part.filename = /\bfilename="([^"]*)"/.exec(v)?.[1];
      } else if (k.toLowerCase() === 'content-type') {
        part.contentType = v;
      }
    }
    parts.push(part);
    pos = next + 2;
  }
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('multipart/form-data', () => {
  test('FormData: a file part with all 256 byte values arrives byte-exact, with its file name and type', async () => {
    const fd = new FormData();
    fd.append('title', 'héllo wörld');
    fd.append('file', new Blob([ALL_BYTES], { type: 'application/octet-stream' }), 'all-bytes.bin');
    const r = await client.post(server.url('/echo'), { body: fd });
    expect(r.status).toBe(200);
    const body = received(r);
    expect(header(r, 'content-length')).toBe(String(body.length));
    const ct = header(r, 'content-type');
    expect(ct).toMatch(/^multipart\/form-data; boundary=----WebKitFormBoundary[A-Za-z0-9]{16}$/);
    const parts = parseMultipart(body, ct);
    expect(parts.map((p) => [p.name, p.filename, p.contentType])).toEqual([
      ['title', undefined, undefined],
      ['file', 'all-bytes.bin', 'application/octet-stream'],
    ]);
    expect(parts[0].data.toString('utf8')).toBe('héllo wörld');
    expect(parts[1].data.equals(ALL_BYTES)).toBe(true);
  });

  test('FormData with text and Blob parts (a Blob gets filename "blob" and its own type)', async () => {
    const big = patternBytes(200000, 3);
    const fd = new FormData();
    fd.append('a', '1');
    fd.append('json', new Blob(['{"x":1}'], { type: 'application/json' }));
    fd.append('big', new Blob([big]), 'big.dat');
    fd.append('a', '2');
    const r = await client.put(server.url('/echo'), { body: fd });
    const parts = parseMultipart(received(r), header(r, 'content-type'));
    expect(parts.map((p) => [p.name, p.filename, p.contentType])).toEqual([
      ['a', undefined, undefined],
      ['json', 'blob', 'application/json'],
      ['big', 'big.dat', 'application/octet-stream'],
      ['a', undefined, undefined],
    ]);
    expect(parts[1].data.toString()).toBe('{"x":1}');
    expect(parts[2].data.equals(big)).toBe(true);
    expect(parts[3].data.toString()).toBe('2');
  });

  test("a caller's content-type is kept as given", async () => {
    const fd = new FormData();
    fd.append('a', '1');
    const r = await client.post(server.url('/echo'), {
      body: fd,
      headers: { 'Content-Type': 'multipart/form-data; boundary=mine' },
    });
    expect(header(r, 'content-type')).toBe('multipart/form-data; boundary=mine');
  });

  test('a form-data package instance (duck-typed: getBoundary, getHeaders, getBuffer)', async () => {
    const boundary = '--------------------------123456789012345678901234';
    const payload = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      ),
      ALL_BYTES,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const form = {
      getBoundary: () => boundary,
      getHeaders: (extra) => ({ ...extra, 'content-type': `multipart/form-data; boundary=${boundary}` }),
      getBuffer: () => payload,
    };
    const r = await client.post(server.url('/echo'), { body: form });
    const parts = parseMultipart(received(r), header(r, 'content-type'));
    expect(parts[0].filename).toBe('x.bin');
    expect(parts[0].data.equals(ALL_BYTES)).toBe(true);
  });
});

describe('streams, async iterables and Blob', () => {
  test('a Node Readable body streams: byte-exact, chunked (its length is unknown)', async () => {
    const bytes = patternBytes(300000, 9);
    const chunks = [];
    for (let i = 0; i < bytes.length; i += 65536) chunks.push(bytes.subarray(i, i + 65536));
    const r = await client.post(server.url('/echo'), { body: Readable.from(chunks) });
    expect(received(r).equals(bytes)).toBe(true);
    expect(header(r, 'transfer-encoding')).toBe('chunked');
    expect(header(r, 'content-length')).toBeUndefined();
  });

  test('bufferBody: the stream is read first and sent with its exact Content-Length', async () => {
    const bytes = patternBytes(300000, 10);
    const r = await client.post(server.url('/echo'), {
      body: Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]),
      bufferBody: true,
    });
    expect(received(r).equals(bytes)).toBe(true);
    expect(header(r, 'content-length')).toBe(String(bytes.length));
    expect(header(r, 'transfer-encoding')).toBeUndefined();
  });

  test("a caller's Content-Length goes out with a streamed body, which is held to it", async () => {
    const bytes = patternBytes(70000, 11);
    const r = await client.post(server.url('/echo'), {
      body: Readable.from([bytes]),
      headers: { 'Content-Length': String(bytes.length) },
    });
    expect(received(r).equals(bytes)).toBe(true);
    expect(header(r, 'content-length')).toBe(String(bytes.length));
    expect(header(r, 'transfer-encoding')).toBeUndefined();
    for (const claimed of [bytes.length + 5, bytes.length - 5]) {
      const err = await client
        .post(server.url('/echo'), {
          body: Readable.from([bytes]),
          headers: { 'content-length': String(claimed) },
        })
        .catch((e) => e);
      expect(err.code).toBe('ERR_INVALID_OPTION');
      expect(err.message).toMatch(/Content-Length says/);
    }
    expect((await client.get(server.url('/echo'))).status).toBe(200);
  });

  test('an async iterable of Uint8Array and strings', async () => {
    async function* gen() {
      yield new Uint8Array([0, 255]);
      yield 'ü';
      yield ALL_BYTES;
    }
    const r = await client.post(server.url('/echo'), { body: gen() });
    expect(received(r).equals(Buffer.concat([Buffer.from([0, 255]), Buffer.from('ü'), ALL_BYTES]))).toBe(
      true,
    );
  });

  test('a WHATWG ReadableStream body streams too', async () => {
    const bytes = patternBytes(100000, 12);
    const web = new ReadableStream({
      start(c) {
        c.enqueue(bytes.subarray(0, 50000));
        c.enqueue(bytes.subarray(50000));
        c.close();
      },
    });
    const r = await client.post(server.url('/echo'), { body: web });
    expect(received(r).equals(bytes)).toBe(true);
  });

  test('a Blob: its bytes and its type', async () => {
    const r = await client.post(server.url('/echo'), {
      body: new Blob([ALL_BYTES], { type: 'image/x-test' }),
    });
    expect(received(r).equals(ALL_BYTES)).toBe(true);
    expect(header(r, 'content-type')).toBe('image/x-test');
  });

  test('a buffered stream body is sent again on a 307 hop; a streamed one cannot be: the 307 is the answer', async () => {
    let r = await client.post(server.url('/redirect/1?status=307'), {
      body: Readable.from([Buffer.from('again')]),
      bufferBody: true,
    });
    expect(r.redirects).toBe(1);
    expect(received(r).toString()).toBe('again');
    r = await client.post(server.url('/redirect/1?status=307'), {
      body: Readable.from([Buffer.from('once')]),
    });
    expect(r.status).toBe(307);
    expect(r.redirects).toBe(0);
    // A 303 drops the body anyway: followed.
    r = await client.post(server.url('/redirect/1?status=303'), {
      body: Readable.from([Buffer.from('gone')]),
    });
    expect(r.status).toBe(200);
    expect(r.data.method).toBe('GET');
  });

  test('a stream that fails rejects the call with its error; the client keeps working', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('source failed'));
      },
    });
    await expect(client.post(server.url('/echo'), { body: failing })).rejects.toThrow('source failed');
    async function* midway() {
      yield Buffer.alloc(200000, 1);
      throw new Error('midway failure');
    }
    await expect(client.post(server.url('/echo'), { body: midway() })).rejects.toThrow('midway failure');
    expect((await client.get(server.url('/echo'))).status).toBe(200);
  });

  test('a large upload to a slow reader: the source is never read far ahead of what the server took', async () => {
    const total = 64 * 1024 * 1024;
    let taken = 0;
    let produced = 0;
    let maxLead = 0;
    const slow = await startServer({
      tls: false,
      handler: (req, res) => {
        req.on('data', (c) => {
          taken += c.length;
          req.pause();
          setTimeout(() => req.resume(), 1);
        });
        req.on('end', () => res.end(String(taken)));
      },
    });
    try {
      async function* source() {
        const piece = Buffer.alloc(64 * 1024, 7);
        while (produced < total) {
          produced += piece.length;
          maxLead = Math.max(maxLead, produced - taken);
          yield piece;
        }
      }
      const r = await client.put(slow.url('/sink'), { body: source(), responseType: 'text' });
      expect(r.data).toBe(String(total));
      // 1 MiB in flight from JS, plus the engine's write and the kernel's socket buffers.
      expect(maxLead).toBeLessThan(24 * 1024 * 1024);
    } finally {
      await slow.close();
    }
  }, 60000);

  test('over HTTP/2: a streamed body goes out as DATA frames, byte-exact', async () => {
    const h2server = http2.createSecureServer({ ...certPair('server') });
    const sessions = new Set();
    h2server.on('session', (session) => sessions.add(session));
    h2server.on('stream', (stream, headers) => {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(
          JSON.stringify({
            length: body.length,
            sha: sha256(body),
            te: headers['transfer-encoding'] ?? null,
            cl: headers['content-length'] ?? null,
          }),
        );
      });
    });
    await new Promise((resolve) => h2server.listen(0, '127.0.0.1', resolve));
    try {
      const bytes = patternBytes(5 * 1024 * 1024 + 3, 13);
      const pieces = [];
      for (let i = 0; i < bytes.length; i += 100000) pieces.push(bytes.subarray(i, i + 100000));
      const r = await client.post(`https://localhost:${h2server.address().port}/up`, {
        body: Readable.from(pieces),
      });
      expect(r.protocol).toBe('h2');
      expect(r.data).toEqual({ length: bytes.length, sha: sha256(bytes), te: null, cl: null });
    } finally {
      for (const session of sessions) session.destroy(); // the client keeps its session pooled
      await new Promise((resolve) => h2server.close(resolve));
    }
  });
});

describe('byte bodies (already supported) stay byte-exact', () => {
  test.each([
    ['ArrayBuffer', () => ALL_BYTES.buffer.slice(ALL_BYTES.byteOffset, ALL_BYTES.byteOffset + 256)],
    ['Uint8Array', () => new Uint8Array(ALL_BYTES)],
    ['Buffer', () => Buffer.from(ALL_BYTES)],
  ])('body as %s', async (_name, make) => {
    const r = await client.post(server.url('/echo'), { body: make() });
    expect(received(r).equals(ALL_BYTES)).toBe(true);
    expect(header(r, 'content-length')).toBe('256');
  });

  test('bodyBytes as a Uint8Array and as base64', async () => {
    let r = await client.post(server.url('/echo'), { bodyBytes: new Uint8Array(ALL_BYTES) });
    expect(received(r).equals(ALL_BYTES)).toBe(true);
    r = await client.post(server.url('/echo'), { bodyBytes: ALL_BYTES.toString('base64') });
    expect(received(r).equals(ALL_BYTES)).toBe(true);
  });
});
