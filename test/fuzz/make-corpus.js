#!/usr/bin/env node
// Writes the seed corpora of the native fuzz targets (test/fuzz/corpus/<target>/): real responses,
// frames, proxy replies, preset fingerprint strings and small compressed bodies, each prefixed with
// the control bytes its target reads first (see the comment at the top of each *_fuzz.cc). Run it
// after changing a target's input layout; the output is committed. zstd samples need the zstd CLI.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const root = path.resolve(__dirname, '..', '..');
const corpus = path.join(__dirname, 'corpus');
const b = (...parts) =>
  Buffer.concat(
    parts.map((p) =>
      Buffer.isBuffer(p) ? p : typeof p === 'number' ? Buffer.from([p]) : Buffer.from(p, 'latin1'),
    ),
  );

function write(target, seeds) {
  const dir = path.join(corpus, target);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(seeds)) fs.writeFileSync(path.join(dir, name), bytes);
}

// ---- HTTP/1 responses: control byte (read size | 0x10 HEAD | 0x20 tight limits | 0x40 body placed
// by the caller), then bytes ----
const ok5 = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello';
const chunked =
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n' +
  '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\nX-Other: a\r\n\r\n';
write('http1_response', {
  'content-length': b(0, ok5),
  'content-length-split-1': b(1, ok5),
  'chunked-trailers': b(0, chunked),
  'chunked-trailers-split-3': b(3, chunked),
  'chunked-hex-upper': b(
    0,
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n',
  ),
  'interim-100-then-200': b(
    0,
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n',
    ok5,
  ),
  'switching-101': b(
    0,
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi',
  ),
  'no-content-204': b(0, 'HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n'),
  'not-modified-304': b(0, 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n'),
  'http10-close-delimited': b(0, 'HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the connection closes'),
  'keep-alive-pipelined': b(0, ok5, 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', chunked),
  'head-request': b(0x10, 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'),
  'tight-limits-many-headers': b(
    0x20,
    'HTTP/1.1 200 OK\r\n',
    'X-A: 1\r\n'.repeat(12),
    'Content-Length: 0\r\n\r\n',
  ),
  'repeated-headers-cookies': b(
    0,
    'HTTP/1.1 302 Found\r\nLocation: /next\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n',
  ),
  'bare-lf': b(0, 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok'),
  'conflicting-lengths': b(0, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'),
  'obs-fold': b(0, 'HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 0\r\n\r\n'),
  'huge-chunk-size': b(0, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n'),
  'placed-pipelined-split-3': b(0x43, ok5, chunked, ok5),
  'placed-chunked-whole': b(0x40, chunked),
  'placed-short-length': b(0x41, 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'),
});

// ---- HTTP/2 server byte streams: control bytes (options, read size), then frames ----
const frame = (type, flags, stream, payload = '') => {
  const p = b(payload);
  const h = Buffer.alloc(9);
  h.writeUIntBE(p.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return b(h, p);
};
const settings = (pairs) =>
  b(
    ...pairs.map(([id, v]) => {
      const x = Buffer.alloc(6);
      x.writeUInt16BE(id, 0);
      x.writeUInt32BE(v, 2);
      return x;
    }),
  );
const u32 = (v) => {
  const x = Buffer.alloc(4);
  x.writeUInt32BE(v >>> 0);
  return x;
};
const DATA = 0,
  HEADERS = 1,
  PRIORITY = 2,
  RST = 3,
  SETTINGS = 4,
  PUSH = 5,
  PING = 6,
  GOAWAY = 7,
  WINDOW = 8,
  CONT = 9;
const END_STREAM = 1,
  ACK = 1,
  END_HEADERS = 4,
  PADDED = 8;
// HPACK: literal header field without indexing, new name (no Huffman).
const lit = (name, value) => b(0x00, name.length, name, value.length, value);
const status200 = b(0x88); // indexed :status 200 (static table 8)
const statusLit = (code) => b(0x08, 3, String(code)); // literal, indexed name :status
const serverSettings = frame(
  SETTINGS,
  0,
  0,
  settings([
    [3, 100],
    [4, 65535],
    [5, 16384],
    [6, 262144],
  ]),
);
const preamble = b(serverSettings, frame(SETTINGS, ACK, 0));
const head200 = frame(
  HEADERS,
  END_HEADERS,
  1,
  b(status200, lit('content-type', 'text/plain'), lit('server', 'fuzz')),
);
write('http2_session', {
  'get-200-body': b(
    0,
    0,
    preamble,
    head200,
    frame(DATA, 0, 1, 'hello '),
    frame(DATA, END_STREAM, 1, 'world'),
  ),
  'get-200-split-7': b(0, 7, preamble, head200, frame(DATA, END_STREAM, 1, 'hello')),
  'auto-flow-control': b(0x10, 0, preamble, head200, frame(DATA, END_STREAM, 1, 'x'.repeat(1000))),
  'interim-100-then-200-trailers': b(
    0,
    0,
    preamble,
    frame(HEADERS, END_HEADERS, 1, statusLit(100)),
    head200,
    frame(DATA, 0, 1, 'body'),
    frame(HEADERS, END_HEADERS | END_STREAM, 1, lit('x-checksum', 'abc')),
  ),
  continuation: b(
    0,
    0,
    preamble,
    frame(HEADERS, 0, 1, b(status200, lit('a', '1'))),
    frame(CONT, 0, 1, lit('b', '2')),
    frame(CONT, END_HEADERS | END_STREAM, 1, lit('c', '3')),
  ),
  'padded-data-and-headers': b(
    0,
    0,
    preamble,
    frame(HEADERS, END_HEADERS | PADDED, 1, b(3, status200, '\0\0\0')),
    frame(DATA, END_STREAM | PADDED, 1, b(2, 'ok', '\0\0')),
  ),
  'four-requests': b(
    0xc0,
    0,
    preamble,
    ...[1, 3, 5, 7].map((s) =>
      b(frame(HEADERS, END_HEADERS, s, status200), frame(DATA, END_STREAM, s, 'r' + s)),
    ),
  ),
  'reset-on-head': b(0x20, 0, preamble, head200, frame(DATA, 0, 1, 'late data')),
  'rst-stream-refused': b(
    0x40,
    0,
    preamble,
    frame(RST, 0, 1, u32(7)),
    head200.subarray(0, 0),
    frame(HEADERS, END_HEADERS | END_STREAM, 3, status200),
  ),
  'goaway-last-1': b(
    0xc0,
    0,
    preamble,
    frame(GOAWAY, 0, 0, b(u32(1), u32(0), 'bye')),
    head200,
    frame(DATA, END_STREAM, 1, 'x'),
  ),
  'ping-window-priority': b(
    0,
    0,
    preamble,
    frame(PING, 0, 0, '12345678'),
    frame(WINDOW, 0, 0, u32(1 << 20)),
    frame(WINDOW, 0, 1, u32(1000)),
    frame(PRIORITY, 0, 1, b(u32(0), 15)),
    head200,
    frame(DATA, END_STREAM, 1, ''),
  ),
  'push-promise-refused': b(
    0,
    0,
    preamble,
    frame(PUSH, END_HEADERS, 1, b(u32(2), lit(':method', 'GET'))),
    head200,
  ),
  'hpack-table-growth': b(
    0,
    0,
    frame(SETTINGS, 0, 0, settings([[1, 65536]])),
    frame(SETTINGS, ACK, 0),
    frame(
      HEADERS,
      END_HEADERS,
      1,
      b(
        0x3f,
        0xe1,
        0xff,
        0x03,
        status200,
        0x40,
        4,
        'big1',
        0x7f,
        0x81,
        0x07,
        'v'.repeat(1000),
        Buffer.alloc(200, 0xbe),
      ),
    ),
  ),
  'many-small-headers': b(
    0,
    0,
    preamble,
    frame(
      HEADERS,
      END_HEADERS | END_STREAM,
      1,
      b(status200, ...Array.from({ length: 600 }, (_, i) => lit('h' + i, 'v'))),
    ),
  ),
  'streamed-upload-window': b(
    0x80,
    0,
    frame(SETTINGS, 0, 0, settings([[4, 10]])),
    frame(SETTINGS, ACK, 0),
    frame(WINDOW, 0, 5, u32(100000)),
    frame(HEADERS, END_HEADERS | END_STREAM, 5, status200),
    frame(HEADERS, END_HEADERS | END_STREAM, 1, status200),
    frame(HEADERS, END_HEADERS | END_STREAM, 3, status200),
  ),
});

// ---- mux frames and message payloads ----
class W {
  constructor() {
    this.parts = [];
  }
  u8(v) {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  u16(v) {
    const x = Buffer.alloc(2);
    x.writeUInt16BE(v);
    this.parts.push(x);
    return this;
  }
  u32(v) {
    this.parts.push(u32(v));
    return this;
  }
  u64(v) {
    const x = Buffer.alloc(8);
    x.writeBigUInt64BE(BigInt(v));
    this.parts.push(x);
    return this;
  }
  str(s) {
    const x = b(s);
    return this.u32(x.length).raw(x);
  }
  raw(s) {
    this.parts.push(b(s));
    return this;
  }
  headers(list) {
    this.u32(list.length);
    for (const [n, v] of list) this.str(n).str(v);
    return this;
  }
  get bytes() {
    return Buffer.concat(this.parts);
  }
}
const magic = b('CTNLINK', 1);
const nonce = Buffer.alloc(32, 0x5a);
const hello = new W().raw(magic).u16(3).u32(4242).raw(nonce).bytes;
const challenge = new W().raw(magic).u16(3).raw(nonce).raw(Buffer.alloc(32, 0xa5)).bytes;
const request = (o = {}) => {
  const w = new W()
    .str(o.method ?? 'GET')
    .u8(1)
    .str('example.com')
    .u16(443)
    .str('/path?q=1')
    .headers([
      ['user-agent', 'fuzz'],
      ['cookie', 'a=1'],
    ])
    .u64(o.bodySize ?? 0)
    .str('')
    .u8(0)
    .u8(0)
    .str('chrome_156')
    .u8(1)
    .str(o.ja3 ?? '')
    .str('')
    .str('')
    .u8(0)
    .u64(30000)
    .u8(1)
    .u8(1)
    .u64(1 << 30)
    .u64(7)
    .u64(0)
    .u64(0)
    .u64(0)
    .u64(0)
    .str(o.proxy ?? '')
    .u8(o.stream ? 1 : 0)
    .u8(0)
    .u8(o.retry ? 1 : 0);
  return w.bytes;
};
const headPayload = new W()
  .u16(200)
  .str('OK')
  .u8(2)
  .u8(0)
  .headers([
    ['content-type', 'text/html'],
    ['set-cookie', 'a=1'],
  ])
  .u64(1)
  .u8(0)
  .str('h2')
  .str('TLSv1.3')
  .str('TLS_AES_128_GCM_SHA256')
  .u8(0)
  .u8(1) // the connection's fingerprint follows
  .str('771,4865-4866,0-10-16,29-23,0')
  .str('771,4865-4866,0-10-16,29-23,0')
  .str('t13d0203h2_62ed6f6ca7ad_1f2e3d4c5b6a')
  .str('t13d0203h2_1301,1302_000a_0403')
  .str('1:65536;2:0;4:6291456|15663105|0|m,a,s,p')
  .str('')
  .u8(1)
  .u8(0).bytes;
const errorPayload = new W().str('ERR_TIMEOUT').str('headers').str('no response head within 30000 ms').bytes;
const muxFrame = (type, flags, stream, payload = Buffer.alloc(0)) => {
  const h = Buffer.alloc(14);
  h.writeUInt32BE(10 + payload.length, 0);
  h[4] = type;
  h[5] = flags;
  h.writeBigUInt64BE(BigInt(stream), 6);
  return b(h, payload);
};
const mux = {
  hello: 1,
  challenge: 2,
  auth: 3,
  ready: 4,
  request: 5,
  body: 6,
  head: 7,
  rbody: 8,
  end: 9,
  error: 10,
  cancel: 11,
  window: 12,
  ping: 13,
  pong: 14,
  goaway: 15,
  limits: 16,
  sent: 17,
};
const conversation = b(
  muxFrame(mux.request, 0, 1, request({ method: 'POST', bodySize: 5 })),
  muxFrame(mux.body, 1, 1, b('hello')),
  muxFrame(mux.head, 0, 1, headPayload),
  muxFrame(mux.rbody, 0, 1, b('response')),
  muxFrame(mux.end, 0, 1),
  muxFrame(mux.window, 0, 1, u32(8)),
  muxFrame(mux.ping, 0, 0, new W().u64(9).bytes),
  muxFrame(mux.error, 0, 3, errorPayload),
  muxFrame(mux.cancel, 0, 5),
  muxFrame(mux.goaway, 0, 0, new W().str('shutting down').bytes),
);
write('mux_frame', {
  'handshake-pre-auth': b(
    0x80,
    muxFrame(mux.hello, 0, 0, hello),
    muxFrame(mux.challenge, 0, 0, challenge),
    muxFrame(mux.auth, 0, 0, Buffer.alloc(32, 1)),
    muxFrame(mux.ready, 0, 0, new W().u32(1 << 20).u32(42).bytes),
  ),
  conversation: b(0, conversation),
  'conversation-split-1': b(1, conversation),
  'conversation-split-13': b(13, conversation),
  'oversized-pre-auth': b(0x80, muxFrame(mux.request, 0, 1, request())),
  'unknown-type': b(0, muxFrame(99, 0, 0)),
});
write('mux_messages', {
  hello: b(0, hello),
  challenge: b(1, challenge),
  auth: b(2, Buffer.alloc(32, 7)),
  ready: b(3, new W().u32(1 << 20).u32(42).bytes),
  'request-get': b(4, request()),
  'request-post-sized': b(4, request({ method: 'POST', bodySize: 1 << 20 })),
  'request-streamed-proxy-ja3': b(
    4,
    request({
      method: 'PUT',
      stream: true,
      proxy: 'socks5h://u:p@127.0.0.1:1080',
      ja3: '771,4865-4866-4867,0-10-13-16-43-45-51,29-23,',
    }),
  ),
  head: b(5, headPayload),
  error: b(6, errorPayload),
  'error-unknown-code': b(6, new W().str('ERR_FROM_THE_FUTURE').str('nowhere').str('?').bytes),
  'client-limits': b(7, new W().u32(16).u32(1000).bytes),
  u32: b(8, u32(65536)),
  u64: b(9, new W().u64(123456789).bytes),
});

// ---- proxy replies: mode, read size, then the proxy's bytes (mode 7: a proxy URL) ----
const socks5Ok = b(5, 0, 0, 1, 93, 184, 216, 34, 0x01, 0xbb);
write('proxy_reply', {
  'http-200': b(0, 0, 'HTTP/1.1 200 Connection established\r\n\r\n', '\x16\x03\x01tunnel bytes'),
  'http-200-split-1': b(0, 1, 'HTTP/1.1 200 OK\r\nProxy-Agent: fuzz\r\n\r\n'),
  'http-407': b(
    1,
    0,
    'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="x"\r\nContent-Length: 0\r\n\r\n',
  ),
  'http-10-502': b(0, 0, 'HTTP/1.0 502 Bad Gateway\r\n\r\n'),
  'socks4-granted': b(2, 0, 0, 0x5a, 0x01, 0xbb, 93, 184, 216, 34, 'tunnel'),
  'socks4a-rejected': b(3, 0, 0, 0x5b, 0, 0, 0, 0, 0, 0),
  'socks5-no-auth': b(4, 0, 5, 0, socks5Ok),
  'socks5-no-auth-split-1': b(4, 1, 5, 0, socks5Ok, 'tunnel'),
  'socks5-userpass': b(5, 0, 5, 2, 1, 0, socks5Ok),
  'socks5-userpass-denied': b(5, 0, 5, 2, 1, 1),
  'socks5-no-acceptable': b(4, 0, 5, 0xff),
  'socks5h-ipv6-bound': b(6, 0, 5, 0, 5, 0, 0, 4, Buffer.alloc(16, 0x20), 0x04, 0x38),
  'socks5h-name-bound': b(6, 0, 5, 0, 5, 0, 0, 3, 11, 'example.com', 0x01, 0xbb),
  'socks5-refused': b(4, 0, 5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0),
  'url-socks5h-credentials': b(7, 0, 'socks5h://us%40er:p%3Ass@proxy.example:1080'),
  'url-http-ipv6': b(7, 0, 'HTTP://[::1]:3128/'),
  'url-socks4': b(7, 0, 'socks4://10.0.0.1'),
});

// ---- fingerprint strings: control (mode | preset << 3), then the string(s) ----
const presets = require(path.join(root, 'test/fixtures/fingerprints/presets.json')).presets;
const presetIds = Object.keys(presets);
const fp = {};
let n = 0;
for (const line of fs
  .readFileSync(path.join(root, 'test/fixtures/fingerprints/requests.jsonl'), 'utf8')
  .split('\n')) {
  if (!line.trim()) continue;
  const tls = JSON.parse(line).tls;
  if (!tls || fp[`ja3-${tls.ja3_hash}`]) continue;
  fp[`ja3-${tls.ja3_hash}`] = b(0, tls.ja3);
  if (tls.ja4_r) fp[`ja4r-${tls.ja3_hash}`] = b(1, tls.ja4_r);
  if (tls.ja4_r) fp[`compose-${tls.ja3_hash}`] = b(3 | ((n++ % 16) << 3), tls.ja3, '\n', tls.ja4_r, '\n');
}
presetIds.forEach((id, i) => {
  const p = presets[id];
  if (p.akamai) fp[`akamai-${id}`] = b(2 | ((i % 32) << 3), p.akamai);
  if (p.ja3) fp[`ja3-${id}`] = b(0 | ((i % 32) << 3), p.ja3);
  if (p.ja3 && p.akamai) fp[`compose-${id}`] = b(3 | 4 | ((i % 32) << 3), p.ja3, '\n\n', p.akamai);
});
fp['akamai-priority-frames'] = b(
  2,
  '1:65536;4:131072;5:16384|12517377|3:0:0:201,5:0:0:101,7:0:0:1,9:0:7:1,11:0:3:1,13:0:0:241|m,p,a,s',
);
fp['ja4r-minimal'] = b(1, 't13d0101h2_1301_000a_0403');
// Other stacks' JA3 strings (cycletls's default and suite strings: DHE suites, advertised only).
require(path.join(root, 'test/fixtures/fingerprints/foreign-ja3.js'))
  .filter((f) => f.name.startsWith('cycletls'))
  .forEach((f, i) => {
    fp[`ja3-cycletls-${i}`] = b(0, f.ja3);
  });
// Advertised-only shapes: unknown and unimplemented extensions, left-out extensions, a TLS 1.3 subset
// with CCM ids, point formats beyond 0, groups without a key exchange; and a string still refused.
fp['ja3-advertised-only'] = b(
  0,
  '771,4866-4869-49195-51-255,0-16-22-49-50-17-12345-43-45-51-21,29-30-258,0-1-2',
);
fp['ja3-tls13-only-omitted'] = b(0, '771,4867-4868,0-16-43-45-51,29,');
fp['ja4r-advertised-only'] = b(
  1,
  't13d0708h2_0033,0039,1301,1304,c02b,c02f,ccaa_000a,000b,000d,0016,002b,002d,0031,0033_0403,0804',
);
fp['ja3-refused-early-data'] = b(0, '771,4865-49195,0-10-11-13-23-42-43-45-51-65281,29,0');
write('fingerprint_strings', fp);

// ---- quicFingerprint: control byte (0 bytes, 1 hex text), then a captured browser QUIC hello ----
// One Chromium and one Firefox hello per run (fresh and resumed), as bytes and as the option's text.
const quicCaptures = path.join(root, 'test', 'fixtures', 'fingerprints', 'quic');
const quicSeeds = {};
for (const run of fs.readdirSync(quicCaptures).sort()) {
  const dir = path.join(quicCaptures, run);
  if (!fs.statSync(dir).isDirectory()) continue;
  const server = run.split('-')[1];
  for (const conn of ['conn-1', 'conn-4', 'conn-13']) {
    const file = path.join(dir, `${conn}.clienthello.hex`);
    if (!fs.existsSync(file)) continue;
    const hex = fs.readFileSync(file, 'latin1').trim();
    quicSeeds[`${server}-${conn}-bytes`] = b(0, Buffer.from(hex, 'hex'));
    quicSeeds[`${server}-${conn}-record-text`] = b(
      1,
      `16 03 01 ${(hex.length / 2).toString(16).padStart(4, '0')} ${hex}@@h3`,
    );
  }
}
write('quic_hello', quicSeeds);

// ---- fingerprint_hello: control byte (bit 0 QUIC), then a ClientHello handshake message ----
// Two TCP hellos (Chromium, Firefox) from the golden captures and the QUIC ones above.
const helloSeeds = {};
const tcpHellos = fs
  .readFileSync(path.join(root, 'test', 'fixtures', 'fingerprints', 'requests.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l))
  .filter((r) => r.client_hello_hex && r.tls);
for (const lib of ['chromium', 'firefox']) {
  const r = tcpHellos.find((x) => String(x.path).startsWith(`/${lib}-`));
  const records = Buffer.from(r.client_hello_hex, 'hex');
  helloSeeds[`tcp-${lib}`] = b(0, records.subarray(5, 5 + records.readUInt16BE(3)));
}
for (const [name, seed] of Object.entries(quicSeeds)) {
  if (name.endsWith('-bytes')) helloSeeds[`quic-${name}`] = b(1, seed.subarray(1));
}
write('fingerprint_hello', helloSeeds);

// ---- body decoders: codings (outer | inner << 3), read size, then the body ----
const text = b('cycletls-native fuzz seed: '.repeat(40));
const zstd = (buf) => execFileSync('zstd', ['-q', '-c', '-19'], { input: buf });
const codings = { gzip: 1, deflate: 2, br: 3, zstd: 4 };
const encode = { gzip: zlib.gzipSync, deflate: zlib.deflateSync, br: zlib.brotliCompressSync, zstd };
const bodies = {};
for (const [name, id] of Object.entries(codings)) {
  const encoded = encode[name](text);
  bodies[name] = b(id, 0, encoded);
  bodies[`${name}-split-5`] = b(id, 5, encoded);
  bodies[`${name}-truncated`] = b(id, 0, encoded.subarray(0, encoded.length >> 1));
}
bodies['deflate-raw'] = b(codings.deflate, 0, zlib.deflateRawSync(text));
bodies['gzip-two-members'] = b(codings.gzip, 0, zlib.gzipSync('first '), zlib.gzipSync('second'));
bodies['chained-gzip-then-br'] = b(
  codings.br | (codings.gzip << 3),
  0,
  zlib.brotliCompressSync(zlib.gzipSync(text)),
);
bodies['chained-zstd-then-deflate'] = b(
  codings.deflate | (codings.zstd << 3),
  0,
  zlib.deflateSync(zstd(text)),
);
bodies['gzip-bomb-1MiB'] = b(codings.gzip, 0, zlib.gzipSync(Buffer.alloc(1 << 20)));
bodies['br-bomb-1MiB'] = b(codings.br, 0, zlib.brotliCompressSync(Buffer.alloc(1 << 20)));
bodies['zstd-bomb-1MiB'] = b(codings.zstd, 0, zstd(Buffer.alloc(1 << 20)));
write('body_decoder', bodies);

// ---- Alt-Svc: control byte (bit 0: field lines cut at '\n'; bits 1-7: clock step, seconds), value ----
const one = (value, step = 0) => b((step & 0x7f) << 1, value);
const fieldLines = (values, step = 0) => b(((step & 0x7f) << 1) | 1, values.join('\n'));
write('alt_svc', {
  'rfc-h2-host': one('h2="new.example.org:80"'),
  'rfc-ma-persist': one('h2=":443"; ma=2592000; persist=1'),
  'rfc-two': one('h2="alt.example.com:8000", h2=":443"'),
  'rfc-percent-encoded': one('w%3Dx%3Ay#z=":1", x%25y=":2"'),
  clear: one('clear'),
  'h3-with-drafts': one('h3=":443"; ma=2592000,h3-29=":443"; ma=2592000,h3-Q050=":443"; ma=2592000', 60),
  'h3-ipv6': one('h3="[2001:db8::1]:8443"; ma=60', 61),
  'h3-escaped-quoted-params': one('h3="alt\\.example.com:443" ; ma="3600"; v="46,43"; persist=1'),
  'h3-ma-zero': one('h3=":443"; ma=0'),
  'field-lines': fieldLines(['h3=":443"; ma=86400', 'h2=":443"', 'h3="b.example.com:443"']),
  'field-lines-clear-mixed': fieldLines(['clear', 'h3=":443"']),
  'bad-unterminated': one('h3=":443'),
  'bad-port': one('h3=":65536"'),
  'bad-ma': one('h3=":443"; ma=soon'),
});

// ---- HTTP/3 session: control byte (preset index | extra requests << 4), then records of
// [selector: stream 3, 7, 11, 0, 4, 8, 12, 15 | 0x08 FIN | 0x10 QUIC closes | 0x40 reset][length][bytes] ----
const rec = (selector, bytes) => b(selector, Buffer.byteLength(bytes, 'latin1'), bytes);
const h3Preset = { chrome_130: 0, chrome_156: 5, firefox_153: 10 }; // indices into profile_ids()
// ngtcp2's server: 0x6 = 2^62-1 (8-byte varint), 0x1 = 4096, 0x7 = 100.
const ngtcp2Control = b(0, 4, 15, 6, Buffer.from('ffffffffffffffff', 'hex'), 0x01, 0x50, 0x00, 7, 0x40, 100);
const caddyControl = b(0, 4, 0);
const encoderInsert = b(2, 0x3f, 0xe1, 0x1f, 0x43, 'x-a', 1, '1'); // capacity 4096, insert x-a: 1
const h3Frame = (type, payload) => b(type, Buffer.byteLength(payload, 'latin1'), payload);
const staticHead = h3Frame(1, b(0, 0, 0xd9)); // :status 200 (static 25)
const dynamicHead = h3Frame(1, b(2, 0, 0xd9, 0x80)); // RIC 1, Base 1: :status 200, x-a: 1
const h3Hello = h3Frame(0, 'hello');
write('http3_session', {
  'chrome-caddy-200': b(h3Preset.chrome_156, rec(0, caddyControl), rec(3 | 8, b(staticHead, h3Hello))),
  'chrome-ngtcp2-dynamic': b(
    h3Preset.chrome_156,
    rec(0, ngtcp2Control),
    rec(1, encoderInsert),
    rec(2, b(3)),
    rec(3 | 8, b(dynamicHead, h3Hello)),
  ),
  'firefox-ngtcp2-blocked-then-inserts': b(
    h3Preset.firefox_153,
    rec(0, ngtcp2Control),
    rec(3 | 8, b(dynamicHead, h3Hello)),
    rec(1, encoderInsert),
  ),
  'firefox-four-requests-resets-and-closes': b(
    0x30 | h3Preset.firefox_153,
    rec(0, caddyControl),
    rec(3 | 8, b(staticHead, h3Hello)),
    rec(4 | 0x40, ''),
    rec(5 | 0x10 | 0x20, h3Frame(1, b(0, 0, 0xd9))),
    rec(6 | 8, b(staticHead, h3Frame(0, 'x'.repeat(100)))),
  ),
  'unshaped-chrome-130': b(h3Preset.chrome_130, rec(0, ngtcp2Control), rec(3 | 8, b(staticHead, h3Hello))),
});
// ---- The echo's HTTP/3 endpoint: control byte (bit 0: second half from another port; bits 1-2:
// max_connections - 1), then datagrams as 2-byte length + bytes: the captured browser first flights
// (test/fixtures/fingerprints/quic), whole, cut short, and after garbage ----
{
  const quicDir = path.join(root, 'test', 'fixtures', 'fingerprints', 'quic');
  const flights = {};
  for (const run of fs
    .readdirSync(quicDir)
    .filter((d) => d.startsWith('run-'))
    .sort()) {
    for (const f of fs
      .readdirSync(path.join(quicDir, run))
      .filter((n) => n.endsWith('.initial-datagrams.hex'))) {
      const lines = fs
        .readFileSync(path.join(quicDir, run, f), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      if (Object.keys(flights).length < 4)
        flights[`${run}-${f.split('.')[0]}`] = lines.map((h) => Buffer.from(h, 'hex'));
    }
  }
  const framed = (control, datagrams) =>
    b(control, ...datagrams.map((d) => b(d.length >> 8, d.length & 0xff, d)));
  const seeds = {};
  for (const [name, datagrams] of Object.entries(flights)) {
    seeds[`${name}-whole`] = framed(0, datagrams);
    seeds[`${name}-twice-two-clients`] = framed(1 | (1 << 1), [...datagrams, ...datagrams]);
    seeds[`${name}-truncated`] = framed(
      0,
      datagrams.map((d) => d.subarray(0, 600)),
    );
    seeds[`${name}-after-garbage`] = framed(0, [
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      b(0x40, 1, 2, 3),
      ...datagrams,
    ]);
  }
  write('quic_server_datagram', seeds);
}
