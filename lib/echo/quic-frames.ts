// Part of the fingerprint echo server (lib/echo.ts): it reads what a client sent; the client never imports
// it. The frames of a decrypted QUIC packet (RFC 9000 §19, RFC 9221 DATAGRAM, the ack-frequency draft's
// ACK_FREQUENCY and IMMEDIATE_ACK), each as a structured entry and as the text the capture tooling of the
// shared ground truth writes (`STREAM(id=0,off=0,len=431,FIN)`), so the two can be compared line by line.
import { FrameError } from './quic';
import type { FrameReader } from './quic';
import { hexId } from './quic-params';

/** One frame of a decrypted packet. */
export interface QuicFrameInfo {
  /**
   * `STREAM`, `CRYPTO`, `ACK`, `ACK_ECN`, `PADDING`, `PING`, `NEW_CONNECTION_ID`, … (an unknown type ends the
   * packet's frame list with an ERR_QUIC_FRAME error).
   */
  type: string;
  /** As the ground truth's tooling writes it: `STREAM(id=0,off=0,len=431,FIN)`, `ACK(largest=0,…)`. */
  text: string;
  /** STREAM, RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA, STREAM_DATA_BLOCKED: the stream; else null. */
  stream_id: number | null;
  /** STREAM and CRYPTO: where the data goes; else null. */
  offset: number | null;
  /** STREAM, CRYPTO, NEW_TOKEN, DATAGRAM, PADDING: bytes; else null. */
  length: number | null;
  fin: boolean;
}

function num(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FrameError(`${what} ${v} is too large`);
  return Number(v);
}

function info(type: string, text: string, extra: Partial<QuicFrameInfo> = {}): QuicFrameInfo {
  return { type, text, stream_id: null, offset: null, length: null, fin: false, ...extra };
}

const EMPTY = Buffer.alloc(0);

/** Reads one frame; a frame that does not parse (or an unknown type) throws FrameError. */
export function readFrame(r: FrameReader, plain: Buffer): { info: QuicFrameInfo; data: Buffer } {
  const type = r.varint('frame type');
  const t = Number(type <= 0xffn ? type : 0xffffn);
  if (t === 0x00) {
    let run = 1;
    while (r.pos < plain.length && plain[r.pos] === 0) {
      r.pos++;
      run++;
    }
    return { info: info('PADDING', `PADDING(${run})`, { length: run }), data: EMPTY };
  }
  if (t === 0x01) return { info: info('PING', 'PING'), data: EMPTY };
  if (t === 0x02 || t === 0x03) {
    const largest = r.varint('ACK largest');
    const delay = r.varint('ACK delay');
    const count = r.varint('ACK range count');
    const first = r.varint('ACK first range');
    const ranges: string[] = [];
    // Each range takes at least 2 bytes, so the payload bounds this loop.
    for (let i = 0n; i < count; i++) ranges.push(`[${r.varint('ACK gap')},${r.varint('ACK range')}]`);
    if (t === 0x03) for (const what of ['ECT0', 'ECT1', 'ECN-CE']) r.varint(`ACK ${what} count`);
    const name = t === 0x03 ? 'ACK_ECN' : 'ACK';
    const tail = ranges.length ? `,ranges=[${ranges.join(',')}]` : '';
    return {
      info: info(name, `${name}(largest=${largest},delay=${delay},first=${first}${tail})`),
      data: EMPTY,
    };
  }
  if (t === 0x04) {
    const id = num(r.varint('RESET_STREAM id'), 'stream id');
    const code = r.varint('RESET_STREAM code');
    const size = r.varint('RESET_STREAM final size');
    return {
      info: info('RESET_STREAM', `RESET_STREAM(id=${id},error=${hexId(code)},final=${size})`, {
        stream_id: id,
      }),
      data: EMPTY,
    };
  }
  if (t === 0x05) {
    const id = num(r.varint('STOP_SENDING id'), 'stream id');
    const code = r.varint('STOP_SENDING code');
    return {
      info: info('STOP_SENDING', `STOP_SENDING(id=${id},error=${hexId(code)})`, { stream_id: id }),
      data: EMPTY,
    };
  }
  if (t === 0x06) {
    const offset = num(r.varint('CRYPTO offset'), 'CRYPTO offset');
    const data = r.bytes(r.varint('CRYPTO length'), 'CRYPTO data');
    return {
      info: info('CRYPTO', `CRYPTO(off=${offset},len=${data.length})`, { offset, length: data.length }),
      data,
    };
  }
  if (t === 0x07) {
    const token = r.bytes(r.varint('NEW_TOKEN length'), 'NEW_TOKEN token');
    return {
      info: info('NEW_TOKEN', `NEW_TOKEN(len=${token.length})`, { length: token.length }),
      data: EMPTY,
    };
  }
  if (t >= 0x08 && t <= 0x0f) {
    const id = num(r.varint('STREAM id'), 'stream id');
    const offset = t & 0x04 ? num(r.varint('STREAM offset'), 'STREAM offset') : 0;
    const data =
      t & 0x02
        ? r.bytes(r.varint('STREAM length'), 'STREAM data')
        : r.bytes(BigInt(plain.length - r.pos), 'STREAM data');
    const fin = (t & 0x01) !== 0;
    const text = `STREAM(id=${id},off=${offset},len=${data.length}${fin ? ',FIN' : ''})`;
    return { info: info('STREAM', text, { stream_id: id, offset, length: data.length, fin }), data };
  }
  const simple: Record<number, [string, string[]]> = {
    0x10: ['MAX_DATA', ['max']],
    0x11: ['MAX_STREAM_DATA', ['id', 'max']],
    0x12: ['MAX_STREAMS_BIDI', ['max']],
    0x13: ['MAX_STREAMS_UNI', ['max']],
    0x14: ['DATA_BLOCKED', ['limit']],
    0x15: ['STREAM_DATA_BLOCKED', ['id', 'limit']],
    0x16: ['STREAMS_BLOCKED_BIDI', ['limit']],
    0x17: ['STREAMS_BLOCKED_UNI', ['limit']],
    0x19: ['RETIRE_CONNECTION_ID', ['seq']],
    0x1e: ['HANDSHAKE_DONE', []],
    0x1f: ['IMMEDIATE_ACK', []],
    0xaf: ['ACK_FREQUENCY', ['seq', 'threshold', 'max_delay', 'reordering']],
  };
  const s = simple[t];
  if (s) {
    const values = s[1].map((field) => [field, r.varint(`${s[0]} ${field}`)] as const);
    const id = values.find(([field]) => field === 'id');
    const text = values.length ? `${s[0]}(${values.map(([f, v]) => `${f}=${v}`).join(',')})` : s[0];
    return { info: info(s[0], text, { stream_id: id ? num(id[1], 'stream id') : null }), data: EMPTY };
  }
  if (t === 0x18) {
    const seq = r.varint('NEW_CONNECTION_ID sequence');
    r.varint('NEW_CONNECTION_ID retire prior to');
    const len = r.bytes(1n, 'NEW_CONNECTION_ID length')[0];
    if (len < 1 || len > 20) throw new FrameError(`NEW_CONNECTION_ID length ${len}`);
    r.bytes(BigInt(len) + 16n, 'NEW_CONNECTION_ID id and reset token');
    return { info: info('NEW_CONNECTION_ID', `NEW_CONNECTION_ID(seq=${seq},len=${len})`), data: EMPTY };
  }
  if (t === 0x1a || t === 0x1b) {
    const name = t === 0x1a ? 'PATH_CHALLENGE' : 'PATH_RESPONSE';
    r.bytes(8n, name);
    return { info: info(name, name), data: EMPTY };
  }
  if (t === 0x1c || t === 0x1d) {
    const code = r.varint('CONNECTION_CLOSE error code');
    if (t === 0x1c) r.varint('CONNECTION_CLOSE frame type');
    const reason = r.bytes(r.varint('CONNECTION_CLOSE reason length'), 'CONNECTION_CLOSE reason');
    const name = t === 0x1c ? 'CONNECTION_CLOSE' : 'CONNECTION_CLOSE_APP';
    const text = `${name}(error=${hexId(code)},reason=${JSON.stringify(reason.toString('latin1'))})`;
    return { info: info(name, text), data: EMPTY };
  }
  if (t === 0x30 || t === 0x31) {
    const length = t === 0x31 ? r.varint('DATAGRAM length') : BigInt(plain.length - r.pos);
    const data = r.bytes(length, 'DATAGRAM data');
    return { info: info('DATAGRAM', `DATAGRAM(len=${data.length})`, { length: data.length }), data: EMPTY };
  }
  throw new FrameError(`unknown frame type ${hexId(type)}`);
}
