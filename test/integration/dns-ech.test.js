'use strict';
// #19's parts together, as Chrome does them: the engine's resolver asks a local dnsmasq for the
// site's A and HTTPS records, the HTTPS record's `ech` parameter (the ECH echo's own config list)
// makes chrome_156 send a real Encrypted ClientHello that the server accepts, and the response's
// fingerprint says so; without the record the same request GREASEs ECH. Everything on loopback.
const path = require('node:path');
const initCycleTLS = require('../..');
const { startDnsmasq, httpsRdata } = require('../helpers/dnsmasq');
const { uniquePort } = require('../helpers/servers');
const { startEchEchoServer } = require('../../dist/echo');

const certDir = path.join(__dirname, '..', 'fixtures', 'certs');
const NAME = 'ech-site.test';
const PLAIN = 'no-ech.test';

let echo;
let dns;
let client;

beforeAll(async () => {
  echo = await startEchEchoServer({
    mode: 'accept',
    quic: true,
    cert: path.join(certDir, 'ech-server.pem'),
    key: path.join(certDir, 'ech-server-key.pem'),
  });
  dns = await startDnsmasq({
    hosts: { [NAME]: ['127.0.0.1'], [PLAIN]: ['127.0.0.1'] },
    https: {
      [`_${echo.port}._https.${NAME}`]: httpsRdata({ ech: Buffer.from(echo.echConfigList, 'base64') }),
    },
  });
  client = await initCycleTLS({ port: uniquePort(), dnsServers: [dns.address] });
});

afterAll(async () => {
  if (client) await client.exit();
  if (dns) await dns.close();
  if (echo) await echo.close();
});

// The echo's certificate names localhost and ech-public.test, not the made-up site: the inner
// handshake's certificate is not what this test is about (the outer one is checked by BoringSSL
// against public_name only on a rejection, tested in ech.test.js).
const get = (host) =>
  client.get(`https://${host}:${echo.port}/ech`, { profile: 'chrome_156', insecureSkipVerify: true });

test("an HTTPS record's ech parameter makes the hello a real ECH, accepted, and the fingerprint says so", async () => {
  const r = await get(NAME);
  expect(r.status).toBe(200);
  const record = `_${echo.port}._https.${NAME}`;
  if ((await dns.asked(record, 'HTTPS')) === 0) {
    throw new Error(`dnsmasq was never asked for ${record} HTTPS; its log:\n${dns.log()}`);
  }
  expect(r.data.ech).toEqual({ offered: true, accepted: true });
  expect(r.data.innerSni).toBe(NAME);
  expect(r.data.outerSni).toBe('ech-public.test');
  expect(r.fingerprint).toMatchObject({ ech: 'real', resumed: false });
  // The fingerprint describes the outer hello, what an observer sees.
  expect(r.fingerprint.ja4).toMatch(/^t13d\d{4}h2_/);
});

test('a site without an HTTPS record keeps the preset ECH GREASE', async () => {
  const r = await get(PLAIN);
  expect(r.status).toBe(200);
  expect(r.data.ech).toEqual({ offered: true, accepted: false });
  expect(r.data.outerSni).toBe(PLAIN);
  expect(r.fingerprint.ech).toBe('grease');
});

test('two identities each resolve and send real ECH on their own connections', async () => {
  const a = await client.get(`https://${NAME}:${echo.port}/ech`, {
    profile: 'chrome_156',
    insecureSkipVerify: true,
    identity: 'a',
  });
  const b = await client.get(`https://${NAME}:${echo.port}/ech`, {
    profile: 'chrome_156',
    insecureSkipVerify: true,
    identity: 'b',
  });
  expect([a.fingerprint.ech, b.fingerprint.ech]).toEqual(['real', 'real']);
  expect(a.connection.id).not.toBe(b.connection.id);
});

test("over HTTP/3 the same HTTPS record's ech parameter makes the QUIC hello a real ECH, accepted", async () => {
  const r = await client.get(`https://${NAME}:${echo.port}/ech`, {
    profile: 'chrome_156',
    insecureSkipVerify: true,
    http3: 'force',
    identity: 'h3',
  });
  expect(r.protocol).toBe('h3');
  expect(r.data.ech).toEqual({ offered: true, accepted: true });
  expect(r.data.innerSni).toBe(NAME);
  expect(r.data.outerSni).toBe('ech-public.test');
  expect(r.fingerprint.ech).toBe('real');
});
