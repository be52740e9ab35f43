// response.fingerprint: what the connection a response came over sent, as the engine computed it
// once per connection from the bytes that went out (native/fingerprint). The addon hands it over as
// a string of the connection's own part and an array of its hello shape's part, shared by every
// connection of one preset (native/binding/marshal.cc FingerprintStrings); the decoded object is
// frozen, and the responses of a reused connection share one (see `decoded` below).

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

/** A hello shape's part as the addon hands it over: [ja3n, ja4, ja4r], one array per shape. */
export type FingerprintShape = readonly [string, string, string];

// Decoded fingerprints by the connection they came over, found by the connection's number; the
// connection's own string is compared too, as another engine's connection may carry the same number.
// Only a reused connection's are kept: the first response of a new connection decodes its own. Kept
// for every connection, thousands of short ones a second outlive V8's scavenges and make it grow its
// young generation (+4 MB and a thousand page faults per 3 000 cold connections, measured), where
// most never carry a second response. Bounded: past this many it starts over (a connection's next
// response decodes its fingerprint again, nothing more).
const KEPT = 256;
const decoded = new Map<number, { text: string; fingerprint: Fingerprint }>();

/**
 * The addon's two values for connection `connectionId`: its own part "ja3\0akamai\0ech\0RT"
 * (R: resumed '1' or '0'; T: transport 't' or 'q') and its hello shape's [ja3n, ja4, ja4r]; both
 * undefined without TLS. `reused`: the response came over a connection that carried one before.
 */
export function decodeFingerprint(
  text: string | undefined,
  shape: FingerprintShape | undefined,
  connectionId = -1,
  reused = true,
): Fingerprint | null {
  if (text === undefined || shape === undefined) return null;
  if (reused) {
    const known = decoded.get(connectionId);
    if (known !== undefined && known.text === text) return known.fingerprint;
  }
  // Indexed, not destructured: destructuring inlines the iterator protocol into the compiled code.
  const parts = text.split('\0');
  const ja3 = parts[0];
  const akamai = parts[1];
  const echName = parts[2];
  const flags = parts[3];
  const ja3n = shape[0];
  const ja4 = shape[1];
  const ja4r = shape[2];
  const ech = echName === 'real' || echName === 'grease' ? echName : 'none';
  const resumed = flags.charCodeAt(0) === 49; // '1'
  // One literal per transport (HTTP/2's akamai, HTTP/3's quicJa4, neither): no temporaries.
  const f: Fingerprint = Object.freeze(
    flags.charCodeAt(1) === 113 // 'q'
      ? { ja3, ja3n, ja4, ja4r, quicJa4: ja4, ech, resumed }
      : akamai
        ? { ja3, ja3n, ja4, ja4r, akamai, ech, resumed }
        : { ja3, ja3n, ja4, ja4r, ech, resumed },
  );
  if (reused) {
    if (decoded.size >= KEPT) decoded.clear();
    decoded.set(connectionId, { text, fingerprint: f });
  }
  return f;
}
