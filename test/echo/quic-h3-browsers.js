'use strict';
// What real Chromium 156 and Firefox ESR 153 send over HTTP/3, as the shared ground truth's README lists it
// (fingerprints/quic/README.md, the "HTTP/3" and "Request header order" sections), as one Jest check on a
// decoded connection (lib/echo/quic-conn.ts: decodeQuicConnection). test/echo/quic-h3.test.js runs it on every
// captured connection; a test that decodes our own client's connection can run the same check, or list the
// fields it does not meet yet (expectBrowserH3View(view, browser, server, { skip: [...] })).

// [id, value, id varint width, value varint width], in order.
const CHROMIUM_SETTINGS = [
  ['0x1', 65536, 1, 4],
  ['0x6', 262144, 1, 4],
  ['0x7', 100, 1, 2],
  ['0x33', 1, 1, 1],
];
const FIREFOX_SETTINGS = [
  ['0x1', 65536, 1, 4],
  ['0x7', 20, 1, 1],
  ['0x2b603742', 0, 4, 1],
  ['0xffd277', 1, 4, 1],
  ['0x33', 1, 1, 1],
  ['0x8', 1, 1, 1],
];

// The navigation request's fields after the pseudo-headers (values constant unless null).
const CHROMIUM_NAVIGATION = [
  ['sec-ch-ua', '"Not:A-Brand";v="8", "Chromium";v="156"'],
  ['sec-ch-ua-mobile', '?0'],
  ['sec-ch-ua-platform', '"Linux"'],
  ['upgrade-insecure-requests', '1'],
  ['user-agent', null],
  [
    'accept',
    'text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,image/apng,*/*;q=0.8,' +
      'application/signed-exchange;v=b3;q=0.7',
  ],
  ['sec-fetch-site', 'none'],
  ['sec-fetch-mode', 'navigate'],
  ['sec-fetch-user', '?1'],
  ['sec-fetch-dest', 'document'],
  ['accept-encoding', 'gzip, deflate, br, zstd'],
  ['accept-language', 'en-US,en;q=0.9'],
  ['priority', 'u=0, i'],
];
const FIREFOX_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0';
const FIREFOX_NAVIGATION = [
  ['user-agent', FIREFOX_UA],
  ['accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
  ['accept-language', 'en-US,en;q=0.9'],
  ['accept-encoding', 'gzip, deflate, br, zstd'],
  ['alt-used', null],
  ['upgrade-insecure-requests', '1'],
  ['sec-fetch-dest', 'document'],
  ['sec-fetch-mode', 'navigate'],
  ['sec-fetch-site', 'none'],
  // the headed run adds sec-fetch-user: ?1 here
  ['priority', 'u=0, i'],
];
/** Exact static-table matches the browsers use (RFC 9204 Appendix A): :method GET, :scheme https, u-i-r 1. */
const STATIC_EXACT = [17, 23, 94];
const FIREFOX_INSERTS = ['alt-used', 'sec-fetch-dest', 'sec-fetch-mode', 'sec-fetch-site', 'priority'];

/** `m,a,s,p` from [":method", ":authority", ":scheme", ":path"]. */
function pseudoLetters(names) {
  return names.map((n) => n[1]).join(',');
}

/** The checks by name, in order; `skip` switches some off (known gaps), `only` runs just those. */
const CHECKS = [
  'errors',
  'control-stream',
  'settings',
  'settings-grease',
  'grease-frame',
  'priority-update',
  'qpack-streams',
  'qpack-policy',
  'pseudo-header-order',
  'header-order',
];

function make(skip, only) {
  return (name, fn) => {
    if (!CHECKS.includes(name)) throw new Error(`no check ${name}`);
    if (!skip.includes(name) && (!only || only.includes(name))) fn();
  };
}

/**
 * Asserts (Jest expect) that a decoded connection's HTTP/3 is `browser`'s ('chromium' | 'firefox' |
 * 'firefox-resumed') against `server` ('caddy': no QPACK dynamic table | 'ngtcp2': capacity 4096), as the
 * ground truth lists it. `navigation`: stream 0 is a top-level navigation (its header order is checked);
 * `headed`: Firefox's headed run adds sec-fetch-user. `skip`: names of checks (CHECKS) to leave out; `only`:
 * the names to run alone.
 */
function expectBrowserH3View(
  view,
  browser,
  server,
  { navigation = true, headed = false, skip = [], only } = {},
) {
  for (const name of [...skip, ...(only ?? [])])
    if (!CHECKS.includes(name)) throw new Error(`no check ${name}`);
  const check = make(skip, only);
  const h3 = view.http3;
  const chromium = browser === 'chromium';
  check('errors', () => expect(view.errors).toEqual([]));
  check('control-stream', () => {
    expect(h3.control_stream).toBe(2);
    expect(h3.uni_streams.find((u) => u.stream_id === 2)).toMatchObject({
      kind: 'control',
      type_varint_length: 1,
    });
  });
  const [settingsFrame, greaseFrame, ...later] = h3.control_frames;
  check('settings', () => {
    expect(settingsFrame.name).toBe('SETTINGS');
    const plain = h3.settings.filter((s) => !s.grease);
    const wanted = chromium ? CHROMIUM_SETTINGS : FIREFOX_SETTINGS;
    expect(plain.map((s) => [s.id, s.value, s.id_varint_length, s.value_varint_length])).toEqual(wanted);
    expect(h3.settings.slice(0, wanted.length).every((s) => !s.grease)).toBe(true);
  });
  check('settings-grease', () => {
    const grease = h3.settings.filter((s) => s.grease);
    if (!chromium) return expect(grease).toEqual([]);
    // One GREASE setting last: a 0x1f·N+0x21 id and a random 32-bit value, both 8-byte varints.
    expect(grease).toHaveLength(1);
    expect(h3.settings[h3.settings.length - 1]).toBe(grease[0]);
    expect(grease[0]).toMatchObject({ name: 'GREASE', id_varint_length: 8, value_varint_length: 8 });
    expect(Number(grease[0].value)).toBeLessThan(2 ** 32);
  });
  check('grease-frame', () => {
    // One GREASE frame right after SETTINGS, in the same packet: that completes the first control packet.
    expect(greaseFrame).toMatchObject({ name: 'GREASE', grease: true });
    expect(greaseFrame.length).toBeLessThanOrEqual(chromium ? 3 : 7);
    expect(greaseFrame.packet.index).toBe(settingsFrame.packet.index);
    expect(later.every((f) => f.packet.index !== settingsFrame.packet.index)).toBe(true);
    expect(h3.control_frames.filter((f) => f.grease)).toHaveLength(1);
  });
  const request = h3.requests.find((r) => r.stream_id === 0);
  check('priority-update', () => {
    const updates = h3.control_frames.filter((f) => f.name.startsWith('PRIORITY_UPDATE'));
    if (!chromium) return expect(updates).toEqual([]);
    if (!request) return;
    // PRIORITY_UPDATE(0xf0700) `u=0, i` for stream 0, in the packet that carries the request HEADERS.
    expect(updates[0]).toMatchObject({
      type: '0xf0700',
      priority_update: { element_id: 0, field_value: 'u=0, i' },
    });
    expect(updates[0].packet.index).toBe(request.frames[0].packet.index);
    expect(request.complete).toBe(true);
  });
  check('qpack-streams', () => expectQpackStreams(view, browser, server));
  if (!request) return;
  check('qpack-policy', () => expectQpackPolicy(view, request, browser, server));
  check('pseudo-header-order', () =>
    expect(pseudoLetters(request.pseudo_header_order)).toBe(chromium ? 'm,a,s,p' : 'm,s,a,p'),
  );
  if (!navigation) return;
  check('header-order', () => {
    const fields = request.headers.filter(([n]) => !n.startsWith(':'));
    const wanted = chromium ? CHROMIUM_NAVIGATION : FIREFOX_NAVIGATION.slice();
    if (!chromium && headed) wanted.splice(wanted.length - 1, 0, ['sec-fetch-user', '?1']);
    expect(fields.map(([n]) => n)).toEqual(wanted.map(([n]) => n));
    for (const [i, [, value]] of wanted.entries()) if (value !== null) expect(fields[i][1]).toBe(value);
  });
}

function expectQpackStreams(view, browser, server) {
  const h3 = view.http3;
  const control = h3.uni_streams.find((u) => u.kind === 'control');
  if (browser === 'chromium') {
    // Opened lazily: none at all when the server allows no dynamic table; else decoder 6, encoder 10.
    if (server === 'caddy') {
      expect(h3.uni_streams.map((u) => u.kind)).toEqual(['control']);
      return;
    }
    expect([h3.qpack_decoder_stream, h3.qpack_encoder_stream]).toEqual([6, 10]);
    const encoder = h3.uni_streams.find((u) => u.stream_id === 10);
    expect(encoder.first_packet.index).toBeGreaterThan(control.first_packet.index);
    return;
  }
  // Always: encoder 6 and decoder 10, in the packet that opens the control stream.
  expect([h3.qpack_encoder_stream, h3.qpack_decoder_stream]).toEqual([6, 10]);
  for (const id of [6, 10]) {
    expect(h3.uni_streams.find((u) => u.stream_id === id).first_packet.index).toBe(
      control.first_packet.index,
    );
  }
  const encoder = view.streams.find((s) => s.sender === 'client' && s.stream_id === 6);
  if (server === 'caddy') {
    // Only their type byte.
    expect(h3.uni_streams.filter((u) => u.kind !== 'control').map((u) => u.bytes)).toEqual([1, 1]);
    return;
  }
  // Set Dynamic Table Capacity 4096 at once, in the control stream's packet.
  expect(h3.qpack_encoder_instructions[0]).toEqual({ op: 'set_dynamic_table_capacity', capacity: 4096 });
  const first = encoder.segments[0];
  expect(first.packet).toBe(control.first_packet.index);
  expect(first.offset + first.length).toBeGreaterThanOrEqual(4);
}

function expectQpackPolicy(view, request, browser, server) {
  const h3 = view.http3;
  const lines = request.field_lines;
  if (server === 'caddy') {
    // No dynamic table: static exact matches, static name references and literals only.
    expect(h3.qpack_encoder_instructions).toEqual([]);
    expect(request.required_insert_count).toBe(0);
    for (const l of lines)
      expect(['indexed_static', 'literal_static_name_ref', 'literal_literal_name']).toContain(l.rep);
    return;
  }
  const exact = lines.filter((l) => l.rep === 'indexed_static');
  if (browser === 'chromium') {
    // Every field that is not an exact static match is inserted; HEADERS refers only to the table.
    expect(exact.map((l) => l.index).sort((a, b) => a - b)).toEqual(STATIC_EXACT);
    expect(lines.filter((l) => l.rep !== 'indexed_static').every((l) => l.rep === 'indexed_dynamic')).toBe(
      true,
    );
    const inserted = new Set(
      h3.qpack_encoder_instructions.filter((i) => i.op !== 'set_dynamic_table_capacity').map((i) => i.name),
    );
    for (const l of lines) if (l.rep !== 'indexed_static') expect(inserted.has(l.name)).toBe(true);
    // The encoder stream opens with the first request, in its packet.
    expect(h3.uni_streams.find((u) => u.stream_id === 10).first_packet.index).toBe(
      request.first_packet.index,
    );
    return;
  }
  // Firefox: literal-name inserts of five fields sent with the request, referenced by post-base index; the
  // rest are literals with a static name reference (or exact static matches).
  const inserts = h3.qpack_encoder_instructions.filter((i) => i.op !== 'set_dynamic_table_capacity');
  expect(inserts.map((i) => [i.op, i.name])).toEqual(
    FIREFOX_INSERTS.map((n) => ['insert_with_literal_name', n]),
  );
  // The inserts go out in the request's packet: read from the stream segments of a decoded capture (the live
  // echo's answer carries no per-stream segments).
  const encoder = view.streams.find((s) => s.sender === 'client' && s.stream_id === 6);
  if (encoder || view.streams.length) expect(encoder.segments[1].packet).toBe(request.first_packet.index);
  expect(lines.filter((l) => l.rep === 'indexed_post_base').map((l) => l.name)).toEqual(FIREFOX_INSERTS);
  expect(exact.map((l) => l.index).sort((a, b) => a - b)).toEqual(STATIC_EXACT);
  // The headed run's sec-fetch-user has no static name; no capture against a table shows its form (ours: a
  // literal name), so it is left out here.
  const rest = lines.filter(
    (l) => l.rep !== 'indexed_post_base' && l.rep !== 'indexed_static' && l.name !== 'sec-fetch-user',
  );
  expect(rest.every((l) => l.rep === 'literal_static_name_ref')).toBe(true);
  expect(request.base).toBe(0);
}

module.exports = {
  expectBrowserH3View,
  CHECKS,
  pseudoLetters,
  CHROMIUM_SETTINGS,
  FIREFOX_SETTINGS,
  CHROMIUM_NAVIGATION,
  FIREFOX_NAVIGATION,
  STATIC_EXACT,
};
