// Part of the fingerprint echo server (lib/echo.ts): it parses what a client sent; the client never imports
// it. HPACK decoder (RFC 7541): integer and string literals, static and dynamic tables, Huffman decoding.
// Decoding only: the echo server reads what a client sent, in the order it was sent.

export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HpackError';
  }
}

/** One header field as [name, value]; strings are the octets as latin1 (one char per byte, lossless). */
export type HeaderField = [name: string, value: string];

/** RFC 7541 Appendix A. Index 1 is STATIC_TABLE[0]. */
export const STATIC_TABLE: ReadonlyArray<HeaderField> = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/**
 * RFC 7541 Appendix B: the code length in bits of each symbol 0..255 and EOS (256). The code is canonical
 * (codes assigned in order of length, then symbol), so the lengths define the codes.
 */
const HUFFMAN_CODE_LENGTHS: ReadonlyArray<number> = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28,
  28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7,
  8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19,
  13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13,
  28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21,
  22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23,
  22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25,
  25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];
const EOS = 256;

/** The canonical codes, [code, bits] per symbol. Exported for tests. */
export const HUFFMAN_CODES: ReadonlyArray<readonly [number, number]> = (() => {
  const order = HUFFMAN_CODE_LENGTHS.map((len, sym) => ({ len, sym })).sort(
    (x, y) => x.len - y.len || x.sym - y.sym,
  );
  const out: Array<[number, number]> = new Array(HUFFMAN_CODE_LENGTHS.length);
  let code = 0;
  let prevLen = order[0].len;
  order.forEach(({ len, sym }, i) => {
    if (i > 0) code = (code + 1) * 2 ** (len - prevLen);
    prevLen = len;
    out[sym] = [code, len];
  });
  return out;
})();

/**
 * Binary decoding trie: node n has children at TRIE[2n] (bit 0) and TRIE[2n+1] (bit 1); a leaf is -(symbol +
 * 1).
 */
const TRIE: Int32Array = (() => {
  const children: number[] = [0, 0];
  let nodes = 1;
  HUFFMAN_CODES.forEach(([code, len], sym) => {
    let node = 0;
    for (let bit = len - 1; bit >= 0; bit--) {
      const b = Math.floor(code / 2 ** bit) % 2;
      const slot = 2 * node + b;
      if (bit === 0) {
        children[slot] = -(sym + 1);
      } else {
        if (children[slot] === 0) {
          children[slot] = nodes++;
          children.push(0, 0);
        }
        node = children[slot];
      }
    }
  });
  return Int32Array.from(children);
})();

/**
 * Decodes a Huffman-coded string literal (RFC 7541 §5.2): padding must be the EOS prefix and shorter than 8
 * bits.
 */
export function huffmanDecode(input: Uint8Array): Buffer {
  const out: number[] = [];
  let node = 0;
  let depth = 0; // bits consumed since the last symbol
  let allOnes = true;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i];
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >> bit) & 1;
      const next = TRIE[2 * node + b];
      depth++;
      if (b === 0) allOnes = false;
      if (next < 0) {
        const sym = -next - 1;
        if (sym === EOS) throw new HpackError('Huffman string contains EOS');
        out.push(sym);
        node = 0;
        depth = 0;
        allOnes = true;
      } else if (next === 0) {
        throw new HpackError('invalid Huffman code');
      } else {
        node = next;
      }
    }
  }
  if (depth > 7) throw new HpackError('Huffman padding longer than 7 bits');
  if (depth > 0 && !allOnes) throw new HpackError('Huffman padding is not a prefix of EOS');
  return Buffer.from(out);
}

/** Decodes an HPACK integer with an N-bit prefix at `offset` (RFC 7541 §5.1). */
export function decodeInteger(
  buf: Uint8Array,
  offset: number,
  prefixBits: number,
): { value: number; next: number } {
  if (offset >= buf.length) throw new HpackError('truncated integer');
  const max = (1 << prefixBits) - 1;
  let value = buf[offset] & max;
  let pos = offset + 1;
  if (value < max) return { value, next: pos };
  let m = 0;
  for (;;) {
    if (pos >= buf.length) throw new HpackError('truncated integer');
    const b = buf[pos++];
    value += (b & 0x7f) * 2 ** m;
    m += 7;
    if ((b & 0x80) === 0) break;
    if (m > 28) throw new HpackError('integer too large');
  }
  if (value > 0xffffffff) throw new HpackError('integer too large');
  return { value, next: pos };
}

export interface DynamicEntry {
  name: string;
  value: string;
  /** name octets + value octets + 32 (RFC 7541 §4.1). */
  size: number;
}

/** An HPACK decoding context: one per direction of one HTTP/2 connection. */
export class HpackDecoder {
  private table: DynamicEntry[] = []; // newest first
  private size = 0;
  private maxSize: number;
  private protocolMax: number;

  /** @param maxTableSize the SETTINGS_HEADER_TABLE_SIZE the decoding side advertised (4096 by default). */
  constructor(maxTableSize = 4096) {
    this.maxSize = maxTableSize;
    this.protocolMax = maxTableSize;
  }

  /** Entries newest first (index 62 is the first). */
  get dynamicTable(): ReadonlyArray<Readonly<DynamicEntry>> {
    return this.table;
  }

  get tableSize(): number {
    return this.size;
  }

  get maxTableSize(): number {
    return this.maxSize;
  }

  /** Decodes one complete header block (HEADERS + CONTINUATION fragments joined) into fields, in order. */
  decode(block: Uint8Array): HeaderField[] {
    const out: HeaderField[] = [];
    let pos = 0;
    let fieldsSeen = false;
    while (pos < block.length) {
      const b = block[pos];
      if (b & 0x80) {
        // indexed header field
        const { value: index, next } = decodeInteger(block, pos, 7);
        pos = next;
        if (index === 0) throw new HpackError('index 0');
        const [name, value] = this.lookup(index);
        out.push([name, value]);
        fieldsSeen = true;
      } else if ((b & 0xe0) === 0x20) {
        // dynamic table size update
        const { value: size, next } = decodeInteger(block, pos, 5);
        pos = next;
        if (fieldsSeen) throw new HpackError('dynamic table size update after a header field');
        if (size > this.protocolMax)
          throw new HpackError(`table size ${size} above the limit ${this.protocolMax}`);
        this.maxSize = size;
        this.evict(0);
      } else {
        // literal: with incremental indexing (01), without indexing (0000), never indexed (0001)
        const indexing = (b & 0xc0) === 0x40;
        const prefix = indexing ? 6 : 4;
        const { value: nameIndex, next } = decodeInteger(block, pos, prefix);
        pos = next;
        let name: string;
        if (nameIndex === 0) {
          const s = this.readString(block, pos);
          name = s.text;
          pos = s.next;
        } else {
          name = this.lookup(nameIndex)[0];
        }
        const v = this.readString(block, pos);
        pos = v.next;
        out.push([name, v.text]);
        if (indexing) this.insert(name, v.text);
        fieldsSeen = true;
      }
    }
    return out;
  }

  private lookup(index: number): HeaderField {
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1];
    const entry = this.table[index - STATIC_TABLE.length - 1];
    if (entry === undefined) throw new HpackError(`index ${index} is not in the table`);
    return [entry.name, entry.value];
  }

  private readString(buf: Uint8Array, offset: number): { text: string; next: number } {
    if (offset >= buf.length) throw new HpackError('truncated string');
    const huffman = (buf[offset] & 0x80) !== 0;
    const { value: len, next } = decodeInteger(buf, offset, 7);
    if (next + len > buf.length) throw new HpackError('truncated string');
    const raw = buf.subarray(next, next + len);
    const bytes = huffman ? huffmanDecode(raw) : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    return { text: bytes.toString('latin1'), next: next + len };
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + 32;
    if (size > this.maxSize) {
      this.table = [];
      this.size = 0;
      return;
    }
    this.evict(size);
    this.table.unshift({ name, value, size });
    this.size += size;
  }

  private evict(room: number): void {
    while (this.size + room > this.maxSize && this.table.length > 0) {
      const old = this.table.pop() as DynamicEntry;
      this.size -= old.size;
    }
  }
}
