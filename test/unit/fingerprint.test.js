'use strict';
// lib/fingerprint.ts: the addon's one-string fingerprint (native/binding/marshal.cc FingerprintStrings)
// into response.fingerprint, one frozen object per connection.
const { decodeFingerprint } = require('../../dist/fingerprint');

const text = (parts) => parts.join('\0');

test('every field, in its place; the HTTP/2 and QUIC parts only when sent', () => {
  const h2 = decodeFingerprint(
    text(['771,1-2,0-10,29,0', '771,1-2,0-10,29,0', 'j4', 'j4r', 'S|WU|P|PS', '', 'grease', '1']),
  );
  expect(h2).toEqual({
    ja3: '771,1-2,0-10,29,0',
    ja3n: '771,1-2,0-10,29,0',
    ja4: 'j4',
    ja4r: 'j4r',
    akamai: 'S|WU|P|PS',
    ech: 'grease',
    resumed: true,
  });
  const h3 = decodeFingerprint(text(['a', 'b', 'q13', 'q13r', '', 'q13', 'none', '0']));
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
  expect(decodeFingerprint(text(['a', 'b', 'c', 'd', '', '', 'real', '0'])).ech).toBe('real');
});

test("none without TLS; a connection's text gives the same frozen object", () => {
  expect(decodeFingerprint(undefined)).toBeNull();
  const t = text(['a', 'b', 'c', 'd', 'e', '', 'grease', '0']);
  const first = decodeFingerprint(t, 7);
  expect(decodeFingerprint(`${t}`, 7)).toBe(first);
  expect(Object.isFrozen(first)).toBe(true);
  // Another connection's number, or another text under the same number (another engine's
  // connection): decoded anew, never another connection's object.
  const other = text(['a', 'b', 'c', 'd', 'e', '', 'real', '1']);
  expect(decodeFingerprint(t, 8)).toEqual(first);
  const again = decodeFingerprint(other, 7);
  expect(again.ech).toBe('real');
  expect(again.resumed).toBe(true);
  expect(decodeFingerprint(t, 7)).not.toBe(again);
});
