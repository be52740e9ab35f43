'use strict';
// The echo server's QUIC view, offline: RFC 9001 Appendix A vectors, every real Chromium 156 and Firefox ESR 153
// first flight of the shared ground truth (test/fixtures/fingerprints/quic) decoded to the constants its README
// lists, and hostile datagrams (quic.fuzz.test.js: random ones) that must end as coded errors, never as a throw.
const {
  decodeQuicFirstFlight,
  deriveClientInitialKeys,
  headerProtectionMask,
  parseTransportParameters,
  QuicInitialDecoder,
  QuicViewTable,
  MAX_FIRST_FLIGHT_DATAGRAMS,
} = require('../../dist/echo/quic');
const { buildClientHello, ext } = require('./helpers');
const { expectBrowserQuicView, CHROMIUM } = require('./quic-browsers');
const { loadQuicConnections, browserOf, varint, frames, sealInitial } = require('./quic-helpers');

const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// ---- RFC 9001 Appendix A (DCID 0x8394c8f03e515708) ----

const RFC_DCID = hex('8394c8f03e515708');
// A.2: the CRYPTO frame of the unprotected payload (then PADDING to 1162 bytes), and the protected packet.
const RFC_A2_CRYPTO = hex(`
  060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868
  04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578
  616d706c652e636f6dff01000100000a 00080006001d00170018001000070005
  04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba
  baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400
  0d0010000e0403050306030203080408 050806002d00020101001c0002400100
  3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000
  75300901100f088394c8f03e51570806 048000ffff`);
const RFC_A2_PACKET = hex(`
  c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11
  d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399
  1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c
  8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212
  30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5
  457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208
  4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec
  4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3
  485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db
  059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c
  7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8
  9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556
  be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74
  68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a
  c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00
  f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632
  291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964
  25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd
  14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff
  ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198
  e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd
  c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73
  203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f
  cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e
  fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade
  a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047
  90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2
  162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4
  40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0
  6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e
  8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0
  be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400
  54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab
  760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9
  f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4
  056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064
  7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241
  e221af44860018ab0856972e194cd934`);

describe('RFC 9001 Appendix A', () => {
  test('A.1: client Initial secret, key, IV and header-protection key', () => {
    const k = deriveClientInitialKeys(RFC_DCID);
    expect(k.secret.toString('hex')).toBe('c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea');
    expect(k.key.toString('hex')).toBe('1f369613dd76d5467730efcbe3b1a22d');
    expect(k.iv.toString('hex')).toBe('fa044b2f42a3fd3b46fb255c');
    expect(k.hp.toString('hex')).toBe('9f50449e04a0e810283a1e9933adedd2');
  });

  test('A.2: the header-protection mask of the sample', () => {
    const k = deriveClientInitialKeys(RFC_DCID);
    expect(headerProtectionMask(k.hp, hex('d1b1c98dd7689fb8ec11d242b123dc9b')).toString('hex')).toBe(
      '437b9aec36',
    );
  });

  test('A.2: the protected client Initial decodes to packet 2 with the CRYPTO frame and 917 bytes of PADDING', () => {
    expect(RFC_A2_PACKET.length).toBe(1200);
    const view = decodeQuicFirstFlight([RFC_A2_PACKET]);
    expect(view.errors).toEqual([]);
    expect(view.dcid).toBe('8394c8f03e515708');
    expect(view.version).toBe('0x00000001');
    const [packet] = view.datagrams[0].packets;
    expect(packet).toMatchObject({
      type: 'Initial',
      length: 1200,
      packet_number: 2,
      packet_number_length: 4,
      payload_length: 1162,
      decrypted: true,
      frames: ['CRYPTO(off=0,len=241)', 'PADDING(917)'],
      padding_bytes: 917,
    });
    expect(view.first_packet_number).toBe(2);
    expect(view.padding).toBe('frames');
    expect(view.complete).toBe(true);
    expect(view.client_hello_hex).toBe(RFC_A2_CRYPTO.subarray(4).toString('hex'));
    expect(view.tls.sni).toBe('example.com');
    expect(view.tls.alpn).toEqual(['alpn']);
    // The transport parameters, with an 8-byte varint above 2^53 kept exact as a string.
    expect(
      view.transport_parameters.map((p) => [p.name, p.value ?? p.value_hex, p.value_varint_length]),
    ).toEqual([
      ['initial_max_data', '4611686018427387903', 8],
      ['initial_max_stream_data_bidi_local', 65535, 4],
      ['initial_max_stream_data_uni', 65535, 4],
      ['initial_max_streams_bidi', 16, 1],
      ['max_idle_timeout', 30000, 4],
      ['initial_max_streams_uni', 16, 1],
      ['initial_source_connection_id', '8394c8f03e515708', null],
      ['initial_max_stream_data_bidi_remote', 65535, 4],
    ]);
  });

  test('A.2: our Initial builder reproduces the RFC packet byte for byte', () => {
    // Checks the test-side encoder that the hostile tests below rely on.
    const built = sealInitial({ dcid: RFC_DCID, pn: 2, pnLength: 4, payload: RFC_A2_CRYPTO, padTo: 1200 });
    expect(built.toString('hex')).toBe(RFC_A2_PACKET.toString('hex'));
  });
});

const connections = loadQuicConnections();
const label = (c) => `${c.run.replace(/^run-/, '').split('-')[0]} conn ${c.conn} (${browserOf(c)})`;

test('the fixtures hold the connections the README lists', () => {
  const count = (run, b) =>
    connections.filter((c) => c.run.includes(run) && browserOf(c).startsWith(b)).length;
  expect([
    count('caddy', 'chromium'),
    count('caddy', 'firefox'),
    count('ngtcp2', 'chromium'),
    count('ngtcp2', 'firefox'),
  ]).toEqual([4, 9, 2, 4]);
});

describe.each(connections.map((c) => [label(c), c]))('%s', (_label, c) => {
  const view = decodeQuicFirstFlight(c.datagrams, '127.0.0.1:1');

  test('decodes without errors to the captured ClientHello', () => {
    expect(view.errors).toEqual([]);
    expect(view.complete).toBe(true);
    expect(view.client_hello_hex).toBe(c.clientHelloHex);
    expect(view.client_hello_length).toBe(c.clientHelloHex.length / 2);
  });

  test('JA4, JA3, JA3N, connection IDs and datagram sizes equal the capture', () => {
    expect(view.ja4).toBe(c.summary.ja4);
    expect(view.tls.ja3_hash).toBe(c.summary.ja3_hash);
    expect(view.ja3n_hash).toBe(c.summary.ja3n_hash);
    expect(view.version).toBe('0x00000001');
    expect(view.dcid).toBe(c.decoded.client_initial_dcid);
    expect(view.dcid_length).toBe(c.summary.dcid_len);
    expect(view.scid_length).toBe(c.summary.scid_len);
    expect(view.datagram_sizes).toEqual(c.summary.first_flight_udp_lengths);
  });

  test('every Initial packet has the frames, padding and packet number the independent decoder read', () => {
    c.decoded.first_flight.forEach((datagram, i) => {
      const ours = view.datagrams[i];
      expect(ours.size).toBe(datagram.udp_payload_length);
      for (const [k, p] of datagram.packets.entries()) {
        if (p.type === 'trailing_bytes') {
          expect([ours.trailing_bytes, ours.trailing_all_zero]).toEqual([p.length, p.all_zero]);
          continue;
        }
        expect(ours.packets[k]).toMatchObject({ type: p.type, length: p.packet_length });
        if (p.type !== 'Initial') continue;
        expect(ours.packets[k]).toMatchObject({
          packet_number: p.pn,
          packet_number_length: p.pn_length,
          payload_length: p.payload_length,
          padding_bytes: p.padding_total,
          frames: p.frames,
          token_length: p.token_length,
        });
      }
    });
  });

  test('transport parameters field by field and in the order the independent decoder read them', () => {
    expect(view.transport_parameter_order).toEqual(c.summary.transport_parameter_order);
    const ours = view.transport_parameters.map((p) => [
      p.id,
      p.id_varint_length,
      p.length,
      p.value_hex,
      p.value_varint_length,
    ]);
    const theirs = c.decoded.transport_parameters.map((p) => [
      p.id,
      p.id_varint_len,
      p.length,
      p.value_hex,
      p.value_varint_len ?? null,
    ]);
    expect(ours).toEqual(theirs);
    expect(view.transport_parameters.every((p) => p.error === null)).toBe(true);
  });

  test(`equals the README constants of ${browserOf(c)}`, () => {
    expectBrowserQuicView(view, browserOf(c));
  });
});

// ---- reassembly, bounds and hostile input ----

const CHROMIUM_HELLO = Buffer.from(
  connections.find((c) => browserOf(c) === 'chromium').clientHelloHex,
  'hex',
);
const DCID = hex('0011223344556677');

function initialWith(payload, opts = {}) {
  return sealInitial({ dcid: DCID, pn: opts.pn ?? 0, payload, padTo: opts.padTo ?? 1200, ...opts });
}

function codes(view) {
  return view.errors.map((e) => e.code);
}

describe('CRYPTO reassembly', () => {
  test('37-byte fragments in reverse order over 6 datagrams, with a retransmitted overlap', () => {
    // (test/echo/quic.fuzz.test.js tries any cut, order and spread.)
    const pieces = [];
    for (let off = 0; off < CHROMIUM_HELLO.length; off += 37)
      pieces.push([off, CHROMIUM_HELLO.subarray(off, off + 37)]);
    pieces.reverse();
    pieces.splice(3, 0, [10, CHROMIUM_HELLO.subarray(10, 300)]); // identical bytes sent again
    const perPacket = Math.ceil(pieces.length / 6);
    const datagrams = [];
    for (let p = 0; p < 6; p++) {
      const part = pieces.slice(p * perPacket, (p + 1) * perPacket);
      datagrams.push(
        initialWith(Buffer.concat(part.map(([o, d]) => frames.crypto(o, d))), { pn: p, padTo: 1400 }),
      );
    }
    const view = decodeQuicFirstFlight(datagrams);
    expect(view.errors).toEqual([]);
    expect(view.client_hello_hex).toBe(CHROMIUM_HELLO.toString('hex'));
    expect(view.ja4).toBe(CHROMIUM.ja4);
    expect(view.crypto_fragments).toHaveLength(pieces.length);
  });

  test('datagrams after the ClientHello are counted, not recorded', () => {
    const d1 = initialWith(frames.crypto(0, CHROMIUM_HELLO), { padTo: 2100 });
    const decoder = new QuicInitialDecoder(d1);
    decoder.push(d1);
    decoder.push(Buffer.from([0x40, 1, 2, 3]));
    expect(decoder.view().datagrams).toHaveLength(1);
    expect(decoder.view().later_datagrams).toBe(2);
  });

  test('a CRYPTO byte sent twice with different values is ERR_QUIC_CRYPTO_CONFLICT', () => {
    const other = Buffer.from(CHROMIUM_HELLO);
    other[50] ^= 0xff;
    const view = decodeQuicFirstFlight([
      initialWith(
        Buffer.concat([
          frames.crypto(0, CHROMIUM_HELLO.subarray(0, 100)),
          frames.crypto(40, other.subarray(40, 60)),
        ]),
      ),
    ]);
    expect(codes(view)).toContain('ERR_QUIC_CRYPTO_CONFLICT');
  });

  test('CRYPTO offsets beyond 64 KiB (up to 2^62 - 1) are ERR_QUIC_CRYPTO_RANGE, nothing allocated for them', () => {
    const huge = Buffer.concat([
      Buffer.from([0x06]),
      varint(2n ** 62n - 1n, 8),
      varint(4),
      Buffer.alloc(4, 1),
    ]);
    const view = decodeQuicFirstFlight([
      initialWith(Buffer.concat([huge, frames.crypto(65530, Buffer.alloc(10, 1))])),
    ]);
    expect(codes(view)).toEqual(['ERR_QUIC_CRYPTO_RANGE', 'ERR_QUIC_CRYPTO_RANGE']);
    expect(view.crypto_fragments).toEqual([]);
    expect(view.complete).toBe(false);
  });

  test('a CRYPTO stream that is not a ClientHello is ERR_QUIC_CLIENT_HELLO', () => {
    const view = decodeQuicFirstFlight([
      initialWith(frames.crypto(0, Buffer.from('02000004deadbeef', 'hex'))),
    ]);
    expect(codes(view)).toEqual(['ERR_QUIC_CLIENT_HELLO']);
  });

  test('a ClientHello without quic_transport_parameters is ERR_QUIC_TRANSPORT_PARAMETERS', () => {
    const record = buildClientHello({ extensions: [ext.sni('a.test'), ext.alpn(['h3'])] });
    const view = decodeQuicFirstFlight([initialWith(frames.crypto(0, record.subarray(5)))]);
    expect(view.complete).toBe(true);
    expect(view.ja4.startsWith('q12d')).toBe(true);
    expect(codes(view)).toEqual(['ERR_QUIC_TRANSPORT_PARAMETERS']);
  });
});

describe('hostile datagrams end as coded errors', () => {
  const good = initialWith(frames.crypto(0, CHROMIUM_HELLO.subarray(0, 500)));

  test('every truncation of a real Initial', () => {
    for (let n = 1; n < good.length; n++) {
      const view = decodeQuicFirstFlight([good.subarray(0, n)]);
      expect(view.errors.length).toBeGreaterThan(0);
      expect(['ERR_QUIC_TRUNCATED', 'ERR_QUIC_MALFORMED', 'ERR_QUIC_DECRYPT']).toContain(view.errors[0].code);
    }
  });

  test('a flipped ciphertext bit is ERR_QUIC_DECRYPT', () => {
    const bad = Buffer.from(good);
    bad[200] ^= 1;
    expect(codes(decodeQuicFirstFlight([bad]))).toEqual(['ERR_QUIC_DECRYPT']);
  });

  test('a Length running past the datagram is ERR_QUIC_TRUNCATED', () => {
    const bad = initialWith(frames.ping(), { lengthOverride: 5000 });
    expect(codes(decodeQuicFirstFlight([bad]))).toEqual(['ERR_QUIC_TRUNCATED']);
  });

  test('a DCID longer than 20 bytes is ERR_QUIC_MALFORMED', () => {
    const bad = Buffer.from(good);
    bad[5] = 21;
    expect(codes(decodeQuicFirstFlight([bad]))).toContain('ERR_QUIC_MALFORMED');
  });

  test('another QUIC version is ERR_QUIC_UNSUPPORTED_VERSION', () => {
    const bad = Buffer.from(good);
    bad.writeUInt32BE(0x6b3343cf, 1);
    const view = decodeQuicFirstFlight([bad]);
    expect(codes(view)).toEqual(['ERR_QUIC_UNSUPPORTED_VERSION']);
    expect(view.version).toBe('0x6b3343cf');
  });

  test('a STREAM frame in an Initial is ERR_QUIC_FRAME; frames before it are kept', () => {
    const view = decodeQuicFirstFlight([
      initialWith(Buffer.concat([frames.ping(), Buffer.from([0x08, 0x00, 0x01])])),
    ]);
    expect(codes(view)).toEqual(['ERR_QUIC_FRAME']);
    expect(view.datagrams[0].packets[0].frames).toEqual(['PING']);
  });

  test('a CRYPTO frame longer than its packet is ERR_QUIC_FRAME', () => {
    const lie = Buffer.concat([Buffer.from([0x06, 0x00]), varint(60000), Buffer.alloc(10)]);
    expect(codes(decodeQuicFirstFlight([initialWith(lie, { padTo: 0 })]))).toEqual(['ERR_QUIC_FRAME']);
  });

  test('an ACK with 2^62 - 1 ranges ends at the payload (ERR_QUIC_FRAME), not in a long loop', () => {
    const ack = Buffer.concat([Buffer.from([0x02, 0, 0]), varint(2n ** 62n - 1n, 8), Buffer.from([0])]);
    expect(codes(decodeQuicFirstFlight([initialWith(ack, { padTo: 0 })]))).toEqual(['ERR_QUIC_FRAME']);
  });

  test('more than 2048 frames is ERR_QUIC_TOO_MANY', () => {
    const view = decodeQuicFirstFlight([initialWith(Buffer.alloc(3000, 0x01), { padTo: 0 })]);
    expect(codes(view)).toEqual(['ERR_QUIC_TOO_MANY']);
    expect(view.ping_count).toBe(2048);
  });

  test('no ClientHello in 16 datagrams is ERR_QUIC_TOO_MANY; the rest are counted only', () => {
    const decoder = new QuicInitialDecoder(initialWith(frames.crypto(0, CHROMIUM_HELLO.subarray(0, 10))));
    for (let i = 1; i < MAX_FIRST_FLIGHT_DATAGRAMS + 5; i++)
      decoder.push(initialWith(frames.ping(), { pn: i }));
    const view = decoder.view();
    expect(view.datagrams).toHaveLength(MAX_FIRST_FLIGHT_DATAGRAMS);
    expect(codes(view)).toEqual(['ERR_QUIC_TOO_MANY']);
    expect(view.later_datagrams).toBe(5);
  });

  test('garbage, empty and short-header datagrams', () => {
    expect(codes(decodeQuicFirstFlight([Buffer.alloc(0)]))).toEqual(['ERR_QUIC_MALFORMED']);
    expect(codes(decodeQuicFirstFlight([Buffer.from([0x40, 1, 2])]))).toEqual(['ERR_QUIC_MALFORMED']);
    expect(codes(decodeQuicFirstFlight([Buffer.from([0xc0])]))).toEqual(['ERR_QUIC_TRUNCATED']);
  });

  test('transport parameters with bad lengths and values are reported, not thrown', () => {
    expect(parseTransportParameters(Buffer.from('0105', 'hex'))).toEqual({
      parameters: [],
      error: expect.stringContaining('runs past the end'),
    });
    expect(parseTransportParameters(Buffer.from('01', 'hex')).error).toMatch(/truncated/);
    const draft = parseTransportParameters(Buffer.from('80ff73db080000000100000001', 'hex'));
    expect(draft.parameters[0]).toMatchObject({
      id: '0xff73db',
      id_varint_length: 4,
      name: 'version_information_draft',
      versions: {
        chosen: { version: '0x00000001', grease: false },
        others: [{ version: '0x00000001', grease: false }],
      },
    });
    const r = parseTransportParameters(Buffer.from('0102010211030000010c01ff', 'hex'));
    expect(r.parameters.map((p) => [p.name, p.error !== null])).toEqual([
      ['max_idle_timeout', true],
      ['version_information', true],
      ['disable_active_migration', true],
    ]);
    // 300 empty parameters with the GREASE id 27: the list stops at 256.
    const many = parseTransportParameters(Buffer.from('1b00'.repeat(300), 'hex'));
    expect(many.parameters).toHaveLength(256);
    expect(many.error).toBe('more than 256 parameters');
  });
});

describe('QuicViewTable', () => {
  const flight = (dcidByte) => {
    const dcid = Buffer.alloc(8, dcidByte);
    return [sealInitial({ dcid, payload: frames.crypto(0, CHROMIUM_HELLO), padTo: 2100 })];
  };

  test('keys views by DCID, newest first, drops the oldest beyond maxViews', () => {
    const table = new QuicViewTable(2, 60_000, () => 1000);
    for (const b of [1, 2, 3]) expect(table.handle(flight(b)[0], `127.0.0.1:${b}`).ja4).toBe(CHROMIUM.ja4);
    expect(table.list().map((v) => v.dcid)).toEqual(['0303030303030303', '0202020202020202']);
    expect(table.get('0101010101010101')).toBeNull();
    expect(table.get('0202020202020202').client).toBe('127.0.0.1:2');
  });

  test('views expire after ttlMs (clock injected)', () => {
    let now = 0;
    const table = new QuicViewTable(10, 1000, () => now);
    table.handle(flight(1)[0], 'a');
    now = 600;
    table.handle(flight(2)[0], 'b');
    now = 1200;
    expect(table.list().map((v) => v.client)).toEqual(['b']);
    now = 1700;
    expect(table.size).toBe(1);
    expect(table.list()).toEqual([]);
  });

  test('ignores non-Initial first packets, short headers, and another address reusing a DCID', () => {
    const table = new QuicViewTable(10, 60_000);
    expect(table.handle(Buffer.from([0x40, 1, 2, 3]), 'a')).toBeNull();
    const handshake = Buffer.from(flight(5)[0]);
    handshake[0] = (handshake[0] & 0xcf) | 0x20;
    expect(table.handle(handshake, 'a')).toBeNull();
    expect(table.size).toBe(0);
    const partial = sealInitial({
      dcid: Buffer.alloc(8, 6),
      payload: frames.crypto(0, CHROMIUM_HELLO.subarray(0, 9)),
    });
    expect(table.handle(partial, 'a')).toBeNull();
    expect(table.handle(flight(6)[0], 'b')).toBeNull();
    expect(table.get('0606060606060606').datagrams).toHaveLength(1);
  });
});
