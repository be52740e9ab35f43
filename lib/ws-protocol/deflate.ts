// permessage-deflate (RFC 7692) for the client: the offer, the validation of the server's answer
// (§7.1), and the per-message compressor and decompressor over node's zlib streams.
import { Buffer } from 'node:buffer';
import * as zlib from 'node:zlib';

import { CycleTLSError } from '../errors';
import { WsProtocolError } from './frame';

export interface NegotiatedDeflate {
  /** The server resets its compression context after each message. */
  serverNoContextTakeover: boolean;
  /** We must reset ours after each message. */
  clientNoContextTakeover: boolean;
  /** The server's LZ77 window, 8–15 (15 when it said nothing). */
  serverMaxWindowBits: number;
  /** The window we may use, 8–15 (15 when the server said nothing). */
  clientMaxWindowBits: number;
}

export function handshakeFailure(message: string): CycleTLSError {
  return new CycleTLSError('ERR_PROTOCOL', `WebSocket handshake failed: ${message}`, 'headers');
}

/**
 * The Sec-WebSocket-Extensions value a browser offers: Chromium (and so Chrome's WebSocket over
 * HTTP/1.1) offers `permessage-deflate; client_max_window_bits`, Firefox a bare `permessage-deflate`.
 */
export function deflateOffer(offerClientMaxWindowBits: boolean): string {
  return offerClientMaxWindowBits ? 'permessage-deflate; client_max_window_bits' : 'permessage-deflate';
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Splits at `sep` outside quoted strings; a quote left open is a syntax error. */
function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === sep) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted)
    throw handshakeFailure(`unterminated quoted string in Sec-WebSocket-Extensions: ${JSON.stringify(s)}`);
  out.push(s.slice(start));
  return out;
}

interface ExtensionElement {
  name: string;
  params: Array<[string, string | undefined]>;
}

/**
 * The extension list of RFC 6455 §9.1: `name *(; param[=value])`, comma-separated. A quoted value
 * must be a token once unescaped. Empty list elements are skipped, as HTTP's list rule allows.
 */
export function parseExtensionList(value: string): ExtensionElement[] {
  const out: ExtensionElement[] = [];
  for (const element of splitOutsideQuotes(value, ',')) {
    if (element.trim() === '') continue;
    const [rawName, ...rawParams] = splitOutsideQuotes(element, ';');
    const name = rawName.trim();
    if (!TOKEN.test(name)) throw handshakeFailure(`invalid extension name ${JSON.stringify(name)}`);
    const params: Array<[string, string | undefined]> = [];
    for (const rawParam of rawParams) {
      const eq = rawParam.indexOf('=');
      const key = (eq < 0 ? rawParam : rawParam.slice(0, eq)).trim();
      let v: string | undefined;
      if (eq >= 0) {
        v = rawParam.slice(eq + 1).trim();
        if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
      }
      if (!TOKEN.test(key) || (v !== undefined && !TOKEN.test(v))) {
        throw handshakeFailure(`invalid parameter ${JSON.stringify(rawParam.trim())} of extension ${name}`);
      }
      params.push([key, v]);
    }
    out.push({ name, params });
  }
  return out;
}

function windowBits(name: string, v: string | undefined): number {
  // §7.1.2: a decimal integer from 8 to 15 without a leading zero.
  if (v === undefined || !/^(8|9|1[0-5])$/.test(v)) {
    throw handshakeFailure(
      `permessage-deflate parameter ${name} needs a value from 8 to 15, ` +
        `got ${v === undefined ? 'none' : JSON.stringify(v)}`,
    );
  }
  return Number(v);
}

/**
 * Validates the server's Sec-WebSocket-Extensions answer (all its header lines joined with ", ")
 * against our permessage-deflate offer, RFC 7692 §7.1: any other extension, a second
 * permessage-deflate, an unknown or repeated parameter, a value on a flag, window bits outside
 * 8–15, and client_max_window_bits when we did not offer it fail the handshake. Undefined when the
 * server declined compression (no extension at all).
 */
export function parseDeflateResponse(
  value: string,
  offeredClientMaxWindowBits: boolean,
): NegotiatedDeflate | undefined {
  const elements = parseExtensionList(value);
  if (elements.length === 0) return undefined;
  if (elements.length > 1) {
    throw handshakeFailure(
      `the server accepted more extensions than the one offered: ${JSON.stringify(value)}`,
    );
  }
  const [{ name, params }] = elements;
  if (name.toLowerCase() !== 'permessage-deflate')
    throw handshakeFailure(`the server accepted extension "${name}", which was not offered`);
  const out: NegotiatedDeflate = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const seen = new Set<string>();
  for (const [key, v] of params) {
    const k = key.toLowerCase();
    if (seen.has(k)) throw handshakeFailure(`permessage-deflate parameter ${key} given twice`);
    seen.add(k);
    switch (k) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (v !== undefined) throw handshakeFailure(`permessage-deflate parameter ${key} takes no value`);
        if (k === 'server_no_context_takeover') out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        out.serverMaxWindowBits = windowBits(key, v);
        break;
      case 'client_max_window_bits':
        if (!offeredClientMaxWindowBits)
          throw handshakeFailure('the server sent client_max_window_bits, which was not offered');
        out.clientMaxWindowBits = windowBits(key, v);
        break;
      default:
        throw handshakeFailure(`unknown permessage-deflate parameter ${key}`);
    }
  }
  return out;
}

/** The four octets a sync flush ends with; stripped from each compressed message (§7.2.1). */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** An empty message, compressed (§7.2.3.6): an empty stored block's first octet. */
const EMPTY = Buffer.from([0x00]);

type ZlibStream = zlib.DeflateRaw | zlib.InflateRaw;

/** Runs operations one at a time in call order: zlib streams are asynchronous. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(op: () => Promise<T>): Promise<T> {
    const next = this.tail.then(op, op);
    this.tail = next.then(noop, noop);
    return next;
  }
}

function noop(): void {
  /* a settled promise's handler */
}

function closedError(): CycleTLSError {
  return new CycleTLSError('ERR_CONNECTION_CLOSED', 'the WebSocket connection is closed', 'body');
}

export interface DeflateTuning {
  /** zlib compression level, default zlib's (6). */
  level?: number;
  /** zlib memLevel, default 8. */
  memLevel?: number;
}

/**
 * The compression contexts of one connection. compress() and decompress() each run in call order;
 * after close() every pending and later call rejects.
 */
export class PerMessageDeflate {
  readonly params: NegotiatedDeflate;
  private readonly tuning: DeflateTuning;
  private deflater: zlib.DeflateRaw | undefined;
  private inflater: zlib.InflateRaw | undefined;
  private readonly compressQueue = new SerialQueue();
  private readonly decompressQueue = new SerialQueue();
  /** Aborts of the operations in flight, to settle them on close(). */
  private readonly inFlight = new Set<(err: Error) => void>();
  private closed = false;

  constructor(params: NegotiatedDeflate, tuning: DeflateTuning = {}) {
    this.params = params;
    this.tuning = tuning;
  }

  /** A message's payload, compressed, without the trailing 00 00 ff ff. */
  compress(data: Buffer): Promise<Buffer> {
    return this.compressQueue.run(async () => {
      if (this.closed) throw closedError();
      // zlib refuses an 8-bit window for raw deflate, and node turns 8 into 9 the same way: 9 is
      // safe for a peer that allows only 8, because zlib's deflate never reaches back further than
      // its window minus 262 bytes (MIN_LOOKAHEAD), i.e. 250 bytes with a 512-byte window.
      const stream = (this.deflater ??= zlib.createDeflateRaw({
        windowBits: Math.max(9, this.params.clientMaxWindowBits),
        level: this.tuning.level,
        memLevel: this.tuning.memLevel,
      }));
      let out = await this.process(stream, [data], Infinity);
      if (this.params.clientNoContextTakeover) stream.reset();
      if (out.length >= 4 && out.subarray(out.length - 4).equals(TAIL)) out = out.subarray(0, out.length - 4);
      return out.length === 0 ? EMPTY : out;
    });
  }

  /**
   * A compressed message's payload, inflated. Rejects with a 1009 WsProtocolError as soon as the
   * output passes maxBytes (the stream is dropped there, so a bomb costs at most one more zlib chunk),
   * and with a 1007 on data that does not inflate.
   */
  decompress(data: Buffer, maxBytes: number): Promise<Buffer> {
    return this.decompressQueue.run(async () => {
      if (this.closed) throw closedError();
      // Any window up to 15 bits inflates what a peer limited to fewer bits produced.
      const stream = (this.inflater ??= zlib.createInflateRaw({ windowBits: 15 }));
      const out = await this.process(stream, [data, TAIL], maxBytes);
      if (this.params.serverNoContextTakeover) stream.reset();
      return out;
    });
  }

  /** Frees both zlib streams; operations in flight or queued reject. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const abort of [...this.inFlight]) abort(closedError());
    for (const s of [this.deflater, this.inflater]) if (s) this.drop(s);
  }

  /** Forgets a stream: the next operation of its direction starts a new context. */
  private drop(stream: ZlibStream): void {
    if (stream === this.deflater) this.deflater = undefined;
    if (stream === this.inflater) this.inflater = undefined;
    // Late errors of a closed stream (a write it had queued) must not go unhandled.
    stream.on('error', noop);
    stream.close();
  }

  /** Writes the inputs, sync-flushes, and collects the output up to maxBytes. */
  private process(stream: ZlibStream, inputs: Buffer[], maxBytes: number): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (err: Error | undefined, ended = false): void => {
        if (settled) return;
        settled = true;
        this.inFlight.delete(settle);
        stream.off('data', onData);
        stream.off('error', onError);
        stream.off('end', onEnd);
        if (err || ended) this.drop(stream);
        if (err) reject(err);
        else resolve(Buffer.concat(chunks, size));
      };
      // A block with BFINAL set ends the zlib stream (the rest of the input, our tail, is ignored):
      // the message is complete, and the next one needs a fresh context.
      const onEnd = (): void => settle(undefined, true);
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (size > maxBytes)
          settle(
            new WsProtocolError(1009, `decompressed message larger than the limit of ${maxBytes} bytes`),
          );
        else chunks.push(chunk);
      };
      const onError = (err: Error): void => {
        settle(
          stream instanceof zlib.InflateRaw
            ? new WsProtocolError(1007, `invalid compressed data: ${err.message}`)
            : new WsProtocolError(1011, `compression failed: ${err.message}`),
        );
      };
      this.inFlight.add(settle);
      stream.on('data', onData);
      stream.on('error', onError);
      stream.on('end', onEnd);
      for (const input of inputs) stream.write(input);
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => settle(undefined));
    });
  }
}
