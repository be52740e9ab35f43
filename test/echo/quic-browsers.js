'use strict';
// What real Chromium 156 and Firefox ESR 153 send over QUIC, as the shared ground truth's README lists it
// (fingerprints/quic/README.md: constant fields exactly, randomised ones within the ranges seen), as one Jest
// check on an echo QUIC view. test/echo/quic.test.js runs it on every captured connection; a test that puts a
// preset's QUIC through the echo server (startEchoServer({ quic: true })) can run the same check.

const CHROMIUM = {
  ja4: 'q13d0312h3_55b375c5d22e_178839b6cec1',
  ja4_r:
    'q13d0312h3_1301,1302,1303_000a,000d,001b,002b,002d,0033,0039,44cd,ca34,fe0d_' +
    '0403,0804,0401,0503,0805,0501,0806,0601,0201',
  ja3n: '771,4865-4866-4867,0-10-13-16-27-43-45-51-57-17613-51764-65037,4588-29-23-24,',
  ja3n_hash: '18555a4ad0bd66d5fd99e1a493aa9f70',
};
const FIREFOX = {
  ja4: 'q13d0315h3_55b375c5d22e_dc5437974b47',
  ja4_r:
    'q13d0315h3_1301,1302,1303_0005,000a,000d,0017,001b,001c,0022,002b,002d,0033,0039,fe0d,ff01_' +
    '0403,0503,0603,0203,0804,0805,0806,0401,0501,0601,0201',
  ja3n: '771,4865-4867-4866,0-5-10-13-16-23-27-28-34-43-45-51-57-65037-65281,4588-29-23-24-25,',
  ja3n_hash: '872c3d8d0635e4167234d6c87532fb0b',
};
const FIREFOX_RESUMED_JA4 = 'q13d0317h3_55b375c5d22e_eaaab5390495';

// [name, value, value varint width] of Chromium's 12 constant parameters (order shuffled per connection).
const CHROMIUM_PARAMS = [
  ['max_idle_timeout', 30000, 4],
  ['max_udp_payload_size', 1472, 2],
  ['initial_max_data', 15728640, 4],
  ['initial_max_stream_data_bidi_local', 6291456, 4],
  ['initial_max_stream_data_bidi_remote', 6291456, 4],
  ['initial_max_stream_data_uni', 6291456, 4],
  ['initial_max_streams_bidi', 100, 2],
  ['initial_max_streams_uni', 103, 2],
  ['max_datagram_frame_size', 65536, 4],
];
// Firefox's 13 parameters in their fixed order: [id, name, value, value width].
const FIREFOX_PARAMS = [
  ['0x1', 'max_idle_timeout', 30000, 4],
  ['0x4', 'initial_max_data', 25165824, 4],
  ['0x5', 'initial_max_stream_data_bidi_local', 12582912, 4],
  ['0x6', 'initial_max_stream_data_bidi_remote', 1048576, 4],
  ['0x7', 'initial_max_stream_data_uni', 1048576, 4],
  ['0x8', 'initial_max_streams_bidi', 100, 2],
  ['0x9', 'initial_max_streams_uni', 100, 2],
  ['0xb', 'max_ack_delay', 20, 1],
  ['0xe', 'active_connection_id_limit', 8, 1],
  ['0xf', 'initial_source_connection_id', null, null],
  ['0x11', 'version_information', null, null],
  ['0xff02de1a', 'min_ack_delay', 1000, 2],
  ['0x20', 'max_datagram_frame_size', 65535, 4],
];

/**
 * Asserts (Jest expect) that a QUIC view carries everything the ground truth's README lists as constant for
 * `browser` ('chromium' | 'firefox' | 'firefox-resumed'), and that what it randomises stays in the ranges seen.
 */
function expectBrowserQuicView(view, browser) {
  expect(view.errors).toEqual([]);
  expect(view.version).toBe('0x00000001');
  expectClientHello(view, browser);
  expectTransportParameters(view, browser);
  expectLayout(view, browser);
}

function expectClientHello(view, browser) {
  const ids = view.tls.extension_ids;
  if (browser === 'chromium') {
    expect(view.tls).toMatchObject(CHROMIUM);
    expect(ids).toHaveLength(12);
    expect([186, 218, 250, 282]).toContain(view.tls.ech_length);
    expect(view.tls.session_id_length).toBe(0);
    expect(view.tls.alps).toEqual({ codepoint: 17613, protocols: ['h3'] });
    expect(view.tls.ciphers.concat(view.tls.curves).some((n) => n.startsWith('GREASE'))).toBe(false);
    return;
  }
  if (browser === 'firefox') {
    expect(view.tls).toMatchObject(FIREFOX);
  } else {
    expect(view.ja4).toBe(FIREFOX_RESUMED_JA4);
    expect(view.tls.early_data).toBe(true);
    expect(view.tls.resumption).toBe(true);
    expect(view.token_length).toBe(74);
  }
  // Shuffled per connection, but quic_transport_parameters and ECH last (pre_shared_key after them).
  const tail = browser === 'firefox' ? [57, 65037] : [57, 65037, 41];
  expect(ids.slice(-tail.length)).toEqual(tail);
  expect(view.tls.client_hello_length).toBe(browser === 'firefox' ? 1882 : 2286);
}

function expectTransportParameters(view, browser) {
  const params = view.transport_parameters;
  expect(params.every((p) => p.error === null)).toBe(true);
  const byName = (n) => params.filter((p) => p.name === n);
  const versions = byName('version_information')[0].versions;
  expect(versions.chosen).toEqual({ version: '0x00000001', grease: false });
  expect(versions.others.map((v) => v.version).filter((v) => v === '0x00000001')).toHaveLength(1);
  expect(versions.others.filter((v) => v.grease)).toHaveLength(1);
  if (browser === 'chromium') {
    expect(params).toHaveLength(13);
    for (const [name, value, width] of CHROMIUM_PARAMS) {
      expect(byName(name).map((p) => [p.value, p.value_varint_length])).toEqual([[value, width]]);
    }
    expect(byName('initial_source_connection_id').map((p) => p.length)).toEqual([0]);
    expect(byName('google_connection_options').map((p) => p.tags)).toEqual([['ORIG']]);
    const grease = params.filter((p) => p.grease);
    expect(grease).toHaveLength(1);
    expect(grease[0]).toMatchObject({ name: 'GREASE', id_varint_length: 8 });
    expect(grease[0].length).toBeGreaterThanOrEqual(1);
    expect(grease[0].length).toBeLessThanOrEqual(15);
    for (const absent of [
      'ack_delay_exponent',
      'max_ack_delay',
      'active_connection_id_limit',
      'min_ack_delay',
    ])
      expect(byName(absent)).toEqual([]);
  } else {
    expect(params.map((p) => [p.id, p.name, p.value, p.value_varint_length])).toEqual(FIREFOX_PARAMS);
    expect(params.find((p) => p.name === 'min_ack_delay').id_varint_length).toBe(8);
    expect(params.find((p) => p.name === 'initial_source_connection_id').value_hex).toBe(view.scid);
    expect(versions.others[0].grease).toBe(true);
    expect(params.some((p) => p.grease)).toBe(false);
  }
}

function expectLayout(view, browser) {
  const initials = view.datagrams.flatMap((d) => d.packets.filter((p) => p.type === 'Initial'));
  if (browser === 'chromium') {
    expect([view.dcid_length, view.scid_length, view.token_length]).toEqual([8, 0, 0]);
    expect(view.datagram_sizes).toEqual([1250, 1250]);
    expect(initials.map((p) => [p.packet_number, p.packet_number_length, p.length])).toEqual([
      [1, 1, 1250],
      [2, 2, 1250],
    ]);
    expect(view.padding).toBe('frames');
    for (const p of initials) {
      expect(p.padding_bytes).toBeGreaterThanOrEqual(175);
      expect(p.padding_bytes).toBeLessThanOrEqual(311);
    }
    expect(view.crypto_fragments.length).toBeGreaterThanOrEqual(11);
    expect(view.crypto_fragments.length).toBeLessThanOrEqual(20);
    expect(view.ping_count).toBeGreaterThanOrEqual(10);
    expect(view.ping_count).toBeLessThanOrEqual(18);
    // Spread over both packets, not in offset order.
    expect(new Set(view.crypto_fragments.map((f) => f.packet_number))).toEqual(new Set([1, 2]));
    const offsets = view.crypto_fragments.map((f) => f.offset);
    expect(offsets).not.toEqual([...offsets].sort((a, b) => a - b));
    return;
  }
  expect(view.dcid_length).toBeGreaterThanOrEqual(8);
  expect(view.dcid_length).toBeLessThanOrEqual(20);
  expect(view.scid_length).toBe(3);
  expect(view.padding).toBe('trailing_zeros');
  expect(view.padding_frame_bytes).toBe(0);
  expect(view.ping_count).toBe(0);
  expect(view.datagram_sizes).toEqual(browser === 'firefox' ? [1252, 1252] : [1252, 1252, 1252]);
  const [tail, head, middle] = view.crypto_fragments;
  // Packet 1: CRYPTO(tail X..end) then CRYPTO(0..Y); packet 2: CRYPTO(Y..X).
  expect(head.offset).toBe(0);
  expect(middle.offset).toBe(head.length);
  expect(tail.packet_number).toBe(head.packet_number);
  expect(middle.packet_number).toBe(head.packet_number + 1);
  if (browser === 'firefox') {
    expect(view.crypto_fragments).toHaveLength(3);
    expect(middle.length).toBe(941);
    expect(tail.offset).toBe(middle.offset + middle.length);
    expect(tail.offset + tail.length).toBe(view.client_hello_length);
    // Each packet is its frames and no more (2-byte Length): 979 + DCID + PN length bytes with two CRYPTO
    // frames, 975 with one, a byte less when Y < 64 (its varint is shorter): 984..999 as captured, up to
    // 1001 with a 20-byte DCID and a 2-byte packet number.
    const short = head.length < 64 ? 1 : 0;
    initials.forEach((p, i) => {
      expect(p.length).toBe((i === 0 ? 979 : 975) - short + view.dcid_length + p.packet_number_length);
    });
  } else {
    expect(view.datagrams[2].packets.map((p) => p.type)).toEqual(['Initial', '0-RTT']);
  }
}

module.exports = {
  expectClientHello,
  expectBrowserQuicView,
  CHROMIUM,
  FIREFOX,
  FIREFOX_RESUMED_JA4,
  CHROMIUM_PARAMS,
  FIREFOX_PARAMS,
};
