// RFC 6455 §5 framing, from the client's side: frames the server sends are parsed and checked
// (incrementally, for input cut anywhere), and frames for the server are built, always masked.
import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

export interface WsFrame {
  fin: boolean;
  /** Set on the first frame of a compressed message (permessage-deflate). */
  rsv1: boolean;
  opcode: number;
  payload: Buffer;
}

/**
 * A violation by the peer (or a limit it overran) that fails the connection. `closeCode` is the
 * status to send in our Close frame: 1002 protocol error, 1007 invalid data, 1009 too big, 1011
 * internal error.
 */
export class WsProtocolError extends Error {
  readonly closeCode: number;

  constructor(closeCode: number, message: string) {
    super(message);
    this.closeCode = closeCode;
    Object.defineProperty(this, 'name', { value: 'WsProtocolError', enumerable: false });
  }
}

export interface FrameParserOptions {
  /** Called for each complete frame, in order. */
  onFrame: (frame: WsFrame) => void;
  /** Bytes a data message (all its frames together) may declare; more is a 1009. Default: no limit. */
  maxPayload?: number;
  /** Whether permessage-deflate was negotiated: only then may RSV1 be set (on a message's first frame). */
  perMessageDeflate?: boolean;
}

const enum State {
  Header,
  Payload,
}

function isControl(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/**
 * Server frames in, in order, through `onFrame`. `push` throws a WsProtocolError at the first
 * violation, after every frame before it has been delivered; the parser is dead from then on (any
 * later push throws the same error). Besides single frames it follows the message sequence, so that
 * a continuation without a start, a new message inside a fragmented one, and a message whose frames
 * add up past maxPayload are caught here — before any payload of the offending frame is buffered.
 * Payloads are views of the input chunks when a frame lies within one chunk, else one copy.
 */
export class FrameParser {
  private readonly onFrame: (frame: WsFrame) => void;
  private readonly maxPayload: number;
  private readonly deflate: boolean;
  private chunks: Buffer[] = [];
  private head = 0;
  private buffered = 0;
  private state = State.Header;
  private fin = false;
  private rsv1 = false;
  private opcode = 0;
  private length = 0;
  /** A data message was started and its final frame has not come yet. */
  private fragmented = false;
  /** Payload bytes declared so far by the frames of the open data message. */
  private messageBytes = 0;
  private error: WsProtocolError | undefined;

  constructor(options: FrameParserOptions) {
    this.onFrame = options.onFrame;
    this.maxPayload = options.maxPayload ?? Infinity;
    this.deflate = options.perMessageDeflate === true;
  }

  push(chunk: Buffer): void {
    if (this.error) throw this.error;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    try {
      for (;;) {
        if (this.state === State.Header && !this.readHeader()) return;
        if (this.buffered < this.length) return;
        const payload = this.take(this.length);
        this.state = State.Header;
        this.onFrame({ fin: this.fin, rsv1: this.rsv1, opcode: this.opcode, payload });
      }
    } catch (err) {
      if (err instanceof WsProtocolError) {
        this.error = err;
        this.chunks = [];
        this.head = 0;
        this.buffered = 0;
      }
      throw err;
    }
  }

  /** Parses a frame header once all of it is buffered; false while it is not. */
  private readHeader(): boolean {
    if (this.buffered < 2) return false;
    const b = this.peek(2);
    const b0 = b[0];
    const b1 = b[1];
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    if ((b0 & 0x30) !== 0) throw new WsProtocolError(1002, 'RSV2 and RSV3 must be clear');
    if ((opcode > OP_BINARY && opcode < OP_CLOSE) || opcode > OP_PONG) {
      throw new WsProtocolError(1002, `reserved opcode ${opcode}`);
    }
    if (rsv1 && !(this.deflate && (opcode === OP_TEXT || opcode === OP_BINARY))) {
      throw new WsProtocolError(
        1002,
        this.deflate
          ? 'RSV1 set on a frame that does not start a data message'
          : 'RSV1 set but no extension was negotiated',
      );
    }
    if ((b1 & 0x80) !== 0) throw new WsProtocolError(1002, 'a server must not mask its frames');
    let length = b1 & 0x7f;
    if (isControl(opcode)) {
      if (!fin) throw new WsProtocolError(1002, 'fragmented control frame');
      if (length > 125) throw new WsProtocolError(1002, 'control frame payload longer than 125 bytes');
    }
    let size = 2;
    if (length === 126) size = 4;
    else if (length === 127) size = 10;
    if (this.buffered < size) return false;
    if (size > 2) {
      const ext = this.peek(size);
      if (size === 4) {
        length = ext.readUInt16BE(2);
      } else {
        const hi = ext.readUInt32BE(2);
        if (hi >= 0x80000000)
          throw new WsProtocolError(1002, '64-bit payload length with the most significant bit set');
        // Past 2^53 a length is not exact in a number, and far beyond any limit anyway.
        if (hi > 0x1fffff) throw new WsProtocolError(1009, 'frame payload length beyond 2^53 bytes');
        length = hi * 0x100000000 + ext.readUInt32BE(6);
      }
    }
    if (!isControl(opcode)) {
      if (opcode === OP_CONTINUATION) {
        if (!this.fragmented)
          throw new WsProtocolError(1002, 'continuation frame without a message to continue');
      } else {
        if (this.fragmented) throw new WsProtocolError(1002, 'new data message inside a fragmented one');
        this.messageBytes = 0;
      }
      if (this.messageBytes + length > this.maxPayload) {
        throw new WsProtocolError(1009, `message larger than the limit of ${this.maxPayload} bytes`);
      }
      this.messageBytes += length;
      this.fragmented = !fin;
    }
    this.skip(size);
    this.fin = fin;
    this.rsv1 = rsv1;
    this.opcode = opcode;
    this.length = length;
    this.state = State.Payload;
    return true;
  }

  /** The first n (≤ 10) buffered bytes, without consuming them. */
  private peek(n: number): Buffer {
    const first = this.chunks[this.head];
    if (first.length >= n) return first;
    return Buffer.concat(this.chunks.slice(this.head, this.head + n), n).subarray(0, n);
  }

  private skip(n: number): void {
    this.take(n);
  }

  /** Consumes n buffered bytes: a view when they lie in one chunk, else one copy. */
  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.buffered -= n;
    const first = this.chunks[this.head];
    if (first.length >= n) {
      if (first.length === n) this.shift();
      else this.chunks[this.head] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.head];
      const part = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, part);
      filled += part;
      if (part === c.length) this.shift();
      else this.chunks[this.head] = c.subarray(part);
    }
    return out;
  }

  private shift(): void {
    this.head++;
    // Compacts now and then rather than shifting the array on every chunk.
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 64) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

/** Masking keys come out of one block of random bytes, refilled when used up. */
const MASK_POOL_SIZE = 8192;
const maskPool = Buffer.allocUnsafe(MASK_POOL_SIZE);
let maskOffset = MASK_POOL_SIZE;

function nextMask(): Buffer {
  if (maskOffset + 4 > MASK_POOL_SIZE) {
    randomFillSync(maskPool);
    maskOffset = 0;
  }
  const mask = maskPool.subarray(maskOffset, maskOffset + 4);
  maskOffset += 4;
  return mask;
}

/**
 * XORs data[from..] with the 4-byte mask, in place; `from` must be 4-byte aligned in data's ArrayBuffer for
 * the fast path.
 */
function maskInPlace(data: Buffer, from: number, mask: Buffer): void {
  const n = data.length - from;
  let i = 0;
  const start = data.byteOffset + from;
  if (n >= 32 && start % 4 === 0) {
    // Whole 32-bit words in native byte order: the mask read through the same kind of view lines up
    // with the data bytes whatever the platform's endianness.
    const words = new Uint32Array(data.buffer, start, n >>> 2);
    const m = new Uint32Array(new Uint8Array(mask).buffer)[0];
    for (let w = 0; w < words.length; w++) words[w] ^= m;
    i = words.length * 4;
  }
  for (; i < n; i++) data[from + i] ^= mask[i & 3];
}

export interface EncodeOptions {
  /** Default true. */
  fin?: boolean;
  /** Marks a compressed message (first frame only). */
  rsv1?: boolean;
}

/**
 * The header of a client frame for a payload of `len` bytes, ending with `mask` (4 bytes), into
 * `out` at `at`; returns the header's size. */
function writeHeader(
  out: Buffer,
  at: number,
  opcode: number,
  len: number,
  opts: EncodeOptions,
  mask: Buffer,
): number {
  const lenSize = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  out[at] = (opts.fin === false ? 0 : 0x80) | (opts.rsv1 ? 0x40 : 0) | opcode;
  if (lenSize === 0) {
    out[at + 1] = 0x80 | len;
  } else if (lenSize === 2) {
    out[at + 1] = 0x80 | 126;
    out.writeUInt16BE(len, at + 2);
  } else {
    out[at + 1] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(len / 0x100000000), at + 2);
    out.writeUInt32BE(len >>> 0, at + 6);
  }
  mask.copy(out, at + 2 + lenSize);
  return 2 + lenSize + 4;
}

function headerSizeFor(len: number): number {
  return 2 + (len < 126 ? 0 : len < 0x10000 ? 2 : 8) + 4;
}

/**
 * One client frame, masked with a fresh key: header, key and masked payload in one Buffer (the
 * caller's payload is left untouched). The payload is placed at a 4-byte aligned offset so that
 * masking runs over 32-bit words.
 */
export function encodeFrame(opcode: number, payload: Buffer, opts: EncodeOptions = {}): Buffer {
  const len = payload.length;
  const headerSize = headerSizeFor(len);
  // Small frames come from node's pool (their masking is bytewise anyway); larger ones get an
  // ArrayBuffer of their own, so that the payload's alignment is ours to choose.
  const frame =
    len < 32
      ? Buffer.allocUnsafe(headerSize + len)
      : Buffer.from(new ArrayBuffer(headerSize + len + 3), (4 - (headerSize % 4)) % 4, headerSize + len);
  const mask = nextMask();
  writeHeader(frame, 0, opcode, len, opts, mask);
  payload.copy(frame, headerSize);
  maskInPlace(frame, headerSize, mask);
  return frame;
}

/**
 * Only the header of a client frame, its fresh mask key as the last 4 bytes: for a transport that
 * masks the payload as it copies it (one pass over the bytes instead of three).
 */
export function encodeFrameHeader(opcode: number, len: number, opts: EncodeOptions = {}): Buffer {
  const header = Buffer.allocUnsafe(headerSizeFor(len));
  writeHeader(header, 0, opcode, len, opts, nextMask());
  return header;
}

/**
 * Close codes that may appear in a Close frame (RFC 6455 §7.4 and the IANA registry): 1000–1003,
 * 1007–1014, and 3000–4999 for libraries and applications. 1004 is reserved; 1005, 1006 and 1015
 * only stand for conditions and are never sent.
 */
export function isValidCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

/** A Close frame's payload: the code (big-endian) then the UTF-8 reason. */
export function closePayload(code: number, reason: string): Buffer {
  const reasonBytes = Buffer.from(reason, 'utf8');
  const out = Buffer.allocUnsafe(2 + reasonBytes.length);
  out.writeUInt16BE(code, 0);
  reasonBytes.copy(out, 2);
  return out;
}

/**
 * A received Close frame's payload: 1005 with an empty reason when it has none. A 1-byte payload
 * or a code that may not be sent is a 1002; a reason that is not UTF-8 a 1007.
 */
export function parseClosePayload(payload: Buffer): { code: number; reason: string } {
  if (payload.length === 0) return { code: 1005, reason: '' };
  if (payload.length === 1) throw new WsProtocolError(1002, 'Close frame with a 1-byte payload');
  const code = payload.readUInt16BE(0);
  if (!isValidCloseCode(code)) throw new WsProtocolError(1002, `invalid close code ${code}`);
  let reason: string;
  try {
    reason = new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(2));
  } catch {
    throw new WsProtocolError(1007, 'close reason is not valid UTF-8');
  }
  return { code, reason };
}
