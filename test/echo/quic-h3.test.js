'use strict';
// Our own independent check of the shared QUIC ground truth (fingerprints/quic): every connection of both
// runs' pcaps is split out, decrypted with the browsers' key logs (lib/echo/quic-conn.ts), its client HTTP/3
// decoded (lib/echo/h3.ts, a real QPACK decoder in lib/echo/qpack.ts) and held against (1) the capture
// tooling's own decode of the same connection (conn-N.json: packets and frames, streams, SETTINGS, QPACK,
// header field lines) and (2) the README's HTTP/3 ground truth (quic-h3-browsers.js). Then RFC vectors, other
// cipher suites and key updates on synthetic connections, and hostile input that must end in a coded error.
const { decodeQuicConnection, readPcapngUdp, splitQuicConnections } = require('../../dist/echo');
const { QpackTable, readDecoderStream } = require('../../dist/echo/qpack');
const {
  QUIC_CIPHER_SUITES,
  derivePacketKeys,
  headerProtectionMaskFor,
  openPayload,
} = require('../../dist/echo/quic-keys');
const { expectBrowserH3View } = require('./quic-h3-browsers');
const {
  loadCapturedConnections,
  browserOfConnection,
  syntheticConnection,
  controlStream,
  h3Frame,
  CONNECTION_ERROR_CODES,
} = require('./quic-h3-helpers');
const { varint } = require('./quic-helpers');

const connections = loadCapturedConnections();
const label = (c) => `${c.server} conn ${c.conn} (${browserOfConnection(c)})`;
const each = connections.map((c) => [label(c), c]);

describe('the pcaps split into the runs connections', () => {
  test('13 connections against caddy, 6 against ngtcp2, each as the tooling counted it', () => {
    expect(connections.filter((c) => c.server === 'caddy')).toHaveLength(13);
    expect(connections.filter((c) => c.server === 'ngtcp2')).toHaveLength(6);
    for (const c of connections) {
      expect(c.view.initial_dcid).toBe(c.tooling.client_initial_dcid);
      expect(c.view.datagram_counts).toEqual(c.tooling.datagram_count);
    }
  });
});

describe.each(each)('%s against the tooling decode', (_, c) => {
  const v = c.view;

  test('every packet opens with the key log; the suite and client random agree', () => {
    expect(v.errors).toEqual([]);
    expect(v.packets.every((p) => p.decrypted)).toBe(true);
    expect(v.client_random).toBe(c.tooling.keylog.client_random);
    expect(v.cipher_suite).toBe(c.tooling.server_hellos[0].cipher);
    expect(v.first_flight.errors).toEqual([]);
    expect(v.first_flight.ja4).toBe(c.summary.ja4);
  });

  test('the client packets carry the same frames, packet by packet', () => {
    const client = v.packets.filter((p) => p.from === 'client');
    const initials = client.filter((p) => p.type === 'Initial');
    expect(initials.map((p) => [p.packet_number, p.frames.map((f) => f.text)])).toEqual(
      c.tooling.client_initial_packets.map((p) => [p.pn, p.frames]),
    );
    const later = client.filter((p) => p.type !== 'Initial');
    expect(later.map((p) => [p.type, p.packet_number, p.frames.map((f) => f.text)])).toEqual(
      c.tooling.client_app_packets.map((p) => [p.type, p.pn, p.frames]),
    );
  });

  test('the HTTP/3 streams, control frames, QPACK instructions and field lines agree', () => {
    const h3 = v.http3;
    const tool = c.tooling.h3;
    if (tool.stream_first_seen_order) expect(h3.stream_order).toEqual(tool.stream_first_seen_order);
    expect(h3.uni_streams.map((u) => [u.stream_id, u.kind, u.bytes])).toEqual(
      tool.uni_streams.map((u) => [u.stream_id, u.name, u.bytes]),
    );
    const control = tool.uni_streams.find((u) => u.name === 'control');
    expect(h3.control_frames.map(controlFrameFacts)).toEqual(control.frames.map(toolingControlFrameFacts));
    const encoder = tool.uni_streams.find((u) => u.name === 'qpack_encoder');
    expect(h3.qpack_encoder_instructions.map(instructionFacts)).toEqual(
      (encoder?.instructions ?? []).map(toolingInstructionFacts),
    );
    const decoder = tool.uni_streams.find((u) => u.name === 'qpack_decoder');
    const acks = Buffer.from(decoder?.instructions_hex ?? '', 'hex');
    expect(h3.qpack_decoder_instructions).toEqual(
      [...acks].map((b) => ({ op: 'section_acknowledgment', stream_id: b & 0x7f })),
    );
    expect(h3.requests.map((r) => r.stream_id)).toEqual(tool.request_streams.map((r) => r.stream_id));
    for (const [i, r] of h3.requests.entries()) {
      const headers = tool.request_streams[i].frames.find((f) => f.name === 'HEADERS');
      expect([r.required_insert_count, r.base]).toEqual([headers.required_insert_count, headers.base]);
      expect(r.field_lines.map((l) => [l.rep, l.index, l.name, l.value])).toEqual(
        headers.field_lines.map((l) => [l.rep, l.index ?? null, l.name, l.value]),
      );
      expect(r.complete).toBe(tool.request_streams[i].fin);
    }
    const serverSettings = c.tooling.server_h3.uni_streams.find((u) => u.name === 'control').frames[0]
      .settings;
    expect(h3.server_settings.map((s) => [s.id, String(s.value)])).toEqual(
      serverSettings.map((s) => [s.id, String(s.value)]),
    );
  });

  test('the client HTTP/3 is the browsers, as the ground truth README lists it', () => {
    const browser = browserOfConnection(c);
    const path = c.summary.path ?? '';
    expectBrowserH3View(v, browser === 'chromium' ? 'chromium' : 'firefox', c.server, {
      navigation: !path.includes('favicon'),
      headed: path.includes('headed'),
    });
  });
});

function controlFrameFacts(f) {
  return [
    f.type,
    f.name,
    f.length,
    f.settings?.map((s) => [s.id, s.value]) ?? null,
    f.priority_update ? [f.priority_update.element_id, f.priority_update.field_value] : null,
    f.grease ? f.payload_hex : null,
  ];
}

function toolingControlFrameFacts(f) {
  return [
    f.type,
    f.name,
    f.length,
    f.settings?.map((s) => [s.id, s.value]) ?? null,
    f.element_id !== undefined ? [f.element_id, f.priority_field_value] : null,
    f.name === 'GREASE' ? f.payload_hex : null,
  ];
}

function instructionFacts(i) {
  if (i.op === 'set_dynamic_table_capacity') return [i.op, i.capacity];
  if (i.op === 'insert_with_name_reference')
    return ['insert_with_name_ref', i.static, i.index, i.name, i.value];
  return [i.op, i.name, i.value];
}

function toolingInstructionFacts(i) {
  if (i.op === 'set_dynamic_table_capacity') return [i.op, i.capacity];
  if (i.op === 'insert_with_name_ref') return [i.op, i.static, i.index, i.name, i.value];
  return [i.op, i.name, i.value];
}

describe('what varies per connection and the resumed Firefox connection', () => {
  const chromium = connections.filter((c) => browserOfConnection(c) === 'chromium');

  test('Chromium draws a new GREASE setting and GREASE frame type per connection', () => {
    const ids = chromium.map((c) => c.view.http3.settings.find((s) => s.grease).id);
    const types = chromium.map((c) => c.view.http3.control_frames[1].type);
    expect(new Set(ids).size).toBe(chromium.length);
    expect(new Set(types).size).toBe(chromium.length);
  });

  test('Firefox resumes with the NEW_TOKEN it was given and sends the request in 0-RTT', () => {
    const resumed = connections.find((c) => browserOfConnection(c) === 'firefox-resumed');
    const v = resumed.view;
    const initial = v.packets.find((p) => p.from === 'client' && p.type === 'Initial');
    expect(initial.token_length).toBe(74);
    const earlier = connections.filter((c) => c.run === resumed.run && c.conn < resumed.conn);
    const tokens = earlier.flatMap((c) =>
      c.view.packets
        .filter((p) => p.from === 'server')
        .flatMap((p) => p.frames.filter((f) => f.type === 'NEW_TOKEN')),
    );
    expect(tokens.map((f) => f.length)).toContain(74);
    expect(v.keys.early).toBe(true);
    const zeroRtt = v.packets.find((p) => p.from === 'client' && p.type === '0-RTT');
    const streams = zeroRtt.frames.filter((f) => f.type === 'STREAM').map((f) => f.stream_id);
    expect(streams.sort((a, b) => a - b)).toEqual([0, 2, 6, 10]);
    // The 0-RTT packet shares the third first-flight datagram with the last Initial.
    expect(v.packets.filter((p) => p.datagram === zeroRtt.datagram).map((p) => p.type)).toEqual([
      'Initial',
      '0-RTT',
    ]);
    expect(v.http3.requests[0].first_packet.type).toBe('0-RTT');
    expect(v.http3.requests[0].headers[3]).toEqual([':path', '/favicon.ico']);
  });
});

describe('RFC vectors', () => {
  test('RFC 9001 A.5: a ChaCha20-Poly1305 short-header packet', () => {
    const suite = QUIC_CIPHER_SUITES.find((s) => s.name === 'TLS_CHACHA20_POLY1305_SHA256');
    const keys = derivePacketKeys(
      Buffer.from('9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b', 'hex'),
      suite,
    );
    expect(keys.key.toString('hex')).toBe('c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8');
    expect(keys.iv.toString('hex')).toBe('e0459b3474bdd0e44a41c144');
    expect(keys.hp.toString('hex')).toBe('25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4');
    const packet = Buffer.from('4cfe4189655e5cd55c41f69080575d7999c25a5bfb', 'hex');
    const mask = headerProtectionMaskFor(suite, keys.hp, packet.subarray(5, 21));
    expect(mask.toString('hex')).toBe('aefefe7d03');
    const header = Buffer.from(packet.subarray(0, 4));
    header[0] ^= mask[0] & 0x1f;
    for (let i = 0; i < 3; i++) header[1 + i] ^= mask[1 + i];
    expect(header.toString('hex')).toBe('4200bff4');
    expect(openPayload(keys, 654360564, header, packet.subarray(4)).toString('hex')).toBe('01');
  });

  test('RFC 9204 B.1 and B.2: static name reference, then inserts referenced by post-base index', () => {
    const none = new QpackTable(0);
    const b1 = none.decodeSection(Buffer.from('0000510b2f696e6465782e68746d6c', 'hex'));
    expect(b1.headers).toEqual([[':path', '/index.html']]);
    expect(b1.field_lines[0]).toMatchObject({
      rep: 'literal_static_name_ref',
      index: 1,
      value_huffman: false,
    });
    const table = new QpackTable(220);
    const out = [];
    table.readEncoderStream(
      Buffer.from('3fbd01c00f7777772e6578616d706c652e636f6dc10c2f73616d706c652f70617468', 'hex'),
      out,
    );
    expect(out.map((i) => i.op)).toEqual([
      'set_dynamic_table_capacity',
      'insert_with_name_reference',
      'insert_with_name_reference',
    ]);
    const b2 = table.decodeSection(Buffer.from('03811011', 'hex'));
    expect([b2.required_insert_count, b2.base]).toEqual([2, 0]);
    expect(b2.headers).toEqual([
      [':authority', 'www.example.com'],
      [':path', '/sample/path'],
    ]);
    expect(b2.field_lines.map((l) => [l.rep, l.index, l.absolute_index])).toEqual([
      ['indexed_post_base', 0, 0],
      ['indexed_post_base', 1, 1],
    ]);
    const acks = [];
    readDecoderStream(Buffer.from('8401', 'hex'), acks);
    expect(acks).toEqual([
      { op: 'section_acknowledgment', stream_id: 4 },
      { op: 'insert_count_increment', increment: 1 },
    ]);
  });
});

const SETTINGS = [
  [0x1, 65536],
  [0x6, 262144],
];

describe('synthetic connections: other suites, key updates', () => {
  test.each(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'])(
    '%s: SETTINGS read, the server SETTINGS too, through a key update',
    (suite) => {
      const { datagrams, keyLog } = syntheticConnection({
        suite,
        serverControl: h3Frame(0x04, Buffer.concat([varint(0x1), varint(0)])),
        streams: [
          [2, controlStream(SETTINGS)],
          [2, h3Frame(0xf0700, Buffer.concat([varint(0), Buffer.from('u=0, i')]))],
          [0, h3Frame(0x01, Buffer.from('0000d1d7', 'hex')), true],
        ],
        keyUpdateAfter: 2,
      });
      const v = decodeQuicConnection(datagrams, keyLog);
      expect(v.errors).toEqual([]);
      expect(v.cipher_suite).toBe(suite);
      expect(v.packets.filter((p) => p.type === '1-RTT').map((p) => p.key_phase)).toEqual([0, 0, 0, 1]);
      expect(v.http3.settings.map((s) => [s.id, s.value])).toEqual([
        ['0x1', 65536],
        ['0x6', 262144],
      ]);
      expect(v.http3.server_settings).toEqual([expect.objectContaining({ id: '0x1', value: 0 })]);
      expect(v.http3.control_frames[1].priority_update).toEqual({ element_id: 0, field_value: 'u=0, i' });
      expect(v.http3.requests[0].headers).toEqual([
        [':method', 'GET'],
        [':scheme', 'https'],
      ]);
    },
  );

  test('a key log without this connection: every 1-RTT packet stays closed with ERR_QUIC_KEYS', () => {
    const { datagrams } = syntheticConnection({ streams: [[2, controlStream(SETTINGS)]] });
    const v = decodeQuicConnection(
      datagrams,
      'CLIENT_TRAFFIC_SECRET_0 ' + '00'.repeat(32) + ' ' + '11'.repeat(32),
    );
    expect(v.errors.map((e) => e.code)).toEqual(['ERR_QUIC_KEYS']);
    expect(v.packets.filter((p) => p.type === '1-RTT').every((p) => !p.decrypted)).toBe(true);
    expect(v.http3.control_stream).toBe(null);
  });
});

describe('hostile input ends in a coded error, never a throw', () => {
  const decode = (streams, serverControl = h3Frame(0x04, Buffer.concat([varint(0x1), varint(4096)]))) => {
    const { datagrams, keyLog } = syntheticConnection({ streams, serverControl });
    return decodeQuicConnection(datagrams, keyLog);
  };
  const codes = (v) => v.errors.map((e) => e.code);

  test('truncated packets and datagrams', () => {
    const c = connections[0];
    const cut = c.captured.datagrams.map((d, i) => ({ ...d, data: d.data.subarray(0, i % 2 ? 30 : 3) }));
    const v = decodeQuicConnection(cut, c.keys);
    expect(v.errors.length).toBeGreaterThan(0);
    for (const code of codes(v)) expect(CONNECTION_ERROR_CODES).toContain(code);
  });

  test('a SETTINGS frame that ends inside a varint, on a complete control stream', () => {
    const bad = Buffer.concat([Buffer.from([0x00]), h3Frame(0x04, Buffer.from([0x01, 0x80, 0x00]))]);
    const v = decode([[2, bad, true]]);
    expect(codes(v)).toEqual(['ERR_H3_FRAME']);
    expect(v.errors[0].message).toMatch(/SETTINGS ends inside a setting/);
  });

  test('a frame length far beyond the stream (2^62 - 1) on a finished stream', () => {
    const huge = Buffer.concat([Buffer.from([0x00]), varint(0x04), Buffer.from('ffffffffffffffff', 'hex')]);
    const v = decode([[2, huge, true]]);
    expect(codes(v)).toEqual(['ERR_H3_FRAME']);
    expect(v.errors[0].message).toMatch(/runs past the stream/);
  });

  test('HEADERS referring to dynamic entries that were never inserted', () => {
    // Required Insert Count 1 (encoded 2 with 128 entries), Base 1, relative index 0: nothing inserted.
    const v = decode([[0, h3Frame(0x01, Buffer.from('020080', 'hex')), true]]);
    expect(codes(v)).toEqual(['ERR_QPACK']);
    expect(v.errors[0].message).toMatch(/never inserted/);
  });

  test('a static index beyond the table, and a post-base index beyond the Required Insert Count', () => {
    // Capacity 4096, then one literal-name insert a: b.
    const v = decode([
      [6, Buffer.from([0x02, 0x3f, 0xe1, 0x1f, 0x41, 0x61, 0x01, 0x62])],
      [0, h3Frame(0x01, Buffer.from('0000ff3f', 'hex')), true],
      [4, h3Frame(0x01, Buffer.from('020011', 'hex')), true],
    ]);
    expect(codes(v)).toEqual(['ERR_QPACK', 'ERR_QPACK']);
    expect(v.errors[0].message).toMatch(/static index \d+ is not in the table/);
    expect(v.errors[1].message).toMatch(/outside the Required Insert Count/);
  });

  test('an encoder stream that inserts beyond the server capacity, and a bad Huffman string', () => {
    const v = decode([
      [6, Buffer.from([0x02, 0x3f, 0xe1, 0x3f])],
      [10, Buffer.from([0x03, 0x00])],
      // A Huffman-coded literal name of one zero byte: its padding is not the EOS prefix.
      [0, h3Frame(0x01, Buffer.from('00002900', 'hex')), true],
    ]);
    expect(codes(v)).toEqual(['ERR_QPACK', 'ERR_QPACK', 'ERR_QPACK']);
    expect(v.errors[0].message).toMatch(/encoder stream: capacity/);
    expect(v.errors[1].message).toMatch(/decoder stream: Insert Count Increment of 0/);
    expect(v.errors[2].message).toMatch(/stream 0 HEADERS: Huffman padding/);
  });

  test('two control streams and a control stream that does not start with SETTINGS', () => {
    const v = decode([
      [2, Buffer.concat([Buffer.from([0x00]), h3Frame(0x07, varint(0))])],
      [14, controlStream(SETTINGS)],
    ]);
    expect(codes(v)).toEqual(['ERR_H3_FRAME', 'ERR_H3_FRAME']);
  });

  test('pcapng: not a capture, a block longer than the file', () => {
    expect(readPcapngUdp(Buffer.from('not a capture at all')).errors[0].code).toBe('ERR_PCAPNG');
    const shb = Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex');
    const cut = Buffer.concat([shb, Buffer.from('06000000ff000000', 'hex')]);
    const r = readPcapngUdp(cut);
    expect(r.errors.map((e) => e.code)).toEqual(['ERR_PCAPNG']);
    expect(splitQuicConnections(r.datagrams)).toEqual([]);
  });
});
