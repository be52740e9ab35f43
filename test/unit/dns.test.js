'use strict';
// lib/dns.ts's own parts: the DoH query as Chrome sends it, the HTTPS record's SvcParams (read by
// hand: dns-packet does not know type 65), and the options' validation.
const dnsPacket = require('dns-packet');
const { dohQuery, normalizeDnsOptions, parseHttpsRecord } = require('../../dist/dns');

const rdata = (...parts) => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
const u16 = (n) => Buffer.from([n >> 8, n & 0xff]);

test('a DoH query: ID 0, recursion desired, one question, padded to a multiple of 128 bytes', () => {
  for (const name of ['a.test', 'a-much-longer-name.with.several.labels.example.test']) {
    for (const type of ['A', 'AAAA', 'HTTPS']) {
      const q = dohQuery(name, type);
      expect(q.length % 128).toBe(0);
      const p = dnsPacket.decode(q);
      expect(p.id).toBe(0);
      expect(p.flags & dnsPacket.RECURSION_DESIRED).toBeTruthy();
      expect(p.questions).toEqual([{ name, type: type === 'HTTPS' ? 'UNKNOWN_65' : type, class: 'IN' }]);
    }
  }
});

test('an HTTPS record: priority, alpn ids and the ech bytes; the target name skipped', () => {
  const ech = Buffer.from('0045fe0d', 'hex');
  const alpn = rdata([2], 'h3', [2], 'h2');
  const r = parseHttpsRecord(
    rdata(u16(1), [3], 'cdn', [4], 'test', [0], u16(1), u16(alpn.length), alpn, u16(5), u16(4), ech),
  );
  expect(r).toEqual({ priority: 1, alpn: ['h3', 'h2'], ech });
  expect(parseHttpsRecord(rdata(u16(0), [0]))).toEqual({ priority: 0, alpn: [], ech: undefined });
});

test.each([
  ['too short', rdata([0])],
  ['a target past the end', rdata(u16(1), [9], 'abc')],
  ['a param longer than the record', rdata(u16(1), [0], u16(5), u16(40), [1, 2])],
  ['an alpn id past its param', rdata(u16(1), [0], u16(1), u16(2), [5, 0x68])],
  ['an empty alpn id', rdata(u16(1), [0], u16(1), u16(1), [0])],
])('a malformed HTTPS record (%s) is refused, not read past', (_, bytes) => {
  expect(() => parseHttpsRecord(bytes)).toThrow('malformed HTTPS record');
});

test('the options: a function, an https URL, not both', () => {
  const fn = () => {};
  expect(normalizeDnsOptions({})).toBeUndefined();
  expect(normalizeDnsOptions({ lookup: fn })).toEqual({ lookup: fn });
  expect(normalizeDnsOptions({ dnsOverHttps: 'https://doh.test/q' }).dnsOverHttps.href).toBe(
    'https://doh.test/q',
  );
  for (const bad of [
    { lookup: 'x' },
    { dnsOverHttps: 1 },
    { dnsOverHttps: 'http://doh.test/q' },
    { dnsOverHttps: 'not a url' },
    { dnsOverHttps: 'https://u:p@doh.test/q' },
    { lookup: fn, dnsOverHttps: 'https://doh.test/q' },
  ])
    expect(() => normalizeDnsOptions(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
});
