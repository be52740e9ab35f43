'use strict';
// WebSocket frames for the tests: server frames built by hand (so that the parser is not checked
// against itself), and client frames taken apart.

/** A server frame as the RFC lays it out; `len` forces a length form (7, 16 or 64 bits), `mask` a masking key. */
function serverFrame(
  opcode,
  payload = Buffer.alloc(0),
  { fin = true, rsv1 = false, rsv2 = false, rsv3 = false, len, mask } = {},
) {
  const n = payload.length;
  const form = len ?? (n < 126 ? 7 : n < 65536 ? 16 : 64);
  const head = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (rsv2 ? 0x20 : 0) | (rsv3 ? 0x10 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (form === 7) head.push(m | n);
  else if (form === 16) {
    head.push(m | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(n);
  } else {
    head.push(m | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(n));
  }
  let body = payload;
  if (mask) body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from(head), ext, mask ? Buffer.from(mask) : Buffer.alloc(0), body]);
}

/** A client frame taken apart: header bits, the key, and the payload unmasked. */
function decodeClientFrame(buf) {
  const b0 = buf[0];
  const b1 = buf[1];
  if ((b1 & 0x80) === 0) throw new Error('client frame not masked');
  let len = b1 & 0x7f;
  let off = 2;
  if (len === 126) {
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  const mask = buf.subarray(off, off + 4);
  const masked = buf.subarray(off + 4);
  if (masked.length !== len) throw new Error(`frame length ${masked.length}, header says ${len}`);
  const payload = Buffer.from(masked.map((b, i) => b ^ mask[i % 4]));
  return {
    fin: (b0 & 0x80) !== 0,
    rsv1: (b0 & 0x40) !== 0,
    opcode: b0 & 0x0f,
    mask: Buffer.from(mask),
    payload,
    lenForm: b1 & 0x7f,
  };
}

/**
 * Reads `socket` up to the end of an HTTP/1.1 head (CRLF CRLF), then stops listening and calls
 * onHead(head, rest): the head's bytes (the blank line included) and what came after them.
 */
function readHead(socket, onHead) {
  let buf = Buffer.alloc(0);
  const onData = (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    socket.off('data', onData);
    onHead(buf.subarray(0, end + 4), buf.subarray(end + 4));
  };
  socket.on('data', onData);
}

/**
 * A WebSocket echo on a byte stream (an RFC 8441 HTTP/2 stream): client frames in (masked), the same
 * frames out (unmasked); after a Close, the stream ends.
 */
function echoClientFrames(stream) {
  let buf = Buffer.alloc(0);
  stream.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      if (buf.length < off + 4 + len) return;
      const frame = decodeClientFrame(buf.subarray(0, off + 4 + len));
      buf = buf.subarray(off + 4 + len);
      stream.write(serverFrame(frame.opcode, frame.payload, { fin: frame.fin }));
      if (frame.opcode === 8) stream.end();
    }
  });
  stream.on('error', () => {});
}

module.exports = { serverFrame, decodeClientFrame, readHead, echoClientFrames };
