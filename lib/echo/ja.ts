// Part of the fingerprint echo server (lib/echo.ts): it parses what a client sent; the client never imports
// it. JA3 / JA3N (Salesforce's JA3: fields of the ClientHello in decimal, md5) and JA4 with its raw and
// original-order forms (FoxIO's JA4 specification: `t` for TLS over TCP, `q` for QUIC), computed from a
// parsed ClientHello.
import { createHash } from 'node:crypto';

import type { ClientHello } from './clienthello';
import { isGrease } from './names';

export interface JaFingerprints {
  /** `version,ciphers,extensions,groups,point_formats`, decimal, GREASE removed, wire order. */
  ja3: string;
  ja3_hash: string;
  /** JA3 with the extension list sorted numerically (stable for clients that permute extensions). */
  ja3n: string;
  ja3n_hash: string;
  ja4: string;
  /** JA4 unhashed (sorted lists). */
  ja4_r: string;
  /** JA4 with the lists in wire order (SNI and ALPN kept). */
  ja4_o: string;
  /** JA4_o unhashed. */
  ja4_ro: string;
}

const SNI = 0x0000;
const ALPN = 0x0010;

function md5(s: string): string {
  return createHash('md5').update(s).digest('hex');
}

function sha256_12(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}

function hex4(v: number): string {
  return v.toString(16).padStart(4, '0');
}

function noGrease(values: readonly number[]): number[] {
  return values.filter((v) => !isGrease(v));
}

function ja3With(hello: ClientHello, sortExtensions: boolean): string {
  const exts = noGrease(hello.extensions.map((e) => e.id));
  if (sortExtensions) exts.sort((a, b) => a - b);
  return [
    String(hello.legacyVersion),
    noGrease(hello.ciphers.map((c) => c.id)).join('-'),
    exts.join('-'),
    noGrease(hello.groups).join('-'),
    hello.pointFormats.join('-'),
  ].join(',');
}

export function ja3(hello: ClientHello): string {
  return ja3With(hello, false);
}

export function ja3n(hello: ClientHello): string {
  return ja3With(hello, true);
}

/** JA4's two-character TLS version: the highest non-GREASE supported_versions entry, else legacy_version. */
export function ja4Version(hello: ClientHello): string {
  const offered = noGrease(hello.supportedVersions);
  const hasExtension = hello.extensions.some((e) => e.id === 43);
  const v = hasExtension && offered.length > 0 ? Math.max(...offered) : hello.legacyVersion;
  switch (v) {
    case 0x0304:
      return '13';
    case 0x0303:
      return '12';
    case 0x0302:
      return '11';
    case 0x0301:
      return '10';
    case 0x0300:
      return 's3';
    case 0x0002:
      return 's2';
    case 0xfeff:
      return 'd1';
    case 0xfefd:
      return 'd2';
    case 0xfefc:
      return 'd3';
    default:
      return '00';
  }
}

function isAlnum(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

/**
 * First and last character of the first ALPN value; "00" without one; hex nibbles when either end is not
 * alphanumeric.
 */
export function ja4Alpn(hello: ClientHello): string {
  const first = hello.alpn[0];
  if (first === undefined || first.length === 0) return '00';
  const bytes = Buffer.from(first, 'latin1');
  const a = bytes[0];
  const z = bytes[bytes.length - 1];
  if (isAlnum(a) && isAlnum(z)) return String.fromCharCode(a) + String.fromCharCode(z);
  const hex = bytes.toString('hex');
  return hex[0] + hex[hex.length - 1];
}

function count2(n: number): string {
  return String(Math.min(n, 99)).padStart(2, '0');
}

interface Ja4Parts {
  a: string;
  ciphersSorted: string;
  ciphersWire: string;
  /** Sorted extensions without SNI/ALPN, then `_` and the signature algorithms (if any). */
  extsSorted: string;
  /** Wire-order extensions with SNI/ALPN, then `_` and the signature algorithms (if any). */
  extsWire: string;
  hasCiphers: boolean;
  hasSortedExtensions: boolean;
  hasWireExtensions: boolean;
}

/** JA4's first character: `t` for TLS over TCP, `q` for a ClientHello carried in QUIC CRYPTO frames. */
export type Ja4Transport = 't' | 'q';

function ja4Parts(hello: ClientHello, transport: Ja4Transport): Ja4Parts {
  const ciphers = noGrease(hello.ciphers.map((c) => c.id));
  const exts = noGrease(hello.extensions.map((e) => e.id));
  const sigs = noGrease(hello.signatureAlgorithms).map(hex4).join(',');
  const sni = hello.extensions.some((e) => e.id === SNI) ? 'd' : 'i';
  const counts = `${count2(ciphers.length)}${count2(exts.length)}`;
  const a = `${transport}${ja4Version(hello)}${sni}${counts}${ja4Alpn(hello)}`;
  const sortedHex = (list: number[]): string => list.map(hex4).sort().join(',');
  const sortedExts = exts.filter((e) => e !== SNI && e !== ALPN);
  const withSigs = (list: string): string => (sigs.length > 0 ? `${list}_${sigs}` : list);
  return {
    a,
    ciphersSorted: sortedHex(ciphers),
    ciphersWire: ciphers.map(hex4).join(','),
    extsSorted: withSigs(sortedHex(sortedExts)),
    extsWire: withSigs(exts.map(hex4).join(',')),
    hasCiphers: ciphers.length > 0,
    hasSortedExtensions: sortedExts.length > 0,
    hasWireExtensions: exts.length > 0,
  };
}

const EMPTY_HASH = '000000000000';

export function ja4(hello: ClientHello, transport: Ja4Transport = 't'): string {
  const p = ja4Parts(hello, transport);
  const ciphers = p.hasCiphers ? sha256_12(p.ciphersSorted) : EMPTY_HASH;
  return `${p.a}_${ciphers}_${p.hasSortedExtensions ? sha256_12(p.extsSorted) : EMPTY_HASH}`;
}

export function ja4r(hello: ClientHello, transport: Ja4Transport = 't'): string {
  const p = ja4Parts(hello, transport);
  return `${p.a}_${p.ciphersSorted}_${p.extsSorted}`;
}

export function ja4o(hello: ClientHello, transport: Ja4Transport = 't'): string {
  const p = ja4Parts(hello, transport);
  const ciphers = p.hasCiphers ? sha256_12(p.ciphersWire) : EMPTY_HASH;
  return `${p.a}_${ciphers}_${p.hasWireExtensions ? sha256_12(p.extsWire) : EMPTY_HASH}`;
}

export function ja4ro(hello: ClientHello, transport: Ja4Transport = 't'): string {
  const p = ja4Parts(hello, transport);
  return `${p.a}_${p.ciphersWire}_${p.extsWire}`;
}

export function computeJa(hello: ClientHello, transport: Ja4Transport = 't'): JaFingerprints {
  const j3 = ja3(hello);
  const j3n = ja3n(hello);
  return {
    ja3: j3,
    ja3_hash: md5(j3),
    ja3n: j3n,
    ja3n_hash: md5(j3n),
    ja4: ja4(hello, transport),
    ja4_r: ja4r(hello, transport),
    ja4_o: ja4o(hello, transport),
    ja4_ro: ja4ro(hello, transport),
  };
}
