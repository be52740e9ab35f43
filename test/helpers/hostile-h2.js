// A hostile HTTP/2 server: TLS with ALPN h2 on 127.0.0.1, port 0, that writes raw frames and
// hand-encoded HPACK, so a test can send what no well-behaved server library would (HPACK
// reference bombs, endless CONTINUATION, endless 1xx). Requests are decoded (HPACK, with the
// project's own decoder) and handed to `onRequest(conn, streamId, headers)`, which writes replies
// with the frame helpers below.
'use strict';
const tls = require('node:tls');
const { certPair } = require('./servers');
const { HpackDecoder } = require('../../dist/echo/hpack');
// The frame writer and HPACK integer of the echo suites: hpackInt(value, prefixBits, highBits).
const { PREFACE, frame, hpackInt } = require('../echo/helpers');

const T = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 };
const F = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 };

/** A literal field without Huffman coding; `index`: with incremental indexing (it enters the table). */
function literal(name, value, index = false) {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1');
  return Buffer.concat([
    Buffer.from([index ? 0x40 : 0x00]),
    hpackInt(n.length, 7, 0),
    n,
    hpackInt(v.length, 7, 0),
    v,
  ]);
}

/** :status as a literal with the static table's name (entry 8), any code. */
const status = (code) => Buffer.concat([hpackInt(8, 4, 0x00), hpackInt(3, 7, 0), Buffer.from(String(code))]);
const STATUS_200 = Buffer.from([0x88]);
/** A one-byte reference to the newest dynamic table entry (index 62). */
const NEWEST_ENTRY = 0xbe;
/** A dynamic table size update (must open a block). */
const tableSize = (n) => hpackInt(n, 5, 0x20);

/** A header block as HEADERS + CONTINUATION frames of at most 16384 bytes (the default maximum). */
function headerFrames(stream, block, endStream) {
  const out = [];
  let off = 0;
  do {
    const piece = block.subarray(off, off + 16384);
    off += piece.length;
    const last = off >= block.length;
    const flags = (last ? F.END_HEADERS : 0) | (out.length === 0 && endStream ? F.END_STREAM : 0);
    out.push(frame(out.length === 0 ? T.HEADERS : T.CONTINUATION, flags, stream, piece));
  } while (off < block.length);
  return Buffer.concat(out);
}

async function startHostileH2({ onRequest }) {
  const sockets = new Set();
  const server = tls.createServer({ ...certPair('server'), ALPNProtocols: ['h2'] }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new HpackDecoder(4096);
    let buf = Buffer.alloc(0);
    let prefaceSeen = false;
    let block = null; // { stream, parts }
    const conn = {
      socket,
      write: (bytes) => {
        if (!socket.destroyed) socket.write(bytes);
      },
      /** Frames the client sent, by type name, for assertions (RST_STREAM codes by stream). */
      resets: new Map(),
    };
    // Our SETTINGS (none: every default) first, as a server must.
    socket.write(frame(T.SETTINGS, 0, 0));
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!prefaceSeen) {
        if (buf.length < PREFACE.length) return;
        prefaceSeen = true;
        buf = buf.subarray(PREFACE.length);
      }
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) return;
        const type = buf[3];
        const flags = buf[4];
        const stream = buf.readUInt32BE(5) & 0x7fffffff;
        let payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        if (type === T.SETTINGS && !(flags & F.ACK)) conn.write(frame(T.SETTINGS, F.ACK, 0));
        if (type === T.PING && !(flags & F.ACK)) conn.write(frame(T.PING, F.ACK, 0, payload));
        if (type === T.RST_STREAM) conn.resets.set(stream, payload.readUInt32BE(0));
        if (type === T.HEADERS) {
          let pad = 0;
          if (flags & F.PADDED) {
            pad = payload[0];
            payload = payload.subarray(1);
          }
          if (flags & F.PRIORITY) payload = payload.subarray(5);
          block = { stream, parts: [payload.subarray(0, payload.length - pad)] };
        } else if (type === T.CONTINUATION && block) {
          block.parts.push(payload);
        }
        if ((type === T.HEADERS || type === T.CONTINUATION) && flags & F.END_HEADERS && block) {
          const fields = decoder.decode(Buffer.concat(block.parts));
          const s = block.stream;
          block = null;
          onRequest(conn, s, Object.fromEntries(fields));
        }
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    port,
    url: (p = '/') => `https://localhost:${port}${p}`,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = {
  startHostileH2,
  frame,
  hpackInt,
  literal,
  status,
  STATUS_200,
  NEWEST_ENTRY,
  tableSize,
  headerFrames,
  T,
  F,
};
