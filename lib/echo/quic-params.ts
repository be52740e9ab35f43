// Part of the fingerprint echo server (lib/echo.ts): it parses what a client sent; the client never imports
// it. QUIC variable-length integers (RFC 9000 §16) and the quic_transport_parameters TLS extension (57,
// RFC 9000 §18, RFC 9001 §8.2), decoded in wire order with the varint width of every id and value: the widths
// are part of a browser's fingerprint (Chromium writes its GREASE id as an 8-byte varint, Firefox its
// min_ack_delay id 0xff02de1a too).

/** A QUIC varint: its value (bigint: up to 2^62 - 1) and how many bytes it took (1, 2, 4 or 8). */
export interface QuicVarint {
  value: bigint;
  width: number;
}

/** Reads the varint at `pos`; null when the buffer ends inside it. */
export function readVarint(buf: Uint8Array, pos: number): QuicVarint | null {
  if (pos >= buf.length) return null;
  const width = 1 << (buf[pos] >> 6);
  if (pos + width > buf.length) return null;
  let value = BigInt(buf[pos] & 0x3f);
  for (let i = 1; i < width; i++) value = (value << 8n) | BigInt(buf[pos + i]);
  return { value, width };
}

/** `0x…` lower-case hex of an id or version. */
export function hexId(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}

/** A number when it is exact in a double, else its decimal string (ids and values reach 2^62 - 1). */
export function jsonInteger(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** Reserved transport parameter ids 31 * N + 27 (RFC 9000 §18.1), which clients send as GREASE. */
export function isGreaseTransportParameter(id: bigint): boolean {
  return id >= 27n && (id - 27n) % 31n === 0n;
}

/** Reserved QUIC versions 0x?a?a?a?a (RFC 9000 §15), used as GREASE in version_information. */
export function isGreaseVersion(version: number): boolean {
  return (version & 0x0f0f0f0f) === 0x0a0a0a0a;
}

type ValueKind = 'integer' | 'bytes' | 'flag' | 'versions' | 'tags';

const PARAMETERS: ReadonlyMap<bigint, readonly [string, ValueKind]> = new Map<bigint, [string, ValueKind]>([
  [0x00n, ['original_destination_connection_id', 'bytes']],
  [0x01n, ['max_idle_timeout', 'integer']],
  [0x02n, ['stateless_reset_token', 'bytes']],
  [0x03n, ['max_udp_payload_size', 'integer']],
  [0x04n, ['initial_max_data', 'integer']],
  [0x05n, ['initial_max_stream_data_bidi_local', 'integer']],
  [0x06n, ['initial_max_stream_data_bidi_remote', 'integer']],
  [0x07n, ['initial_max_stream_data_uni', 'integer']],
  [0x08n, ['initial_max_streams_bidi', 'integer']],
  [0x09n, ['initial_max_streams_uni', 'integer']],
  [0x0an, ['ack_delay_exponent', 'integer']],
  [0x0bn, ['max_ack_delay', 'integer']],
  [0x0cn, ['disable_active_migration', 'flag']],
  [0x0dn, ['preferred_address', 'bytes']],
  [0x0en, ['active_connection_id_limit', 'integer']],
  [0x0fn, ['initial_source_connection_id', 'bytes']],
  [0x10n, ['retry_source_connection_id', 'bytes']],
  // RFC 9368 (compatible version negotiation)
  [0x11n, ['version_information', 'versions']],
  // its draft code point, still sent by older stacks (ngtcp2 0.12)
  [0xff73dbn, ['version_information_draft', 'versions']],
  // RFC 9221 (unreliable datagrams)
  [0x20n, ['max_datagram_frame_size', 'integer']],
  // RFC 9287 (greasing the QUIC bit)
  [0x2ab2n, ['grease_quic_bit', 'flag']],
  // Google QUIC: connection options as 4-character tags, and its own version list
  [0x3128n, ['google_connection_options', 'tags']],
  [0x4752n, ['google_version', 'bytes']],
  // draft-ietf-quic-ack-frequency: min_ack_delay (two drafts' code points)
  [0xff02de1an, ['min_ack_delay', 'integer']],
  [0xff04de1bn, ['min_ack_delay', 'integer']],
]);

export interface QuicVersionEntry {
  /** `0x…`, 8 hex digits. */
  version: string;
  grease: boolean;
}

export interface QuicTransportParameter {
  /** The id as `0x…` hex. */
  id: string;
  /** Bytes the id's varint took. */
  id_varint_length: number;
  /** Registered name; 'GREASE' for a reserved 31·N+27 id; 'unknown' otherwise. */
  name: string;
  /** A reserved 31·N+27 id without a registered meaning (0xff02de1a, min_ack_delay, is both). */
  grease: boolean;
  /** Length of the value field. */
  length: number;
  value_hex: string;
  /** Integer parameters: the value (a decimal string when above 2^53); else null. */
  value: number | string | null;
  /** Integer parameters: bytes its varint took; else null. */
  value_varint_length: number | null;
  /** version_information: the chosen version and the others, in wire order. */
  versions: { chosen: QuicVersionEntry; others: QuicVersionEntry[] } | null;
  /** google_connection_options: the 4-character tags (e.g. "ORIG"). */
  tags: string[] | null;
  /** Why the value does not decode as its kind says; null when it does. */
  error: string | null;
}

export interface TransportParametersResult {
  parameters: QuicTransportParameter[];
  /** A problem with the list itself (a length running past the end); the parameters before it are kept. */
  error: string | null;
}

/** The largest number of parameters we list (real clients send about 15; each takes at least 2 bytes). */
export const MAX_TRANSPORT_PARAMETERS = 256;

function versionEntry(buf: Buffer, pos: number): QuicVersionEntry {
  const v = buf.readUInt32BE(pos);
  return { version: `0x${v.toString(16).padStart(8, '0')}`, grease: isGreaseVersion(v) };
}

function decodeValue(p: QuicTransportParameter, kind: ValueKind, data: Buffer): void {
  switch (kind) {
    case 'integer': {
      const v = readVarint(data, 0);
      if (!v || v.width !== data.length) {
        p.error = `value of ${data.length} bytes is not one varint`;
        return;
      }
      p.value = jsonInteger(v.value);
      p.value_varint_length = v.width;
      return;
    }
    case 'flag':
      if (data.length !== 0) p.error = `a flag parameter carries ${data.length} bytes`;
      return;
    case 'versions':
      if (data.length < 4 || data.length % 4 !== 0) {
        p.error = `version_information of ${data.length} bytes is not a list of 4-byte versions`;
        return;
      }
      p.versions = { chosen: versionEntry(data, 0), others: [] };
      for (let pos = 4; pos < data.length; pos += 4) p.versions.others.push(versionEntry(data, pos));
      return;
    case 'tags':
      if (data.length % 4 !== 0) {
        p.error = `connection options of ${data.length} bytes are not 4-byte tags`;
        return;
      }
      p.tags = [];
      for (let pos = 0; pos < data.length; pos += 4)
        p.tags.push(data.subarray(pos, pos + 4).toString('latin1'));
      return;
    case 'bytes':
      return;
  }
}

/** Decodes the extension_data of quic_transport_parameters; never throws. */
export function parseTransportParameters(data: Buffer): TransportParametersResult {
  const parameters: QuicTransportParameter[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (parameters.length >= MAX_TRANSPORT_PARAMETERS) {
      return { parameters, error: `more than ${MAX_TRANSPORT_PARAMETERS} parameters` };
    }
    const id = readVarint(data, pos);
    const len = id ? readVarint(data, pos + id.width) : null;
    if (!id || !len)
      return { parameters, error: `parameter ${parameters.length + 1}: truncated id or length` };
    const start = pos + id.width + len.width;
    if (len.value > BigInt(data.length - start)) {
      return {
        parameters,
        error: `parameter ${hexId(id.value)}: length ${len.value} runs past the end (${
          data.length - start
        } left)`,
      };
    }
    const value = data.subarray(start, start + Number(len.value));
    const known = PARAMETERS.get(id.value);
    // min_ack_delay's 0xff02de1a happens to be 31·N+27 too; a registered meaning wins over the pattern.
    const grease = !known && isGreaseTransportParameter(id.value);
    const p: QuicTransportParameter = {
      id: hexId(id.value),
      id_varint_length: id.width,
      name: known ? known[0] : grease ? 'GREASE' : 'unknown',
      grease,
      length: value.length,
      value_hex: value.toString('hex'),
      value: null,
      value_varint_length: null,
      versions: null,
      tags: null,
      error: null,
    };
    if (known) decodeValue(p, known[1], value);
    parameters.push(p);
    pos = start + value.length;
  }
  return { parameters, error: null };
}
