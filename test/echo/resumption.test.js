'use strict';
// What the echo server says about ECH and resumption: the outer encrypted_client_hello's fields
// (length, HPKE suite, config id, enc and payload lengths; null when absent), whether the hello
// offers a session (pre_shared_key, with its identities and binders), early_data, and whether the
// server accepted the session. Checked on the browsers' captured hellos and live with Node's TLS
// client resuming against the echo server.
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');

const { startEchoServer, ECHO_CERT_PEM } = require('../../dist/echo');
const { parseClientHello, summarizeClientHello } = require('../../dist/echo/clienthello');

const captures = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'fingerprints', 'resumed.json'), 'utf8'),
).records;
const summaryOf = (tag) =>
  summarizeClientHello(
    parseClientHello(Buffer.from(captures.find((r) => r.tag === tag).client_hello_hex, 'hex')),
  );

describe('the captured hellos, as the echo server reports them', () => {
  test('Firefox fresh: a 281-byte ECH GREASE (HKDF-SHA256, 32-byte enc, 239-byte payload), no resumption', () => {
    const s = summaryOf('firefox-1-1');
    expect(s.ech_length).toBe(281);
    expect(s.ech).toEqual({
      length: 281,
      kdf_id: 1,
      aead_id: s.ech.aead_id,
      config_id: s.ech.config_id,
      enc_length: 32,
      payload_length: 239,
    });
    expect([1, 3]).toContain(s.ech.aead_id);
    expect(s.resumption).toBe(false);
    expect(s.pre_shared_key).toBeNull();
    expect(s.early_data).toBe(false);
  });

  test('Firefox resumed: 601 bytes, one 240-byte ticket with its obfuscated age, a SHA-384 binder', () => {
    const s = summaryOf('firefox-1-2');
    expect(s.ech).toMatchObject({ length: 601, kdf_id: 1, enc_length: 32, payload_length: 559 });
    expect(s.resumption).toBe(true);
    expect(s.pre_shared_key.identities).toEqual([
      { identity_length: 240, obfuscated_ticket_age: expect.any(Number) },
    ]);
    expect(s.pre_shared_key.identities[0].obfuscated_ticket_age).toBeGreaterThan(0);
    expect(s.pre_shared_key.binder_lengths).toEqual([48]);
    expect(s.early_data).toBe(false);
  });

  test('Chromium resumed: ECH GREASE of its usual sizes, AES-128-GCM', () => {
    const s = summaryOf('chromium-1-2');
    expect([186, 218, 250, 282]).toContain(s.ech.length);
    expect(s.ech).toMatchObject({ kdf_id: 1, aead_id: 1, enc_length: 32, payload_length: s.ech.length - 42 });
    expect(s.resumption).toBe(true);
  });
});

describe("live: Node's TLS client against the echo server", () => {
  let echo;
  beforeAll(async () => {
    echo = await startEchoServer({ alpn: ['http/1.1'] });
  });
  afterAll(async () => {
    await echo.close();
  });

  /** One request on a new connection, offering `session` when given; the answer and the new session. */
  function get(session) {
    return new Promise((resolve, reject) => {
      let newSession = null;
      const req = https.request(
        {
          host: '127.0.0.1',
          port: echo.port,
          servername: 'localhost',
          path: '/',
          ca: ECHO_CERT_PEM,
          agent: false,
          session,
          headers: { connection: 'close' },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            // TLS 1.3 tickets may arrive after the response: give the socket a moment to close.
            setImmediate(() =>
              resolve({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')), session: newSession }),
            );
          });
        },
      );
      req.on('socket', (s) =>
        s.on('session', (sess) => {
          newSession = sess;
        }),
      );
      req.on('error', reject);
      req.end();
    });
  }

  test('fresh: no ECH, no resumption; resumed: pre_shared_key offered and accepted', async () => {
    const first = await get(undefined);
    expect(first.body.tls.ech_length).toBeNull();
    expect(first.body.tls.ech).toBeNull();
    expect(first.body.tls.resumption).toBe(false);
    expect(first.body.tls.pre_shared_key).toBeNull();
    expect(first.body.tls.negotiated.resumed).toBe(false);
    expect(first.session).not.toBeNull();
    const second = await get(first.session);
    expect(second.body.tls.resumption).toBe(true);
    expect(second.body.tls.negotiated.resumed).toBe(true);
    expect(second.body.tls.pre_shared_key.identities).toHaveLength(1);
    expect(second.body.tls.pre_shared_key.binder_lengths.length).toBe(1);
    expect(second.body.tls.extension_ids[second.body.tls.extension_ids.length - 1]).toBe(41);
    expect(second.body.tls.early_data).toBe(false);
  });
});
