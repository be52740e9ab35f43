// response.fingerprint: what the connection a response came over sent, as the engine computed it
// once per connection from the bytes that went out (native/fingerprint). The addon hands it over as
// one string (native/binding/marshal.cc FingerprintStrings); the decoded object is frozen and shared
// by every response of the connection, so a response pays for it only when its connection is new.

/** response.fingerprint; each field is documented in types/index.d.ts (Fingerprint). */
export interface Fingerprint {
  ja3: string;
  ja3n: string;
  ja4: string;
  ja4r: string;
  akamai?: string;
  quicJa4?: string;
  ech: 'grease' | 'real' | 'none';
  resumed: boolean;
}

// Decoded fingerprints by the connection they came over: every response of a connection gets the
// addon's one string for it, found here by the connection's number (a string key would be hashed
// whole, some 600 characters, for each new connection). The text is compared too: another engine's
// connection may carry the same number. Bounded: past this many it starts over (a connection's next
// response decodes its fingerprint again, nothing more).
const KEPT = 256;
const decoded = new Map<number, { text: string; fingerprint: Fingerprint }>();

/**
 * The addon's "ja3\0ja3n\0ja4\0ja4r\0akamai\0quicJa4\0ech\0resumed" (or undefined) of connection
 * `connectionId` as a Fingerprint.
 */
export function decodeFingerprint(text: string | undefined, connectionId = -1): Fingerprint | null {
  if (text === undefined) return null;
  const known = decoded.get(connectionId);
  if (known !== undefined && known.text === text) return known.fingerprint;
  const [ja3, ja3n, ja4, ja4r, akamai, quicJa4, echName, resumedFlag] = text.split('\0');
  const ech = echName === 'real' || echName === 'grease' ? echName : 'none';
  const resumed = resumedFlag === '1';
  // One literal per transport (HTTP/2's akamai, HTTP/3's quicJa4, neither): no temporaries.
  const f: Fingerprint = Object.freeze(
    akamai && !quicJa4
      ? { ja3, ja3n, ja4, ja4r, akamai, ech, resumed }
      : quicJa4 && !akamai
        ? { ja3, ja3n, ja4, ja4r, quicJa4, ech, resumed }
        : akamai
          ? { ja3, ja3n, ja4, ja4r, akamai, quicJa4, ech, resumed }
          : { ja3, ja3n, ja4, ja4r, ech, resumed },
  );
  if (decoded.size >= KEPT) decoded.clear();
  decoded.set(connectionId, { text, fingerprint: f });
  return f;
}
