'use strict';
// lib/fingerprint.ts: the addon's two values for a connection's fingerprint (native/binding/marshal.cc
// FingerprintStrings: the connection's own string and its hello shape's array) into
// response.fingerprint, one frozen object per connection.
const { decodeFingerprint } = require('../../dist/fingerprint');

const own = (ja3, akamai, ech, resumed, transport) =>
  [ja3, akamai, ech, `${resumed ? 1 : 0}${transport}`].join('\0');

test('every field, in its place; the HTTP/2 and QUIC parts only when sent', () => {
  const h2 = decodeFingerprint(own('771,1-2,0-10,29,0', 'S|WU|P|PS', 'grease', true, 't'), [
    '771,1-2,0-10,29,0',
    'j4',
    'j4r',
  ]);
  expect(h2).toEqual({
    ja3: '771,1-2,0-10,29,0',
    ja3n: '771,1-2,0-10,29,0',
    ja4: 'j4',
    ja4r: 'j4r',
    akamai: 'S|WU|P|PS',
    ech: 'grease',
    resumed: true,
  });
  const h3 = decodeFingerprint(own('a', '', 'none', false, 'q'), ['b', 'q13', 'q13r']);
  expect(h3).toEqual({
    ja3: 'a',
    ja3n: 'b',
    ja4: 'q13',
    ja4r: 'q13r',
    quicJa4: 'q13',
    ech: 'none',
    resumed: false,
  });
  expect('akamai' in h3).toBe(false);
  const h1 = decodeFingerprint(own('a', '', 'real', false, 't'), ['b', 'c', 'd']);
  expect(h1.ech).toBe('real');
  expect(Object.keys(h1)).toEqual(['ja3', 'ja3n', 'ja4', 'ja4r', 'ech', 'resumed']);
});

test("none without TLS; a connection's text gives the same frozen object", () => {
  expect(decodeFingerprint(undefined, undefined)).toBeNull();
  const shape = ['b', 'c', 'd'];
  const t = own('a', 'e', 'grease', false, 't');
  const first = decodeFingerprint(t, shape, 7);
  expect(decodeFingerprint(`${t}`, shape, 7)).toBe(first);
  expect(Object.isFrozen(first)).toBe(true);
  // The first response of a new connection (not reused) decodes its own and keeps nothing.
  const fresh = decodeFingerprint(t, shape, 9, false);
  expect(fresh).toEqual(first);
  expect(decodeFingerprint(t, shape, 9, false)).not.toBe(fresh);
  expect(decodeFingerprint(t, shape, 9)).not.toBe(fresh);
  // Another connection's number, or another text under the same number (another engine's
  // connection): decoded anew, never another connection's object.
  const other = own('a', 'e', 'real', true, 't');
  expect(decodeFingerprint(t, shape, 8)).toEqual(first);
  const again = decodeFingerprint(other, shape, 7);
  expect(again.ech).toBe('real');
  expect(again.resumed).toBe(true);
  expect(decodeFingerprint(t, shape, 7)).not.toBe(again);
});
