// Part of the fingerprint echo server (lib/echo.ts): it reads what a client sent; the client never imports
// it. QUIC packet protection (RFC 9001 §5) for every packet space, from the TLS secrets an NSS key log
// (SSLKEYLOGFILE) holds: the packet key, IV and header-protection key of each secret ("quic key", "quic iv",
// "quic hp"), the next 1-RTT generation ("quic ku", §6), header-protection masks for AES (§5.4.3) and
// ChaCha20 (§5.4.4), and AEAD opening with AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305. node:crypto only.
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';

export type QuicHash = 'sha256' | 'sha384';

/** A TLS 1.3 cipher suite as QUIC uses it: its AEAD, header-protection cipher and hash. */
export interface QuicCipherSuite {
  /** `TLS_AES_128_GCM_SHA256` and so on. */
  name: string;
  id: number;
  aead: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  keyLength: number;
  hash: QuicHash;
}

export const QUIC_CIPHER_SUITES: readonly QuicCipherSuite[] = [
  { name: 'TLS_AES_128_GCM_SHA256', id: 0x1301, aead: 'aes-128-gcm', keyLength: 16, hash: 'sha256' },
  { name: 'TLS_AES_256_GCM_SHA384', id: 0x1302, aead: 'aes-256-gcm', keyLength: 32, hash: 'sha384' },
  {
    name: 'TLS_CHACHA20_POLY1305_SHA256',
    id: 0x1303,
    aead: 'chacha20-poly1305',
    keyLength: 32,
    hash: 'sha256',
  },
];

const HASH_LENGTH: Record<QuicHash, number> = { sha256: 32, sha384: 48 };
export const AEAD_TAG = 16;
export const HP_SAMPLE = 16;

/** HKDF-Expand-Label (RFC 8446 §7.1) with an empty context. */
export function hkdfExpandLabel(
  secret: Buffer,
  label: string,
  length: number,
  hash: QuicHash = 'sha256',
): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([
    Buffer.from([length >> 8, length & 0xff, full.length]),
    full,
    Buffer.from([0]),
  ]);
  // HKDF-Expand (RFC 5869 §2.3).
  const out: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; out.length * HASH_LENGTH[hash] < length; i++) {
    previous = createHmac(hash, secret)
      .update(Buffer.concat([previous, info, Buffer.from([i])]))
      .digest();
    out.push(previous);
  }
  return Buffer.concat(out).subarray(0, length);
}

/** RFC 9001 §5.2: the QUIC v1 Initial salt. */
export const INITIAL_SALT_V1 = Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex');

/** The client's and the server's Initial secrets for a client's first Destination Connection ID (v1). */
export function deriveInitialSecrets(dcid: Uint8Array): { client: Buffer; server: Buffer } {
  const initialSecret = createHmac('sha256', INITIAL_SALT_V1).update(dcid).digest();
  return {
    client: hkdfExpandLabel(initialSecret, 'client in', 32),
    server: hkdfExpandLabel(initialSecret, 'server in', 32),
  };
}

/** The keys one traffic secret gives a QUIC endpoint under one cipher suite. */
export interface QuicPacketKeys {
  suite: QuicCipherSuite;
  secret: Buffer;
  key: Buffer;
  iv: Buffer;
  hp: Buffer;
}

export function derivePacketKeys(secret: Buffer, suite: QuicCipherSuite): QuicPacketKeys {
  return {
    suite,
    secret,
    key: hkdfExpandLabel(secret, 'quic key', suite.keyLength, suite.hash),
    iv: hkdfExpandLabel(secret, 'quic iv', 12, suite.hash),
    hp: hkdfExpandLabel(secret, 'quic hp', suite.keyLength, suite.hash),
  };
}

/** The next 1-RTT key generation (RFC 9001 §6.1): a new secret, key and IV; the header key stays. */
export function nextKeyPhase(keys: QuicPacketKeys): QuicPacketKeys {
  const secret = hkdfExpandLabel(keys.secret, 'quic ku', keys.secret.length, keys.suite.hash);
  return { ...derivePacketKeys(secret, keys.suite), hp: keys.hp };
}

/** The 5-byte header-protection mask of a 16-byte sample (RFC 9001 §5.4.3, §5.4.4). */
export function headerProtectionMaskFor(suite: QuicCipherSuite, hp: Buffer, sample: Uint8Array): Buffer {
  if (suite.aead === 'chacha20-poly1305') {
    // ChaCha20 with the sample's first 4 bytes as the block counter and the rest as the nonce: OpenSSL's
    // 16-byte chacha20 IV is exactly counter || nonce.
    const cipher = createCipheriv('chacha20', hp, sample);
    return cipher.update(Buffer.alloc(5));
  }
  const cipher = createCipheriv(suite.keyLength === 16 ? 'aes-128-ecb' : 'aes-256-ecb', hp, null);
  cipher.setAutoPadding(false);
  return cipher.update(sample).subarray(0, 5);
}

/** The AEAD nonce of a packet number: the IV XORed with it (RFC 9001 §5.3). */
export function packetNonce(iv: Buffer, packetNumber: number): Buffer {
  const nonce = Buffer.from(iv);
  for (let i = 0; i < 6; i++) nonce[nonce.length - 1 - i] ^= Math.floor(packetNumber / 2 ** (8 * i)) & 0xff;
  return nonce;
}

/** Opens a packet payload; null when it does not authenticate. */
export function openPayload(
  keys: QuicPacketKeys,
  packetNumber: number,
  aad: Uint8Array,
  sealed: Uint8Array,
): Buffer | null {
  if (sealed.length < AEAD_TAG) return null;
  const nonce = packetNonce(keys.iv, packetNumber);
  try {
    const decipher =
      keys.suite.aead === 'chacha20-poly1305'
        ? createDecipheriv(keys.suite.aead, keys.key, nonce, { authTagLength: AEAD_TAG })
        : createDecipheriv(keys.suite.aead, keys.key, nonce);
    decipher.setAAD(aad, { plaintextLength: sealed.length - AEAD_TAG });
    decipher.setAuthTag(sealed.subarray(sealed.length - AEAD_TAG));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - AEAD_TAG)), decipher.final()]);
  } catch {
    return null;
  }
}

/** Seals a payload (for tests that build packets with these keys). */
export function sealPayload(
  keys: QuicPacketKeys,
  packetNumber: number,
  aad: Uint8Array,
  plain: Uint8Array,
): Buffer {
  const nonce = packetNonce(keys.iv, packetNumber);
  const cipher =
    keys.suite.aead === 'chacha20-poly1305'
      ? createCipheriv(keys.suite.aead, keys.key, nonce, { authTagLength: AEAD_TAG })
      : createCipheriv(keys.suite.aead, keys.key, nonce);
  cipher.setAAD(aad, { plaintextLength: plain.length });
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

// ---- NSS key log (SSLKEYLOGFILE) ----

/** The traffic secrets of one TLS connection, by its ClientHello random. */
export interface QuicKeyLogEntry {
  client_random: string;
  client_early: Buffer | null;
  client_handshake: Buffer | null;
  server_handshake: Buffer | null;
  client_application: Buffer | null;
  server_application: Buffer | null;
}

const LABELS: Record<string, keyof Omit<QuicKeyLogEntry, 'client_random'>> = {
  CLIENT_EARLY_TRAFFIC_SECRET: 'client_early',
  CLIENT_HANDSHAKE_TRAFFIC_SECRET: 'client_handshake',
  SERVER_HANDSHAKE_TRAFFIC_SECRET: 'server_handshake',
  CLIENT_TRAFFIC_SECRET_0: 'client_application',
  SERVER_TRAFFIC_SECRET_0: 'server_application',
};

/** Key-log entries we keep from one file (a browser session logs one per TLS connection). */
export const MAX_KEY_LOG_ENTRIES = 4096;

/**
 * Parses SSLKEYLOGFILE text: `LABEL <client random hex> <secret hex>` per line; comments, other labels and
 * malformed lines are skipped. Secrets must be 32 or 48 bytes (SHA-256 and SHA-384 suites).
 */
export function parseKeyLog(text: string): Map<string, QuicKeyLogEntry> {
  const out = new Map<string, QuicKeyLogEntry>();
  for (const line of text.split(/\r?\n/)) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 3) continue;
    const field = LABELS[parts[0]];
    const random = parts[1].toLowerCase();
    const secretHex = parts[2];
    if (!field || !/^[0-9a-f]{64}$/.test(random) || !/^([0-9a-fA-F]{64}|[0-9a-fA-F]{96})$/.test(secretHex))
      continue;
    let entry = out.get(random);
    if (!entry) {
      if (out.size >= MAX_KEY_LOG_ENTRIES) continue;
      entry = {
        client_random: random,
        client_early: null,
        client_handshake: null,
        server_handshake: null,
        client_application: null,
        server_application: null,
      };
      out.set(random, entry);
    }
    entry[field] = Buffer.from(secretHex, 'hex');
  }
  return out;
}

/** The suites a secret of this length can belong to, `preferred` (the ServerHello's) first. */
export function suitesFor(secret: Buffer, preferred: number | null): QuicCipherSuite[] {
  const hash: QuicHash = secret.length === 48 ? 'sha384' : 'sha256';
  const fits = QUIC_CIPHER_SUITES.filter((s) => s.hash === hash);
  return fits.sort((a, b) => Number(b.id === preferred) - Number(a.id === preferred));
}
