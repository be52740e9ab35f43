'use strict';
// Shared by the whole-connection QUIC/HTTP/3 suites: the shared ground truth's captures (pcapng + key log per
// run, copied to test/fixtures/fingerprints/quic) split into connections and matched with the capture
// tooling's own decode (conn-N.json, by client port), and a builder of synthetic connections (any suite, any
// stream bytes) so hostile HTTP/3 and QPACK input can be sent through the real decoder.
const fs = require('node:fs');
const path = require('node:path');

const { decodeQuicConnection, readPcapngUdp, splitQuicConnections } = require('../../dist/echo');
const {
  QUIC_CIPHER_SUITES,
  deriveInitialSecrets,
  derivePacketKeys,
  headerProtectionMaskFor,
  nextKeyPhase,
  sealPayload,
} = require('../../dist/echo/quic-keys');
const { QUIC_FIXTURES, varint } = require('./quic-helpers');

const RUNS = ['run-caddy-chromium156-firefox153', 'run-ngtcp2-chromium156-firefox153'];

/** Every code a connection view's `errors` may carry (types/echo.d.ts QuicConnectionErrorCode). */
const CONNECTION_ERROR_CODES = [
  'ERR_QUIC_TRUNCATED',
  'ERR_QUIC_MALFORMED',
  'ERR_QUIC_UNSUPPORTED_VERSION',
  'ERR_QUIC_DECRYPT',
  'ERR_QUIC_FRAME',
  'ERR_QUIC_TOO_MANY',
  'ERR_QUIC_CRYPTO_RANGE',
  'ERR_QUIC_CRYPTO_CONFLICT',
  'ERR_QUIC_CLIENT_HELLO',
  'ERR_QUIC_TRANSPORT_PARAMETERS',
  'ERR_QUIC_KEYS',
  'ERR_QUIC_STREAM',
  'ERR_H3_FRAME',
  'ERR_QPACK',
  'ERR_PCAPNG',
];

/** Every connection of both runs: { run, server, conn, summary, tooling, captured, keys, view }. */
function loadCapturedConnections() {
  const out = [];
  for (const run of RUNS) {
    const dir = path.join(QUIC_FIXTURES, run);
    const keys = fs.readFileSync(path.join(dir, 'keys.log'), 'utf8');
    const pcap = readPcapngUdp(fs.readFileSync(path.join(dir, 'quic.pcapng')));
    if (pcap.errors.length) throw new Error(`${run}: ${JSON.stringify(pcap.errors)}`);
    const summaries = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    for (const captured of splitQuicConnections(pcap.datagrams)) {
      const port = Number(captured.client.split(':').pop());
      const summary = summaries.find((s) => s.client_port === port);
      const tooling = JSON.parse(fs.readFileSync(path.join(dir, `conn-${summary.connection}.json`), 'utf8'));
      out.push({
        run,
        server: run.includes('caddy') ? 'caddy' : 'ngtcp2',
        conn: summary.connection,
        summary,
        tooling,
        captured,
        keys,
        view: decodeQuicConnection(captured.datagrams, keys),
      });
    }
  }
  return out;
}

/** 'chromium' | 'firefox' | 'firefox-resumed', from the first flight (as test/echo/quic-helpers.js does). */
function browserOfConnection(c) {
  if (c.summary.first_flight_udp_lengths[0] === 1250) return 'chromium';
  return c.summary.first_flight_udp_lengths.length === 3 ? 'firefox-resumed' : 'firefox';
}

// ---- synthetic connections ----

const LONG_TYPE = { Initial: 0, '0-RTT': 1, Handshake: 2 };

/** Applies header protection to a sealed packet whose packet number (2 bytes) sits at `pnOffset`. */
function protect(keys, header, pnOffset, pn, payload, long) {
  const packet = Buffer.concat([header, sealPayload(keys, pn, header, payload)]);
  const mask = headerProtectionMaskFor(keys.suite, keys.hp, packet.subarray(pnOffset + 4, pnOffset + 20));
  packet[0] ^= mask[0] & (long ? 0x0f : 0x1f);
  for (let i = 0; i < 2; i++) packet[pnOffset + i] ^= mask[1 + i];
  return packet;
}

/** A long-header packet (2-byte packet number) with `payload` (padded to 20 bytes for the HP sample). */
function longPacket({ type, dcid, scid, pn, payload, keys }) {
  const body = payload.length < 20 ? Buffer.concat([payload, Buffer.alloc(20 - payload.length)]) : payload;
  const pnBytes = Buffer.from([(pn >> 8) & 0xff, pn & 0xff]);
  const head = Buffer.concat([
    Buffer.from([0xc0 | (LONG_TYPE[type] << 4) | 0x01, 0, 0, 0, 1, dcid.length]),
    dcid,
    Buffer.from([scid.length]),
    scid,
    type === 'Initial' ? varint(0) : Buffer.alloc(0),
    varint(2 + body.length + 16, 2),
  ]);
  return protect(keys, Buffer.concat([head, pnBytes]), head.length, pn, body, true);
}

/** A short-header (1-RTT) packet. */
function shortPacket({ dcid, pn, payload, keys, keyPhase = 0 }) {
  const body = payload.length < 20 ? Buffer.concat([payload, Buffer.alloc(20 - payload.length)]) : payload;
  const header = Buffer.concat([
    Buffer.from([0x40 | (keyPhase << 2) | 0x01]),
    dcid,
    Buffer.from([(pn >> 8) & 0xff, pn & 0xff]),
  ]);
  return protect(keys, header, 1 + dcid.length, pn, body, false);
}

/** A STREAM frame with offset and length. */
function streamFrame(id, offset, data, fin = false) {
  return Buffer.concat([
    Buffer.from([0x0e | (fin ? 1 : 0)]),
    varint(id),
    varint(offset),
    varint(data.length),
    data,
  ]);
}

function cryptoFrame(offset, data) {
  return Buffer.concat([Buffer.from([0x06]), varint(offset), varint(data.length), data]);
}

/** An HTTP/3 frame: type, length, payload. */
function h3Frame(type, payload) {
  return Buffer.concat([varint(type), varint(payload.length), payload]);
}

/**
 * A client connection with `suite`: a client Initial carrying a ClientHello prefix (its random keys the log),
 * a server Initial with a ServerHello choosing the suite, then the client's 1-RTT packets carrying `streams`
 * ([id, bytes, fin] each, one packet per entry) and the server's control stream (`serverControl`, bytes
 * after its type). `keyUpdateAfter`: the client updates its keys after that many 1-RTT packets.
 */
function syntheticConnection({
  suite = 'TLS_AES_128_GCM_SHA256',
  streams = [],
  serverControl = null,
  keyUpdateAfter = Infinity,
}) {
  const s = QUIC_CIPHER_SUITES.find((x) => x.name === suite);
  const random = Buffer.alloc(32, 0x5a);
  const dcid = Buffer.from('0102030405060708', 'hex');
  const serverCid = Buffer.from('a1a2a3a4', 'hex');
  const hello = Buffer.concat([
    Buffer.from([0x01, 0x00, 0x00, 0x26, 0x03, 0x03]),
    random,
    Buffer.from([0x00]),
  ]);
  const serverHello = Buffer.concat([
    Buffer.from([0x02, 0x00, 0x00, 0x28, 0x03, 0x03]),
    Buffer.alloc(32, 0x11),
    Buffer.from([0x00, s.id >> 8, s.id & 0xff, 0x00]),
  ]);
  const initial = deriveInitialSecrets(dcid);
  const aes = QUIC_CIPHER_SUITES[0];
  const hashLength = s.hash === 'sha384' ? 48 : 32;
  const clientSecret = Buffer.alloc(hashLength, 0x21);
  const serverSecret = Buffer.alloc(hashLength, 0x42);
  let clientKeys = derivePacketKeys(clientSecret, s);
  const serverKeys = derivePacketKeys(serverSecret, s);
  const datagrams = [
    {
      from: 'client',
      data: longPacket({
        type: 'Initial',
        dcid,
        scid: Buffer.alloc(0),
        pn: 0,
        payload: Buffer.concat([cryptoFrame(0, hello), Buffer.alloc(1100)]),
        keys: derivePacketKeys(initial.client, aes),
      }),
    },
    {
      from: 'server',
      data: longPacket({
        type: 'Initial',
        dcid: Buffer.alloc(0),
        scid: serverCid,
        pn: 0,
        payload: cryptoFrame(0, serverHello),
        keys: derivePacketKeys(initial.server, aes),
      }),
    },
  ];
  if (serverControl) {
    const payload = streamFrame(3, 0, Buffer.concat([Buffer.from([0x00]), serverControl]));
    datagrams.push({
      from: 'server',
      data: shortPacket({ dcid: Buffer.alloc(0), pn: 0, payload, keys: serverKeys }),
    });
  }
  const offsets = new Map();
  let phase = 0;
  streams.forEach(([id, bytes, fin], i) => {
    if (i === keyUpdateAfter) {
      clientKeys = nextKeyPhase(clientKeys);
      phase = 1;
    }
    const offset = offsets.get(id) ?? 0;
    offsets.set(id, offset + bytes.length);
    const payload = streamFrame(id, offset, bytes, fin);
    datagrams.push({
      from: 'client',
      data: shortPacket({ dcid: serverCid, pn: i, payload, keys: clientKeys, keyPhase: phase }),
    });
  });
  const r = random.toString('hex');
  const keyLog = [
    `CLIENT_TRAFFIC_SECRET_0 ${r} ${clientSecret.toString('hex')}`,
    `SERVER_TRAFFIC_SECRET_0 ${r} ${serverSecret.toString('hex')}`,
    '',
  ].join('\n');
  return { datagrams, keyLog };
}

/** The client's control stream content for a SETTINGS list ([id, value] pairs) plus more frames. */
function controlStream(settings, ...frames) {
  const payload = Buffer.concat(settings.flatMap(([id, value]) => [varint(id), varint(value)]));
  return Buffer.concat([Buffer.from([0x00]), h3Frame(0x04, payload), ...frames]);
}

module.exports = {
  loadCapturedConnections,
  browserOfConnection,
  syntheticConnection,
  controlStream,
  h3Frame,
  streamFrame,
  RUNS,
  CONNECTION_ERROR_CODES,
};
