'use strict';
// Property-based fuzzing (fast-check, seeded and bounded) of the whole-connection decoder
// (lib/echo/quic-conn.ts, h3.ts, qpack.ts) and the pcapng reader, which read captures of any client and
// server: mutated real connections (bit flips, cuts, dropped and reordered datagrams), arbitrary bytes on
// every HTTP/3 stream of a connection that decrypts, and arbitrary or mutated capture files never throw, never
// hang, and end with errors whose codes are the documented ones, bounded in number; the view serializes.
const fs = require('node:fs');
const path = require('node:path');
const fc = require('fast-check');
const { runs } = require('../helpers/fuzz');
const { decodeQuicConnection, readPcapngUdp, splitQuicConnections } = require('../../dist/echo');
const {
  loadCapturedConnections,
  syntheticConnection,
  RUNS,
  CONNECTION_ERROR_CODES,
} = require('./quic-h3-helpers');
const { QUIC_FIXTURES } = require('./quic-helpers');

const CODES = new Set(CONNECTION_ERROR_CODES);
const connections = loadCapturedConnections();
// Whole connections decrypt every packet: fewer cases than the default keep this file to seconds (unless
// CTN_FUZZ_RUNS asks for a longer run).
const fewer = (seed) => (process.env.CTN_FUZZ_RUNS ? runs(seed) : { ...runs(seed), numRuns: 300 });

function expectSettled(view) {
  expect(view.errors.length).toBeLessThanOrEqual(64);
  for (const e of view.errors) {
    expect(CODES.has(e.code)).toBe(true);
    expect(typeof e.message).toBe('string');
  }
  expect(typeof JSON.stringify(view)).toBe('string');
}

test('mutated real connections never throw: flips, cuts, drops and reorders', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: connections.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }),
      fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 3 }),
      fc.array(fc.nat(), { maxLength: 3 }),
      fc.boolean(),
      (which, flips, cuts, drops, reverse) => {
        const c = connections[which];
        let datagrams = c.captured.datagrams.map((d) => ({ from: d.from, data: Buffer.from(d.data) }));
        for (const [d, at, xor] of flips) {
          const g = datagrams[d % datagrams.length].data;
          g[at % g.length] ^= xor;
        }
        for (const [d, at] of cuts) {
          const g = datagrams[d % datagrams.length];
          g.data = g.data.subarray(0, at % (g.data.length + 1));
        }
        for (const d of drops) datagrams.splice(d % datagrams.length, 1);
        if (reverse) datagrams = datagrams.reverse();
        expectSettled(decodeQuicConnection(datagrams, c.keys));
      },
    ),
    fewer(0x4833),
  );
});

test('arbitrary bytes on the control, QPACK and request streams of a decrypting connection', () => {
  const bytes = fc.uint8Array({ maxLength: 300 });
  fc.assert(
    fc.property(
      bytes,
      bytes,
      bytes,
      bytes,
      bytes,
      fc.boolean(),
      (control, encoder, decoder, request, server, fin) => {
        const { datagrams, keyLog } = syntheticConnection({
          serverControl: Buffer.from(server),
          streams: [
            [2, Buffer.concat([Buffer.from([0x00]), control]), fin],
            [6, Buffer.concat([Buffer.from([0x02]), encoder])],
            [10, Buffer.concat([Buffer.from([0x03]), decoder])],
            [0, Buffer.from(request), fin],
          ],
        });
        const view = decodeQuicConnection(datagrams, keyLog);
        expectSettled(view);
        // Every packet still opens: whatever went wrong is HTTP/3 or QPACK, not QUIC.
        expect(view.packets.every((p) => p.decrypted)).toBe(true);
        for (const e of view.errors) expect(['ERR_H3_FRAME', 'ERR_QPACK']).toContain(e.code);
      },
    ),
    runs(0x9204),
  );
});

test('arbitrary datagrams and key logs never throw', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({ from: fc.constantFrom('client', 'server'), data: fc.uint8Array({ maxLength: 1400 }) }),
        {
          maxLength: 6,
        },
      ),
      fc.string({ maxLength: 200 }),
      (datagrams, keyLog) => expectSettled(decodeQuicConnection(datagrams, keyLog)),
    ),
    runs(0x1e7),
  );
});

test('mutated and arbitrary pcapng files never throw', () => {
  const pcap = fs.readFileSync(path.join(QUIC_FIXTURES, RUNS[1], 'quic.pcapng'));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 8 }),
      fc.nat(),
      fc.uint8Array({ maxLength: 200 }),
      (flips, cut, junk) => {
        const bytes = Buffer.from(pcap.subarray(0, 24 + (cut % pcap.length)));
        for (const [at, xor] of flips) bytes[at % bytes.length] ^= xor;
        for (const input of [bytes, Buffer.from(junk)]) {
          const r = readPcapngUdp(input);
          for (const e of r.errors) expect(e.code).toBe('ERR_PCAPNG');
          const conns = splitQuicConnections(r.datagrams);
          expect(conns.length).toBeLessThanOrEqual(r.datagrams.length);
        }
      },
    ),
    fewer(0x9ca9),
  );
});
