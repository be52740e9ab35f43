'use strict';
// Shared helpers of the QUIC echo suites: the real browser first flights (test/fixtures/fingerprints/quic) and a
// small QUIC v1 Initial builder (RFC 9000 §17.2.2, protected per RFC 9001 §5) so tests can send Initials of any
// shape: CRYPTO frames at any offsets, PINGs, PADDING, bad lengths.
const { createCipheriv } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const { deriveClientInitialKeys, headerProtectionMask } = require('../../dist/echo/quic');

const QUIC_FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'fingerprints', 'quic');

function readHexLines(file) {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Every captured connection of every run: { run, conn, summary, datagrams: Buffer[], clientHelloHex, decoded }. */
function loadQuicConnections() {
  const out = [];
  for (const run of fs
    .readdirSync(QUIC_FIXTURES)
    .filter((d) => d.startsWith('run-'))
    .sort()) {
    const dir = path.join(QUIC_FIXTURES, run);
    for (const summary of JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'))) {
      const n = summary.connection;
      out.push({
        run,
        conn: n,
        summary,
        datagrams: readHexLines(path.join(dir, `conn-${n}.initial-datagrams.hex`)).map((h) =>
          Buffer.from(h, 'hex'),
        ),
        plaintexts: readHexLines(path.join(dir, `conn-${n}.initial-plaintext.hex`)),
        clientHelloHex: readHexLines(path.join(dir, `conn-${n}.clienthello.hex`))[0],
        decoded: JSON.parse(fs.readFileSync(path.join(dir, `conn-${n}.json`), 'utf8')),
      });
    }
  }
  return out;
}

/** A QUIC varint, minimal width unless `width` (1, 2, 4, 8) is given. */
function varint(value, width) {
  const v = BigInt(value);
  const w = width ?? (v < 64n ? 1 : v < 16384n ? 2 : v < 1073741824n ? 4 : 8);
  const out = Buffer.alloc(w);
  let rest = v;
  for (let i = w - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  out[0] |= { 1: 0x00, 2: 0x40, 4: 0x80, 8: 0xc0 }[w];
  return out;
}

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

const frames = {
  crypto: (offset, data) => Buffer.concat([Buffer.from([0x06]), varint(offset), varint(data.length), data]),
  ping: () => Buffer.from([0x01]),
  padding: (n) => Buffer.alloc(n),
};

/**
 * A protected client Initial. `payload` is the plaintext frames; `padTo` pads the payload with PADDING so the
 * packet reaches that many bytes. `lengthOverride` writes another Length field (a lie).
 */
function sealInitial({
  dcid,
  scid = Buffer.alloc(0),
  token = Buffer.alloc(0),
  pn = 0,
  pnLength = 1,
  payload,
  padTo = 0,
  version = 1,
  lengthOverride,
}) {
  const keys = deriveClientInitialKeys(dcid);
  const head = Buffer.concat([
    Buffer.from([0xc0 | (pnLength - 1)]),
    u32(version),
    Buffer.from([dcid.length]),
    dcid,
    Buffer.from([scid.length]),
    scid,
    varint(token.length),
    token,
  ]);
  let body = payload;
  const fixed = head.length + 2 + pnLength + 16;
  if (fixed + body.length < padTo) body = Buffer.concat([body, Buffer.alloc(padTo - fixed - body.length)]);
  if (pnLength + body.length < 4) body = Buffer.concat([body, Buffer.alloc(4 - pnLength - body.length)]);
  const length = lengthOverride ?? pnLength + body.length + 16;
  const pnBytes = Buffer.alloc(pnLength);
  pnBytes.writeUIntBE(pn % 2 ** (8 * pnLength), 0, pnLength);
  const header = Buffer.concat([head, varint(length, 2), pnBytes]);
  const nonce = Buffer.from(keys.iv);
  for (let i = 0; i < 6; i++) nonce[11 - i] ^= Math.floor(pn / 2 ** (8 * i)) & 0xff;
  const cipher = createCipheriv('aes-128-gcm', keys.key, nonce);
  cipher.setAAD(header);
  const sealed = Buffer.concat([cipher.update(body), cipher.final(), cipher.getAuthTag()]);
  const packet = Buffer.concat([header, sealed]);
  const pnOffset = header.length - pnLength;
  const mask = headerProtectionMask(keys.hp, packet.subarray(pnOffset + 4, pnOffset + 20));
  packet[0] ^= mask[0] & 0x0f;
  for (let i = 0; i < pnLength; i++) packet[pnOffset + i] ^= mask[1 + i];
  return packet;
}

/** Which browser: Chromium pads to 1250-byte datagrams, Firefox to 1252 (a resumed Firefox sends three). */
function browserOf(c) {
  if (c.summary.first_flight_udp_lengths[0] === 1250) return 'chromium';
  return c.datagrams.length === 3 ? 'firefox-resumed' : 'firefox';
}

module.exports = { loadQuicConnections, browserOf, varint, frames, sealInitial, readHexLines, QUIC_FIXTURES };
