'use strict';
// Property-based fuzzing (fast-check, seeded and bounded) of the echo server's QUIC view (lib/echo/quic.ts),
// which reads what any UDP client sends: a ClientHello cut anywhere, sent in any order over any number of
// Initials, reassembles to the same bytes and JA4; mutated real first flights and arbitrary bytes never
// throw, and the errors they produce stay bounded.
const fc = require('fast-check');
const { runs, split } = require('../helpers/fuzz');
const { decodeQuicFirstFlight } = require('../../dist/echo/quic');
const { loadQuicConnections, browserOf, frames, sealInitial } = require('./quic-helpers');

const connections = loadQuicConnections();
const chromium = connections.find((c) => browserOf(c) === 'chromium');
const HELLO = Buffer.from(chromium.clientHelloHex, 'hex');
const DCID = Buffer.from('a1b2c3d4e5f60718', 'hex');

test('any cut, order and spread of the ClientHello over Initials reassembles it exactly', () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat(), { maxLength: 40 }),
      fc.array(fc.nat(), { minLength: 41, maxLength: 41 }),
      fc.integer({ min: 1, max: 6 }),
      (cuts, order, packets) => {
        let offset = 0;
        const pieces = split(HELLO, cuts)
          .map((data) => {
            const piece = { offset, data };
            offset += data.length;
            return piece;
          })
          .filter((p) => p.data.length > 0)
          .map((p, i) => ({ ...p, key: order[i] }))
          .sort((a, b) => a.key - b.key);
        const datagrams = [];
        for (let p = 0; p < packets; p++) {
          const mine = pieces.filter((_, i) => i % packets === p);
          const payload = Buffer.concat([frames.ping(), ...mine.map((x) => frames.crypto(x.offset, x.data))]);
          datagrams.push(sealInitial({ dcid: DCID, pn: p, payload, padTo: 1200 }));
        }
        const view = decodeQuicFirstFlight(datagrams);
        expect(view.errors).toEqual([]);
        expect(view.client_hello_hex).toBe(chromium.clientHelloHex);
        expect(view.ja4).toBe(chromium.summary.ja4);
        expect(view.datagrams.length + view.later_datagrams).toBe(packets);
        expect(view.ping_count).toBe(view.datagrams.length);
      },
    ),
    runs(0x0c1c),
  );
});

test('mutated real first flights never throw; errors stay bounded and the view serializes', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: connections.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 })), {
        minLength: 1,
        maxLength: 8,
      }),
      fc.option(fc.nat()),
      fc.boolean(),
      (which, flips, cutAt, reverse) => {
        const datagrams = connections[which].datagrams.map((d) => Buffer.from(d));
        for (const [d, at, xor] of flips) datagrams[d % datagrams.length][at % 1250] ^= xor;
        if (cutAt !== null) datagrams.push(datagrams[0].subarray(0, cutAt % datagrams[0].length));
        if (reverse) datagrams.reverse();
        const view = decodeQuicFirstFlight(datagrams);
        expect(view.errors.length).toBeLessThanOrEqual(32);
        expect(typeof JSON.stringify(view)).toBe('string');
      },
    ),
    runs(0x5eed),
  );
});

test('arbitrary bytes never throw and never complete a ClientHello', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 1500 }), { minLength: 1, maxLength: 4 }), (datagrams) => {
      const view = decodeQuicFirstFlight(datagrams);
      expect(view.complete).toBe(false);
      expect(view.errors.length).toBeLessThanOrEqual(32);
    }),
    runs(0xbad),
  );
});
