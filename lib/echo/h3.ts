// Part of the fingerprint echo server (lib/echo.ts): it reads what a client sent; the client never imports
// it. The HTTP/3 view of a client's QUIC streams (RFC 9114, RFC 9204, RFC 9218): the unidirectional streams
// by type (control, QPACK encoder and decoder, push, reserved/GREASE 0x1f·N+0x21) in the order and packet
// they first appeared, the control stream's frames in order (SETTINGS with every id, value and varint width,
// GREASE frames, PRIORITY_UPDATE), the QPACK instructions, and each request stream's HEADERS decoded by a
// real QPACK decoder into the ordered field list, with how each line was encoded. The server's SETTINGS are
// read too: its QPACK_MAX_TABLE_CAPACITY is what the client's Required Insert Counts are encoded against.
import type { HeaderField } from './hpack';
import { QpackTable, qpackMessage, readDecoderStream } from './qpack';
import type { QpackDecoderInstruction, QpackEncoderInstruction, QpackFieldLine } from './qpack';
import type { QuicConnectionError, QuicPacketRef, QuicStreamInfo } from './quic-conn';
import { hexId, jsonInteger, readVarint } from './quic-params';

export interface Http3Setting {
  /** `0x…`, e.g. "0x1" or a GREASE "0x16aa80ed40". */
  id: string;
  id_varint_length: number;
  /** `SETTINGS_QPACK_MAX_TABLE_CAPACITY`, …; 'GREASE' for 0x1f·N+0x21; 'unknown' otherwise. */
  name: string;
  /** A decimal string above 2^53. */
  value: number | string;
  value_varint_length: number;
  grease: boolean;
}

export interface Http3Frame {
  /** `0x…`. */
  type: string;
  type_varint_length: number;
  /** `SETTINGS`, `HEADERS`, `DATA`, `GOAWAY`, `PRIORITY_UPDATE_REQUEST`, `GREASE`, … or 'unknown'. */
  name: string;
  grease: boolean;
  length: number;
  /** Where the frame starts in its stream. */
  offset: number;
  /** The packet that first carried the frame's first byte. */
  packet: QuicPacketRef | null;
  /** GREASE and unknown frames: the payload (hex, at most 64 bytes shown); else null. */
  payload_hex: string | null;
  /** SETTINGS: every setting in wire order; else null. */
  settings: Http3Setting[] | null;
  /** PRIORITY_UPDATE: the prioritized element (stream or push id) and the Priority Field Value. */
  priority_update: { element_id: number; field_value: string } | null;
}

export type Http3UniStreamKind =
  'control' | 'push' | 'qpack_encoder' | 'qpack_decoder' | 'grease' | 'unknown';

export interface Http3UniStream {
  stream_id: number;
  /** The stream type as `0x…` (null when not a single byte of the stream arrived). */
  type: string | null;
  type_varint_length: number | null;
  kind: Http3UniStreamKind;
  first_packet: QuicPacketRef;
  bytes: number;
  fin: boolean;
}

export interface Http3Request {
  stream_id: number;
  first_packet: QuicPacketRef;
  /** The request stream ended (FIN) and every byte arrived. */
  complete: boolean;
  frames: Http3Frame[];
  /** The first HEADERS frame's field section; null when it did not decode. */
  required_insert_count: number | null;
  base: number | null;
  field_lines: QpackFieldLine[];
  headers: HeaderField[];
  /** The pseudo-header names in order, e.g. [":method", ":authority", ":scheme", ":path"]. */
  pseudo_header_order: string[];
}

export interface Http3View {
  /** The client's stream ids in the order their first bytes were sent (e.g. [2, 6, 10, 0]). */
  stream_order: number[];
  /** The client's unidirectional streams in that order. */
  uni_streams: Http3UniStream[];
  control_stream: number | null;
  /** The client's control-stream frames in order. */
  control_frames: Http3Frame[];
  /** Its SETTINGS (the first frame); null when there was none. */
  settings: Http3Setting[] | null;
  qpack_encoder_stream: number | null;
  qpack_encoder_instructions: QpackEncoderInstruction[];
  qpack_decoder_stream: number | null;
  qpack_decoder_instructions: QpackDecoderInstruction[];
  /** The client's request streams in order of appearance. */
  requests: Http3Request[];
  /** The server's SETTINGS; null when its control stream was not read. */
  server_settings: Http3Setting[] | null;
}

/** A stream's metadata and its bytes from offset 0 to the first gap. */
export interface Http3StreamData {
  info: QuicStreamInfo;
  data: Buffer;
}

const FRAME_NAMES: ReadonlyMap<bigint, string> = new Map([
  [0x00n, 'DATA'],
  [0x01n, 'HEADERS'],
  [0x03n, 'CANCEL_PUSH'],
  [0x04n, 'SETTINGS'],
  [0x05n, 'PUSH_PROMISE'],
  [0x07n, 'GOAWAY'],
  [0x0dn, 'MAX_PUSH_ID'],
  // HTTP/2 frame types that RFC 9114 §11.2.1 reserves
  [0x02n, 'RESERVED_H2'],
  [0x06n, 'RESERVED_H2'],
  [0x08n, 'RESERVED_H2'],
  [0x09n, 'RESERVED_H2'],
  // RFC 9218 §7.2
  [0xf0700n, 'PRIORITY_UPDATE_REQUEST'],
  [0xf0701n, 'PRIORITY_UPDATE_PUSH'],
]);

const SETTING_NAMES: ReadonlyMap<bigint, string> = new Map([
  [0x01n, 'SETTINGS_QPACK_MAX_TABLE_CAPACITY'],
  [0x06n, 'SETTINGS_MAX_FIELD_SECTION_SIZE'],
  [0x07n, 'SETTINGS_QPACK_BLOCKED_STREAMS'],
  [0x08n, 'SETTINGS_ENABLE_CONNECT_PROTOCOL'],
  [0x33n, 'SETTINGS_H3_DATAGRAM'],
  [0xffd277n, 'SETTINGS_H3_DATAGRAM_DRAFT04'],
  [0x2b603742n, 'SETTINGS_ENABLE_WEBTRANSPORT'],
  [0xc671706an, 'SETTINGS_WEBTRANSPORT_MAX_SESSIONS'],
]);

/** Reserved HTTP/3 frame, setting and stream types 0x1f·N+0x21 (RFC 9114 §7.2.8, §7.2.4.1, §6.2.3). */
export function isH3Grease(value: bigint): boolean {
  return value >= 0x21n && (value - 0x21n) % 0x1fn === 0n;
}

const MAX_FRAMES_PER_STREAM = 1024;
const PAYLOAD_SHOWN = 64;

type ErrorSink = (e: QuicConnectionError) => void;

/** Bounds-checked reads over one stream's bytes; a read past the end returns null (the stream may go on). */
class StreamCursor {
  pos = 0;
  constructor(readonly data: Buffer) {}
  varint(): { value: bigint; width: number } | null {
    const v = readVarint(this.data, this.pos);
    if (v) this.pos += v.width;
    return v;
  }
}

/** The packet that first carried stream byte `offset`. */
function packetOf(
  info: QuicStreamInfo,
  offset: number,
  ref: (index: number) => QuicPacketRef,
): QuicPacketRef | null {
  const s = info.segments.find((g) => offset >= g.offset && offset < g.offset + Math.max(g.length, 1));
  return s ? ref(s.packet) : null;
}

/**
 * The frames of one stream from `start`: complete frames only (a frame cut by the end of the captured bytes
 * is an error only when the stream is complete).
 */
function readFrames(
  s: Http3StreamData,
  start: number,
  ref: (index: number) => QuicPacketRef,
  error: ErrorSink,
): { frames: Http3Frame[]; payloads: Buffer[] } {
  const frames: Http3Frame[] = [];
  const payloads: Buffer[] = [];
  const c = new StreamCursor(s.data);
  c.pos = start;
  while (c.pos < s.data.length) {
    if (frames.length >= MAX_FRAMES_PER_STREAM) {
      error({
        code: 'ERR_H3_FRAME',
        message: `stream ${s.info.stream_id}: more than ${MAX_FRAMES_PER_STREAM} frames`,
      });
      break;
    }
    const offset = c.pos;
    const type = c.varint();
    const length = c.varint();
    if (!type || !length || length.value > BigInt(s.data.length - c.pos)) {
      if (s.info.complete) {
        error({
          code: 'ERR_H3_FRAME',
          message: `stream ${s.info.stream_id}: the frame at offset ${offset} runs past the stream's end`,
        });
      }
      break;
    }
    const payload = s.data.subarray(c.pos, c.pos + Number(length.value));
    c.pos += payload.length;
    const grease = isH3Grease(type.value);
    const name = FRAME_NAMES.get(type.value) ?? (grease ? 'GREASE' : 'unknown');
    const frame: Http3Frame = {
      type: hexId(type.value),
      type_varint_length: type.width,
      name,
      grease,
      length: payload.length,
      offset,
      packet: packetOf(s.info, offset, ref),
      payload_hex:
        name === 'GREASE' || name === 'unknown' ? payload.subarray(0, PAYLOAD_SHOWN).toString('hex') : null,
      settings: null,
      priority_update: null,
    };
    if (name === 'SETTINGS') frame.settings = readSettings(payload, s.info.stream_id, error);
    if (name.startsWith('PRIORITY_UPDATE')) {
      const id = readVarint(payload, 0);
      if (!id)
        error({
          code: 'ERR_H3_FRAME',
          message: `stream ${s.info.stream_id}: PRIORITY_UPDATE without an element id`,
        });
      else
        frame.priority_update = {
          element_id: Number(id.value),
          field_value: payload.subarray(id.width).toString('latin1'),
        };
    }
    frames.push(frame);
    payloads.push(payload);
  }
  return { frames, payloads };
}

function readSettings(payload: Buffer, stream: number, error: ErrorSink): Http3Setting[] {
  const out: Http3Setting[] = [];
  let pos = 0;
  while (pos < payload.length) {
    const id = readVarint(payload, pos);
    const value = id ? readVarint(payload, pos + id.width) : null;
    if (!id || !value) {
      error({ code: 'ERR_H3_FRAME', message: `stream ${stream}: SETTINGS ends inside a setting` });
      break;
    }
    pos += id.width + value.width;
    const grease = isH3Grease(id.value);
    out.push({
      id: hexId(id.value),
      id_varint_length: id.width,
      name: SETTING_NAMES.get(id.value) ?? (grease ? 'GREASE' : 'unknown'),
      value: jsonInteger(value.value),
      value_varint_length: value.width,
      grease,
    });
  }
  return out;
}

/** Where a unidirectional stream's content starts: after its type varint. */
function afterType(s: Http3StreamData): number {
  return readVarint(s.data, 0)?.width ?? s.data.length;
}

function uniStream(s: Http3StreamData): Http3UniStream {
  const type = readVarint(s.data, 0);
  const kinds: Record<string, Http3UniStreamKind> = {
    '0': 'control',
    '1': 'push',
    '2': 'qpack_encoder',
    '3': 'qpack_decoder',
  };
  return {
    stream_id: s.info.stream_id,
    type: type ? hexId(type.value) : null,
    type_varint_length: type ? type.width : null,
    kind: !type
      ? 'unknown'
      : (kinds[type.value.toString()] ?? (isH3Grease(type.value) ? 'grease' : 'unknown')),
    first_packet: s.info.first_packet,
    bytes: s.info.bytes,
    fin: s.info.fin_offset !== null,
  };
}

/** The first stream of a kind: a second one is a connection error in HTTP/3 (RFC 9114 §6.2.1). */
function firstOf(
  streams: Http3UniStream[],
  kind: Http3UniStreamKind,
  data: Map<string, Http3StreamData>,
  error: ErrorSink,
): Http3StreamData | null {
  const all = streams.filter((u) => u.kind === kind);
  if (all.length > 1) error({ code: 'ERR_H3_FRAME', message: `${all.length} ${kind} streams` });
  return all.length
    ? (data.get(`${all[0].stream_id % 2 === 0 ? 'client' : 'server'}:${all[0].stream_id}`) ?? null)
    : null;
}

/**
 * The HTTP/3 view of one connection's streams (client request and unidirectional streams, the server's
 * unidirectional ones). `ref` maps a packet index to its reference; problems go to `error`.
 */
export function buildHttp3View(
  streams: Http3StreamData[],
  ref: ((index: number) => QuicPacketRef) | null,
  error: ErrorSink,
): Http3View {
  const view: Http3View = {
    stream_order: [],
    uni_streams: [],
    control_stream: null,
    control_frames: [],
    settings: null,
    qpack_encoder_stream: null,
    qpack_encoder_instructions: [],
    qpack_decoder_stream: null,
    qpack_decoder_instructions: [],
    requests: [],
    server_settings: null,
  };
  if (!ref) return view;
  const byId = new Map(streams.map((s) => [`${s.info.sender}:${s.info.stream_id}`, s]));
  const client = streams.filter((s) => s.info.sender === 'client');
  view.stream_order = client.map((s) => s.info.stream_id);
  view.uni_streams = client.filter((s) => s.info.direction === 'uni').map(uniStream);

  const serverUni = streams
    .filter((s) => s.info.sender === 'server' && s.info.direction === 'uni')
    .map(uniStream);
  const serverControl = firstOf(serverUni, 'control', byId, () => undefined);
  let maxCapacity: number | null = null;
  if (serverControl) {
    const settings = readFrames(serverControl, afterType(serverControl), ref, error).frames[0];
    if (settings?.name === 'SETTINGS' && settings.settings) {
      view.server_settings = settings.settings;
      const cap = settings.settings.find((x) => x.id === '0x1');
      maxCapacity = cap ? Number(cap.value) : 0;
    }
  }

  const control = firstOf(view.uni_streams, 'control', byId, error);
  if (control) {
    view.control_stream = control.info.stream_id;
    view.control_frames = readFrames(control, afterType(control), ref, error).frames;
    const first = view.control_frames[0];
    if (first && first.name !== 'SETTINGS')
      error({ code: 'ERR_H3_FRAME', message: `the control stream starts with ${first.name}, not SETTINGS` });
    view.settings = first?.settings ?? null;
  }

  const table = new QpackTable(maxCapacity);
  const encoder = firstOf(view.uni_streams, 'qpack_encoder', byId, error);
  if (encoder) {
    view.qpack_encoder_stream = encoder.info.stream_id;
    try {
      table.readEncoderStream(encoder.data.subarray(afterType(encoder)), view.qpack_encoder_instructions);
    } catch (err) {
      error({ code: 'ERR_QPACK', message: `encoder stream: ${qpackMessage(err)}` });
    }
  }
  const decoder = firstOf(view.uni_streams, 'qpack_decoder', byId, error);
  if (decoder) {
    view.qpack_decoder_stream = decoder.info.stream_id;
    try {
      readDecoderStream(decoder.data.subarray(afterType(decoder)), view.qpack_decoder_instructions);
    } catch (err) {
      error({ code: 'ERR_QPACK', message: `decoder stream: ${qpackMessage(err)}` });
    }
  }

  for (const s of client.filter((x) => x.info.direction === 'bidi')) {
    const { frames, payloads } = readFrames(s, 0, ref, error);
    const request: Http3Request = {
      stream_id: s.info.stream_id,
      first_packet: s.info.first_packet,
      complete: s.info.complete,
      frames,
      required_insert_count: null,
      base: null,
      field_lines: [],
      headers: [],
      pseudo_header_order: [],
    };
    const at = frames.findIndex((f) => f.name === 'HEADERS');
    if (at >= 0) {
      try {
        const section = table.decodeSection(payloads[at]);
        request.required_insert_count = section.required_insert_count;
        request.base = section.base;
        request.field_lines = section.field_lines;
        request.headers = section.headers;
        request.pseudo_header_order = section.headers.filter(([n]) => n.startsWith(':')).map(([n]) => n);
      } catch (err) {
        error({ code: 'ERR_QPACK', message: `stream ${s.info.stream_id} HEADERS: ${qpackMessage(err)}` });
      }
    }
    view.requests.push(request);
  }
  return view;
}
