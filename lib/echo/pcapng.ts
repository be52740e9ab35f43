// Part of the fingerprint echo server (lib/echo.ts): it reads captures of what clients sent; the client
// never imports it. A small pcapng reader (Section Header, Interface Description, Enhanced and Simple Packet
// blocks, either byte order) for the UDP datagrams in a capture: Ethernet (with VLAN tags), Linux cooked (v1,
// v2), BSD loopback and raw IP link types; IPv4 (unfragmented) and IPv6 (with hop-by-hop, routing and
// destination options headers). Then QUIC connections are split out: by UDP 4-tuple, and within one 4-tuple
// by the client's Initial Destination Connection IDs (a new DCID the server never chose starts a new one).
// Nothing here throws on the bytes: a block that does not parse ends the reading with an error entry.
import type { QuicCapturedDatagram, QuicConnectionError } from './quic-conn';

export interface CapturedUdpDatagram {
  /** Capture time in seconds since the epoch (the interface's timestamp resolution applied). */
  time: number;
  /** `address:port` (IPv6 addresses in brackets). */
  source: string;
  destination: string;
  data: Buffer;
}

export interface PcapngUdpResult {
  datagrams: CapturedUdpDatagram[];
  errors: QuicConnectionError[];
}

/** A QUIC connection found in a capture: the client, the server and both directions' datagrams in order. */
export interface QuicCapturedConnection {
  client: string;
  server: string;
  /** The client's first Destination Connection ID (hex). */
  initial_dcid: string;
  datagrams: QuicCapturedDatagram[];
}

const SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const MAX_DATAGRAMS = 1_000_000;

interface Interface {
  linkType: number;
  /** Seconds per timestamp unit. */
  unit: number;
}

function fail(message: string): QuicConnectionError {
  return { code: 'ERR_PCAPNG', message };
}

/** Reads every UDP datagram of a pcapng capture, in capture order. */
export function readPcapngUdp(bytes: Uint8Array): PcapngUdpResult {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: PcapngUdpResult = { datagrams: [], errors: [] };
  let little = true;
  let interfaces: Interface[] = [];
  let pos = 0;
  const u32 = (at: number): number => (little ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const u16 = (at: number): number => (little ? buf.readUInt16LE(at) : buf.readUInt16BE(at));
  if (buf.length < 12 || buf.readUInt32LE(0) !== SHB) {
    out.errors.push(fail('not a pcapng file (no Section Header Block)'));
    return out;
  }
  while (pos + 12 <= buf.length) {
    const type = buf.readUInt32LE(pos) === SHB ? SHB : u32(pos);
    if (type === SHB) {
      if (pos + 12 > buf.length) break;
      const magic = buf.readUInt32LE(pos + 8);
      if (magic !== BYTE_ORDER_MAGIC && buf.readUInt32BE(pos + 8) !== BYTE_ORDER_MAGIC) {
        out.errors.push(fail(`bad byte-order magic at ${pos}`));
        return out;
      }
      little = magic === BYTE_ORDER_MAGIC;
      interfaces = [];
    }
    const length = u32(pos + 4);
    if (length < 12 || length % 4 !== 0 || length > buf.length - pos) {
      out.errors.push(fail(`block at ${pos} has a bad length ${length}`));
      return out;
    }
    const body = buf.subarray(pos + 8, pos + length - 4);
    if (type === 1 && body.length >= 8) {
      interfaces.push({ linkType: u16(pos + 8), unit: timestampUnit(body.subarray(8), little) });
    } else if (type === 6 && body.length >= 20) {
      const iface = interfaces[u32(pos + 8)];
      const captured = u32(pos + 20);
      if (!iface || captured > body.length - 20) {
        out.errors.push(fail(`packet block at ${pos}: unknown interface or captured length ${captured}`));
        return out;
      }
      const ticks = u32(pos + 12) * 2 ** 32 + u32(pos + 16);
      addFrame(out, iface.linkType, body.subarray(20, 20 + captured), ticks * iface.unit, little);
    } else if (type === 3 && body.length >= 4 && interfaces[0]) {
      addFrame(out, interfaces[0].linkType, body.subarray(4), 0, little);
    }
    if (out.datagrams.length >= MAX_DATAGRAMS) {
      out.errors.push(fail(`more than ${MAX_DATAGRAMS} datagrams`));
      return out;
    }
    pos += length;
  }
  if (pos !== buf.length) out.errors.push(fail(`the capture ends inside a block (at ${pos})`));
  return out;
}

/** The if_tsresol option (code 9) of an Interface Description Block; microseconds by default. */
function timestampUnit(options: Buffer, little: boolean): number {
  let at = 0;
  while (at + 4 <= options.length) {
    const code = little ? options.readUInt16LE(at) : options.readUInt16BE(at);
    const len = little ? options.readUInt16LE(at + 2) : options.readUInt16BE(at + 2);
    if (code === 0) break;
    if (code === 9 && len >= 1 && at + 5 <= options.length) {
      const v = options[at + 4];
      return v & 0x80 ? 2 ** -(v & 0x7f) : 10 ** -v;
    }
    at += 4 + Math.ceil(len / 4) * 4;
  }
  return 1e-6;
}

/** The IP packet inside a link-layer frame, or null for other protocols. */
function ipPayload(linkType: number, frame: Buffer, little: boolean): Buffer | null {
  let at: number;
  let proto: number;
  if (linkType === 1) {
    at = 12;
    proto = frame.length >= 14 ? frame.readUInt16BE(12) : 0;
    while ((proto === 0x8100 || proto === 0x88a8) && frame.length >= at + 6) {
      at += 4;
      proto = frame.readUInt16BE(at);
    }
    at += 2;
    return proto === 0x0800 || proto === 0x86dd ? frame.subarray(at) : null;
  }
  if (linkType === 113) return frame.length >= 16 ? frame.subarray(16) : null;
  if (linkType === 276) return frame.length >= 20 ? frame.subarray(20) : null;
  if (linkType === 0) {
    if (frame.length < 4) return null;
    const family = little ? frame.readUInt32LE(0) : frame.readUInt32BE(0);
    return [2, 24, 28, 30].includes(family) ? frame.subarray(4) : null;
  }
  if (linkType === 101 || linkType === 12 || linkType === 228 || linkType === 229) return frame;
  return null;
}

function addFrame(
  out: PcapngUdpResult,
  linkType: number,
  frame: Buffer,
  time: number,
  little: boolean,
): void {
  const ip = ipPayload(linkType, frame, little);
  if (!ip || ip.length < 1) return;
  const version = ip[0] >> 4;
  let udp: Buffer;
  let src: string;
  let dst: string;
  if (version === 4) {
    const ihl = (ip[0] & 0x0f) * 4;
    if (ip.length < 20 || ihl < 20 || ip[9] !== 17) return;
    // Fragments are not reassembled (QUIC sets DF; a fragment is never a whole datagram).
    if ((ip.readUInt16BE(6) & 0x3fff) !== 0) return;
    const total = Math.min(ip.readUInt16BE(2), ip.length);
    udp = ip.subarray(ihl, total);
    src = [...ip.subarray(12, 16)].join('.');
    dst = [...ip.subarray(16, 20)].join('.');
  } else if (version === 6) {
    if (ip.length < 40) return;
    let next = ip[6];
    let at = 40;
    // Hop-by-hop, routing and destination options headers: (length + 1) * 8 bytes each.
    while ((next === 0 || next === 43 || next === 60) && at + 2 <= ip.length) {
      next = ip[at];
      at += (ip[at + 1] + 1) * 8;
    }
    if (next !== 17 || at > ip.length) return;
    udp = ip.subarray(at, Math.min(ip.length, 40 + ip.readUInt16BE(4)));
    src = `[${ipv6(ip.subarray(8, 24))}]`;
    dst = `[${ipv6(ip.subarray(24, 40))}]`;
  } else {
    return;
  }
  if (udp.length < 8) return;
  const length = Math.min(udp.readUInt16BE(4), udp.length);
  if (length < 8) return;
  out.datagrams.push({
    time,
    source: `${src}:${udp.readUInt16BE(0)}`,
    destination: `${dst}:${udp.readUInt16BE(2)}`,
    data: Buffer.from(udp.subarray(8, length)),
  });
}

function ipv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/** A long-header QUIC v1+ Initial: its DCID and SCID (hex); else null. */
function initialIds(d: Buffer): { dcid: string; scid: string } | null {
  if (d.length < 7 || (d[0] & 0xf0) !== 0xc0 || d.readUInt32BE(1) === 0) return null;
  const dcidLength = d[5];
  if (dcidLength > 20 || d.length < 7 + dcidLength) return null;
  const scidLength = d[6 + dcidLength];
  if (scidLength > 20 || d.length < 7 + dcidLength + scidLength) return null;
  return {
    dcid: d.subarray(6, 6 + dcidLength).toString('hex'),
    scid: d.subarray(7 + dcidLength, 7 + dcidLength + scidLength).toString('hex'),
  };
}

/** The SCID of any long header (server Initial, Handshake, Retry). */
function longScid(d: Buffer): string | null {
  if (d.length < 7 || (d[0] & 0x80) === 0) return null;
  const dcidLength = d[5];
  if (dcidLength > 20 || d.length < 7 + dcidLength) return null;
  const scidLength = d[6 + dcidLength];
  if (scidLength > 20 || d.length < 7 + dcidLength + scidLength) return null;
  return d.subarray(7 + dcidLength, 7 + dcidLength + scidLength).toString('hex');
}

/**
 * Splits a capture's UDP datagrams into QUIC connections, in order of their first Initial. Datagrams of a
 * 4-tuple before its first client Initial (other UDP traffic) are left out.
 */
export function splitQuicConnections(datagrams: readonly CapturedUdpDatagram[]): QuicCapturedConnection[] {
  const out: QuicCapturedConnection[] = [];
  const current = new Map<string, { conn: QuicCapturedConnection; dcids: Set<string> }>();
  for (const d of datagrams) {
    const tuple = [d.source, d.destination].sort().join(' ');
    let c = current.get(tuple);
    const fromClient = c ? d.source === c.conn.client : true;
    const ids = fromClient ? initialIds(d.data) : null;
    if (ids && (!c || (d.source === c.conn.client && !c.dcids.has(ids.dcid)))) {
      c = {
        conn: { client: d.source, server: d.destination, initial_dcid: ids.dcid, datagrams: [] },
        dcids: new Set([ids.dcid]),
      };
      current.set(tuple, c);
      out.push(c.conn);
    }
    if (!c) continue;
    const from = d.source === c.conn.client ? 'client' : 'server';
    if (from === 'server') {
      // The client may move to the server's chosen connection ID (or a Retry's): still this connection.
      const scid = longScid(d.data);
      if (scid !== null) c.dcids.add(scid);
    }
    c.conn.datagrams.push({ from, data: d.data });
  }
  return out;
}
