'use strict';
// Shared helpers of the echo / fingerprint suites: the golden captures, a small ClientHello builder, a literal-only
// HPACK encoder and an HTTP/2 frame writer (so tests can produce first flights of any shape).
const fs = require('node:fs');
const path = require('node:path');

// A copy lives in the repository (test/fixtures/fingerprints), so a clone alone runs these tests.
const GOLDEN_FILE = path.resolve(__dirname, '..', 'fixtures', 'fingerprints', 'requests.jsonl');

/** Every golden record (one JSON object per line). */
function loadGolden() {
  return fs
    .readFileSync(GOLDEN_FILE, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** A short label for test names: path, or "connection N" for connections without a request. */
function labelOf(rec) {
  return rec.path
    ? `${rec.path} (connection ${rec.connection})`
    : `connection ${rec.connection} (no request)`;
}

function u16(n) {
  return Buffer.from([(n >> 8) & 0xff, n & 0xff]);
}

function vec(lenBytes, body) {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const len = Buffer.alloc(lenBytes);
  len.writeUIntBE(b.length, 0, lenBytes);
  return Buffer.concat([len, b]);
}

function u16List(values) {
  return Buffer.concat(values.map(u16));
}

/**
 * Builds a ClientHello wrapped in one TLS record. `extensions` is a list of [id, Buffer data] in wire order; helpers
 * below make the common ones.
 */
function buildClientHello({
  legacyVersion = 0x0303,
  ciphers = [0x1301],
  sessionId = Buffer.alloc(32, 7),
  compression = [0],
  extensions = [],
  recordVersion = 0x0301,
} = {}) {
  const extBytes = Buffer.concat(extensions.map(([id, data]) => Buffer.concat([u16(id), vec(2, data)])));
  const body = Buffer.concat([
    u16(legacyVersion),
    Buffer.alloc(32, 0x42),
    vec(1, sessionId),
    vec(2, u16List(ciphers)),
    vec(1, Buffer.from(compression)),
    extensions.length ? vec(2, extBytes) : Buffer.alloc(0),
  ]);
  const msg = Buffer.concat([
    Buffer.from([1]),
    (() => {
      const b = Buffer.alloc(3);
      b.writeUIntBE(body.length, 0, 3);
      return b;
    })(),
    body,
  ]);
  return Buffer.concat([Buffer.from([22]), u16(recordVersion), vec(2, msg)]);
}

const ext = {
  sni: (name) => [0, vec(2, Buffer.concat([Buffer.from([0]), vec(2, Buffer.from(name))]))],
  alpn: (protocols) => [
    16,
    vec(2, Buffer.concat(protocols.map((p) => vec(1, Buffer.isBuffer(p) ? p : Buffer.from(p, 'latin1'))))),
  ],
  supportedVersions: (versions) => [43, vec(1, u16List(versions))],
  groups: (groups) => [10, vec(2, u16List(groups))],
  pointFormats: (formats) => [11, vec(1, Buffer.from(formats))],
  sigalgs: (algs) => [13, vec(2, u16List(algs))],
  keyShare: (shares) => [
    51,
    vec(2, Buffer.concat(shares.map(([g, len]) => Buffer.concat([u16(g), vec(2, Buffer.alloc(len, 1))])))),
  ],
  raw: (id, data = Buffer.alloc(0)) => [id, Buffer.from(data)],
};

/** Re-cuts the handshake message of single- or multi-record ClientHello bytes into records of at most `size` bytes. */
function refragment(recordBytes, size) {
  const parts = [];
  let off = 0;
  while (off < recordBytes.length) {
    const len = recordBytes.readUInt16BE(off + 3);
    parts.push(recordBytes.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  const msg = Buffer.concat(parts);
  const version = recordBytes.readUInt16BE(1);
  const out = [];
  for (let i = 0; i < msg.length; i += size) {
    const frag = msg.subarray(i, i + size);
    out.push(Buffer.from([22]), u16(version), u16(frag.length), frag);
  }
  return Buffer.concat(out);
}

// ---- HTTP/2 ----

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type, flags, streamId, payload = Buffer.alloc(0)) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

function hpackInt(value, prefixBits, firstByteHigh) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByteHigh | value]);
  const out = [firstByteHigh | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** HPACK block of literal-without-indexing fields with literal names, no Huffman: decodable by any decoder. */
function hpackLiteral(fields) {
  return Buffer.concat(
    fields.flatMap(([n, v]) => {
      const name = Buffer.from(n, 'latin1');
      const value = Buffer.from(v, 'latin1');
      return [Buffer.from([0x00]), hpackInt(name.length, 7, 0), name, hpackInt(value.length, 7, 0), value];
    }),
  );
}

/** "name: value" lines (golden format) to [name, value]; pseudo-header names keep their leading colon. */
function splitHeaderLines(lines) {
  return lines.map((line) => {
    const i = line.indexOf(': ', line.startsWith(':') ? 1 : 0);
    return [line.slice(0, i), line.slice(i + 2)];
  });
}

/** Re-encodes a golden record's `http2.sent_frames` as client bytes (preface + frames), headers as literal HPACK. */
function encodeSentFrames(sentFrames) {
  const out = [PREFACE];
  for (const f of sentFrames) {
    const flagBits = (names, map) => names.reduce((acc, n) => acc | (map[n] || 0), 0);
    switch (f.frame_type) {
      case 'SETTINGS': {
        const payload = Buffer.concat(
          (f.settings || []).map((s) => {
            const b = Buffer.alloc(6);
            b.writeUInt16BE(s.id, 0);
            b.writeUInt32BE(s.value, 2);
            return b;
          }),
        );
        out.push(frame(4, flagBits(f.flags, { ACK: 1 }), f.stream_id, payload));
        break;
      }
      case 'WINDOW_UPDATE': {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(f.increment, 0);
        out.push(frame(8, 0, f.stream_id, b));
        break;
      }
      case 'PRIORITY': {
        const b = Buffer.alloc(5);
        b.writeUInt32BE(((f.priority.exclusive ? 0x80000000 : 0) | f.priority.depends_on) >>> 0, 0);
        b[4] = f.priority.weight - 1;
        out.push(frame(2, 0, f.stream_id, b));
        break;
      }
      case 'HEADERS': {
        const flags = flagBits(f.flags, { END_STREAM: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 });
        const parts = [];
        if (flags & 0x20) {
          const b = Buffer.alloc(5);
          b.writeUInt32BE(((f.priority.exclusive ? 0x80000000 : 0) | f.priority.depends_on) >>> 0, 0);
          b[4] = f.priority.weight - 1;
          parts.push(b);
        }
        parts.push(hpackLiteral(splitHeaderLines(f.headers)));
        out.push(frame(1, flags & ~0x8, f.stream_id, Buffer.concat(parts)));
        break;
      }
      default:
        throw new Error(`cannot encode ${f.frame_type}`);
    }
  }
  return Buffer.concat(out);
}

/** Rejects with "<what>: no answer in <ms> ms" when `promise` takes longer (a hang becomes a failure). */
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    }),
  ]);
}

/** Sends SIGINT to a child process; resolves with its exit code. */
function interruptAndWait(child) {
  return withTimeout(
    new Promise((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.kill('SIGINT');
    }),
    10000,
    'child exit on SIGINT',
  );
}

module.exports = {
  withTimeout,
  interruptAndWait,
  loadGolden,
  labelOf,
  buildClientHello,
  ext,
  refragment,
  PREFACE,
  frame,
  hpackInt,
  hpackLiteral,
  splitHeaderLines,
  encodeSentFrames,
};
