// Part of the fingerprint echo server (lib/echo.ts): it reads what a client sent; the client never imports
// it. A QPACK decoder (RFC 9204) for offline reading: the encoder stream's instructions build the dynamic
// table (every entry ever inserted is kept with the insert count that evicted it, so a field section is
// resolved against the table as it stood at its Required Insert Count), the decoder stream's instructions are
// listed, and each field section decodes into its field lines with how each was encoded (static exact, static
// name, dynamic, post-base, literal). Integers and Huffman strings are HPACK's (lib/echo/hpack.ts).
import { HpackError, decodeInteger, huffmanDecode } from './hpack';
import type { HeaderField } from './hpack';

export class QpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QpackError';
  }
}

/** RFC 9204 Appendix A. */
export const QPACK_STATIC_TABLE: ReadonlyArray<HeaderField> = (
  [
    [':authority', ''],
    [':path', '/'],
    ['age', '0'],
    ['content-disposition', ''],
    ['content-length', '0'],
    ['cookie', ''],
    ['date', ''],
    ['etag', ''],
    ['if-modified-since', ''],
    ['if-none-match', ''],
    ['last-modified', ''],
    ['link', ''],
    ['location', ''],
    ['referer', ''],
    ['set-cookie', ''],
    [':method', 'CONNECT'],
    [':method', 'DELETE'],
    [':method', 'GET'],
    [':method', 'HEAD'],
    [':method', 'OPTIONS'],
    [':method', 'POST'],
    [':method', 'PUT'],
    [':scheme', 'http'],
    [':scheme', 'https'],
    [':status', '103'],
    [':status', '200'],
    [':status', '304'],
    [':status', '404'],
    [':status', '503'],
    ['accept', '*/*'],
    ['accept', 'application/dns-message'],
    ['accept-encoding', 'gzip, deflate, br'],
    ['accept-ranges', 'bytes'],
    ['access-control-allow-headers', 'cache-control'],
    ['access-control-allow-headers', 'content-type'],
    ['access-control-allow-origin', '*'],
    ['cache-control', 'max-age=0'],
    ['cache-control', 'max-age=2592000'],
    ['cache-control', 'max-age=604800'],
    ['cache-control', 'no-cache'],
    ['cache-control', 'no-store'],
    ['cache-control', 'public, max-age=31536000'],
    ['content-encoding', 'br'],
    ['content-encoding', 'gzip'],
    ['content-type', 'application/dns-message'],
    ['content-type', 'application/javascript'],
    ['content-type', 'application/json'],
    ['content-type', 'application/x-www-form-urlencoded'],
    ['content-type', 'image/gif'],
    ['content-type', 'image/jpeg'],
    ['content-type', 'image/png'],
    ['content-type', 'text/css'],
    ['content-type', 'text/html; charset=utf-8'],
    ['content-type', 'text/plain'],
    ['content-type', 'text/plain;charset=utf-8'],
    ['range', 'bytes=0-'],
    ['strict-transport-security', 'max-age=31536000'],
    ['strict-transport-security', 'max-age=31536000; includesubdomains'],
    ['strict-transport-security', 'max-age=31536000; includesubdomains; preload'],
    ['vary', 'accept-encoding'],
    ['vary', 'origin'],
    ['x-content-type-options', 'nosniff'],
    ['x-xss-protection', '1; mode=block'],
    [':status', '100'],
    [':status', '204'],
    [':status', '206'],
    [':status', '302'],
    [':status', '400'],
    [':status', '403'],
    [':status', '421'],
    [':status', '425'],
    [':status', '500'],
    ['accept-language', ''],
    ['access-control-allow-credentials', 'FALSE'],
    ['access-control-allow-credentials', 'TRUE'],
    ['access-control-allow-headers', '*'],
    ['access-control-allow-methods', 'get'],
    ['access-control-allow-methods', 'get, post, options'],
    ['access-control-allow-methods', 'options'],
    ['access-control-expose-headers', 'content-length'],
    ['access-control-request-headers', 'content-type'],
    ['access-control-request-method', 'get'],
    ['access-control-request-method', 'post'],
    ['alt-svc', 'clear'],
    ['authorization', ''],
    ['content-security-policy', "script-src 'none'; object-src 'none'; base-uri 'none'"],
    ['early-data', '1'],
    ['expect-ct', ''],
    ['forwarded', ''],
    ['if-range', ''],
    ['origin', ''],
    ['purpose', 'prefetch'],
    ['server', ''],
    ['timing-allow-origin', '*'],
    ['upgrade-insecure-requests', '1'],
    ['user-agent', ''],
    ['x-forwarded-for', ''],
    ['x-frame-options', 'deny'],
    ['x-frame-options', 'sameorigin'],
  ] as Array<[string, string]>
).map(([n, v]): HeaderField => [n, v]);

export type QpackEncoderInstruction =
  | { op: 'set_dynamic_table_capacity'; capacity: number }
  | {
      op: 'insert_with_name_reference';
      /** The name comes from the static table (else from the dynamic table, relative index). */
      static: boolean;
      index: number;
      name: string;
      value: string;
      value_huffman: boolean;
    }
  | {
      op: 'insert_with_literal_name';
      name: string;
      value: string;
      name_huffman: boolean;
      value_huffman: boolean;
    }
  | { op: 'duplicate'; index: number; name: string; value: string };

export type QpackDecoderInstruction =
  | { op: 'section_acknowledgment'; stream_id: number }
  | { op: 'stream_cancellation'; stream_id: number }
  | { op: 'insert_count_increment'; increment: number };

/** RFC 9204 §4.5.2–4.5.6: how a field line was encoded. */
export type QpackRepresentation =
  | 'indexed_static'
  | 'indexed_dynamic'
  | 'indexed_post_base'
  | 'literal_static_name_ref'
  | 'literal_dynamic_name_ref'
  | 'literal_post_base_name_ref'
  | 'literal_literal_name';

export interface QpackFieldLine {
  name: string;
  value: string;
  rep: QpackRepresentation;
  /** The index on the wire (static, relative or post-base); null for a literal name. */
  index: number | null;
  /** Dynamic and post-base references: the entry's absolute index; else null. */
  absolute_index: number | null;
  /** Literals: the N (never-indexed) bit; false for indexed lines. */
  never_index: boolean;
  /** Literal names: Huffman-coded or not; else null. */
  name_huffman: boolean | null;
  /** Literal values: Huffman-coded or not; else null. */
  value_huffman: boolean | null;
}

export interface QpackFieldSection {
  required_insert_count: number;
  base: number;
  field_lines: QpackFieldLine[];
  headers: HeaderField[];
}

interface Entry {
  name: string;
  value: string;
  size: number;
  /** The absolute index of the insert that evicted it (null while it is in the table). */
  evictedBy: number | null;
}

const MAX_FIELD_LINES = 1024;
const MAX_INSTRUCTIONS = 8192;

function readString(
  buf: Uint8Array,
  pos: number,
  prefixBits: number,
): { text: string; huffman: boolean; next: number } {
  if (pos >= buf.length) throw new QpackError('truncated string');
  const huffman = (buf[pos] & (1 << prefixBits)) !== 0;
  const { value: len, next } = decodeInteger(buf, pos, prefixBits);
  if (len > buf.length - next) throw new QpackError(`string of ${len} bytes runs past the end`);
  const raw = buf.subarray(next, next + len);
  const bytes = huffman ? huffmanDecode(raw) : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  return { text: bytes.toString('latin1'), huffman, next: next + len };
}

function staticEntry(index: number): HeaderField {
  const e = QPACK_STATIC_TABLE[index];
  if (!e) throw new QpackError(`static index ${index} is not in the table (0..98)`);
  return e;
}

/** The dynamic table of one QPACK encoder stream, with its whole history. */
export class QpackTable {
  private readonly entries: Entry[] = [];
  private capacity = 0;
  private used = 0;
  /** Oldest entry still in the table. */
  private oldest = 0;

  /** @param maxCapacity the decoder's SETTINGS_QPACK_MAX_TABLE_CAPACITY (null: unknown, not enforced). */
  constructor(readonly maxCapacity: number | null) {}

  get insertCount(): number {
    return this.entries.length;
  }

  /** Reads encoder-stream instructions (after the stream type); throws QpackError/HpackError. */
  readEncoderStream(data: Uint8Array, out: QpackEncoderInstruction[]): void {
    let pos = 0;
    while (pos < data.length) {
      if (out.length >= MAX_INSTRUCTIONS) throw new QpackError(`more than ${MAX_INSTRUCTIONS} instructions`);
      const b = data[pos];
      if (b & 0x80) {
        const isStatic = (b & 0x40) !== 0;
        const { value: index, next } = decodeInteger(data, pos, 6);
        const value = readString(data, next, 7);
        pos = value.next;
        const name = isStatic ? staticEntry(index)[0] : this.relative(index).name;
        this.insert(name, value.text);
        out.push({
          op: 'insert_with_name_reference',
          static: isStatic,
          index,
          name,
          value: value.text,
          value_huffman: value.huffman,
        });
      } else if (b & 0x40) {
        const name = readString(data, pos, 5);
        const value = readString(data, name.next, 7);
        pos = value.next;
        this.insert(name.text, value.text);
        out.push({
          op: 'insert_with_literal_name',
          name: name.text,
          value: value.text,
          name_huffman: name.huffman,
          value_huffman: value.huffman,
        });
      } else if (b & 0x20) {
        const { value: capacity, next } = decodeInteger(data, pos, 5);
        pos = next;
        if (this.maxCapacity !== null && capacity > this.maxCapacity)
          throw new QpackError(`capacity ${capacity} above the decoder's maximum ${this.maxCapacity}`);
        this.capacity = capacity;
        this.evict(0, this.entries.length);
        out.push({ op: 'set_dynamic_table_capacity', capacity });
      } else {
        const { value: index, next } = decodeInteger(data, pos, 5);
        pos = next;
        const e = this.relative(index);
        this.insert(e.name, e.value);
        out.push({ op: 'duplicate', index, name: e.name, value: e.value });
      }
    }
  }

  /** An entry by its index relative to the current insert count (encoder instructions). */
  private relative(index: number): Entry {
    const absolute = this.entries.length - 1 - index;
    if (absolute < this.oldest) throw new QpackError(`relative index ${index} is not in the dynamic table`);
    return this.entries[absolute];
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + 32;
    if (size > this.capacity)
      throw new QpackError(`entry of ${size} bytes exceeds the capacity ${this.capacity}`);
    this.evict(size, this.entries.length);
    this.entries.push({ name, value, size, evictedBy: null });
    this.used += size;
  }

  private evict(room: number, by: number): void {
    while (this.used + room > this.capacity && this.oldest < this.entries.length) {
      const e = this.entries[this.oldest++];
      e.evictedBy = by;
      this.used -= e.size;
    }
  }

  /** An entry by absolute index as a section with Required Insert Count `ric` sees it. */
  lookup(absolute: number, ric: number): Entry {
    if (absolute < 0 || absolute >= ric)
      throw new QpackError(`dynamic index ${absolute} outside the Required Insert Count ${ric}`);
    const e = this.entries[absolute];
    if (!e)
      throw new QpackError(`dynamic index ${absolute} was never inserted (${this.entries.length} inserts)`);
    if (e.evictedBy !== null && e.evictedBy < ric)
      throw new QpackError(`dynamic index ${absolute} was evicted`);
    return e;
  }

  /** RFC 9204 §4.5.1.1: the Required Insert Count from its encoded form. */
  requiredInsertCount(encoded: number): number {
    if (encoded === 0) return 0;
    const maxEntries = Math.floor((this.maxCapacity ?? this.capacity) / 32);
    const fullRange = 2 * maxEntries;
    if (encoded > fullRange)
      throw new QpackError(`encoded Required Insert Count ${encoded} above ${fullRange}`);
    const maxValue = this.entries.length + maxEntries;
    let ric = Math.floor(maxValue / fullRange) * fullRange + encoded - 1;
    if (ric > maxValue) {
      if (ric <= fullRange) throw new QpackError(`bad encoded Required Insert Count ${encoded}`);
      ric -= fullRange;
    }
    if (ric === 0) throw new QpackError(`bad encoded Required Insert Count ${encoded}`);
    return ric;
  }

  /** Decodes one field section (a HEADERS frame's payload). Throws QpackError/HpackError. */
  decodeSection(block: Uint8Array): QpackFieldSection {
    const enc = decodeInteger(block, 0, 8);
    const ric = this.requiredInsertCount(enc.value);
    if (enc.next >= block.length) throw new QpackError('field section ends after its Required Insert Count');
    const sign = (block[enc.next] & 0x80) !== 0;
    const delta = decodeInteger(block, enc.next, 7);
    const base = sign ? ric - delta.value - 1 : ric + delta.value;
    if (base < 0) throw new QpackError(`negative Base (${ric} - ${delta.value} - 1)`);
    const lines: QpackFieldLine[] = [];
    let pos = delta.next;
    while (pos < block.length) {
      if (lines.length >= MAX_FIELD_LINES) throw new QpackError(`more than ${MAX_FIELD_LINES} field lines`);
      const r = this.fieldLine(block, pos, ric, base);
      lines.push(r.line);
      pos = r.next;
    }
    return {
      required_insert_count: ric,
      base,
      field_lines: lines,
      headers: lines.map((l): HeaderField => [l.name, l.value]),
    };
  }

  private fieldLine(
    block: Uint8Array,
    pos: number,
    ric: number,
    base: number,
  ): { line: QpackFieldLine; next: number } {
    const b = block[pos];
    const line: QpackFieldLine = {
      name: '',
      value: '',
      rep: 'indexed_static',
      index: null,
      absolute_index: null,
      never_index: false,
      name_huffman: null,
      value_huffman: null,
    };
    let next: number;
    let ref: HeaderField;
    if (b & 0x80) {
      const r = decodeInteger(block, pos, 6);
      next = r.next;
      line.index = r.value;
      if (b & 0x40) {
        ref = staticEntry(r.value);
      } else {
        line.rep = 'indexed_dynamic';
        ref = this.dynamic(line, base - 1 - r.value, ric);
      }
      [line.name, line.value] = ref;
      return { line, next };
    }
    if ((b & 0xf0) === 0x10) {
      const r = decodeInteger(block, pos, 4);
      line.rep = 'indexed_post_base';
      line.index = r.value;
      [line.name, line.value] = this.dynamic(line, base + r.value, ric);
      return { line, next: r.next };
    }
    if (b & 0x40) {
      line.never_index = (b & 0x20) !== 0;
      const r = decodeInteger(block, pos, 4);
      line.index = r.value;
      if (b & 0x10) {
        line.rep = 'literal_static_name_ref';
        line.name = staticEntry(r.value)[0];
      } else {
        line.rep = 'literal_dynamic_name_ref';
        line.name = this.dynamic(line, base - 1 - r.value, ric)[0];
      }
      next = r.next;
    } else if (b & 0x20) {
      line.rep = 'literal_literal_name';
      line.never_index = (b & 0x10) !== 0;
      const name = readString(block, pos, 3);
      line.name = name.text;
      line.name_huffman = name.huffman;
      next = name.next;
    } else {
      line.rep = 'literal_post_base_name_ref';
      line.never_index = (b & 0x08) !== 0;
      const r = decodeInteger(block, pos, 3);
      line.index = r.value;
      line.name = this.dynamic(line, base + r.value, ric)[0];
      next = r.next;
    }
    const value = readString(block, next, 7);
    line.value = value.text;
    line.value_huffman = value.huffman;
    return { line, next: value.next };
  }

  private dynamic(line: QpackFieldLine, absolute: number, ric: number): HeaderField {
    line.absolute_index = absolute;
    const e = this.lookup(absolute, ric);
    return [e.name, e.value];
  }
}

/** Reads decoder-stream instructions (after the stream type); throws QpackError/HpackError. */
export function readDecoderStream(data: Uint8Array, out: QpackDecoderInstruction[]): void {
  let pos = 0;
  while (pos < data.length) {
    if (out.length >= MAX_INSTRUCTIONS) throw new QpackError(`more than ${MAX_INSTRUCTIONS} instructions`);
    const b = data[pos];
    if (b & 0x80) {
      const r = decodeInteger(data, pos, 7);
      out.push({ op: 'section_acknowledgment', stream_id: r.value });
      pos = r.next;
    } else if (b & 0x40) {
      const r = decodeInteger(data, pos, 6);
      out.push({ op: 'stream_cancellation', stream_id: r.value });
      pos = r.next;
    } else {
      const r = decodeInteger(data, pos, 6);
      if (r.value === 0) throw new QpackError('Insert Count Increment of 0');
      out.push({ op: 'insert_count_increment', increment: r.value });
      pos = r.next;
    }
  }
}

/** The message of a QPACK or HPACK decoding error; anything else is a bug and is rethrown. */
export function qpackMessage(err: unknown): string {
  if (err instanceof QpackError || err instanceof HpackError) return err.message;
  throw err;
}
