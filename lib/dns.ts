// The caller's DNS (issue #19): a Node-style `lookup` function, or DNS over HTTPS (RFC 8484) sent
// through this client's own engine with the request's fingerprint. Either resolves a hop's host
// name here, before its spec is built; the engine then dials the answer's addresses (TLS still
// names the host) instead of resolving. Through a proxy nothing is resolved here: the name is the
// proxy's (or the engine's, for socks4/socks5) as without these options.
import { Buffer } from 'node:buffer';
import { isIP } from 'node:net';

import type * as DnsPacket from 'dns-packet';

import { CycleTLSError, invalidOption, invalidRange } from './errors';
import type { Dict } from './option-checks';
import { typeName } from './option-checks';

// dns-packet is loaded on the first DNS-over-HTTPS query: most processes never make one.
let packetCodec: typeof DnsPacket | undefined;
function dnsPacket(): typeof DnsPacket {
  return (packetCodec ??= require('dns-packet') as typeof DnsPacket);
}

/** One address of a `lookup` answer with `all: true`, as Node's dns.lookup gives it. */
export interface LookupAddress {
  address: string;
  family: number;
}

/** Node's LookupFunction (net.connect's `lookup`): called with `{ family, all: true }`. */
export type LookupFunction = (
  hostname: string,
  options: { family: number; all: boolean },
  callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/** Who resolves a request's host: the caller's function, a DoH server, or the engine itself. */
export type DnsChoice = { lookup: LookupFunction } | { dnsOverHttps: URL } | 'engine';

/** What lib hands the engine (RequestSpec::dns): addresses, the HTTPS record's ECH config and ALPN. */
export interface ResolvedName {
  addresses: string[];
  /** The ECHConfigList, as hex ('' = none). */
  echConfig: string;
  alpn: string[];
  ttlSeconds: number;
}

// An answer bigger than this is refused: a browser connects to a handful of addresses at most.
const MAX_ADDRESSES = 64;

/**
 * The `lookup` and `dnsOverHttps` options (a request's, or initCycleTLS's defaults); undefined when
 * neither is given. Both at once contradict each other.
 */
export function normalizeDnsOptions(o: Dict): DnsChoice | undefined {
  const lookup = o.lookup;
  const doh = o.dnsOverHttps;
  const hasLookup = lookup !== undefined && lookup !== null;
  const hasDoh = doh !== undefined && doh !== null && doh !== '';
  if (hasLookup && typeof lookup !== 'function')
    throw invalidOption(`option "lookup" must be a function, got ${typeName(lookup)}`);
  if (hasDoh && typeof doh !== 'string' && !(doh instanceof URL))
    throw invalidOption(`option "dnsOverHttps" must be an https:// URL string, got ${typeName(doh)}`);
  if (hasLookup && hasDoh) throw invalidOption('options "lookup" and "dnsOverHttps" contradict each other');
  if (hasLookup) return { lookup: lookup as LookupFunction };
  if (!hasDoh) return undefined;
  let url: URL;
  try {
    url = new URL(String(doh));
  } catch {
    throw invalidRange(`option "dnsOverHttps" is not a valid URL: ${JSON.stringify(String(doh))}`);
  }
  if (url.protocol !== 'https:')
    throw invalidRange(`option "dnsOverHttps" must be an https:// URL, got ${JSON.stringify(url.href)}`);
  if (url.username !== '' || url.password !== '' || url.hash !== '')
    throw invalidRange('option "dnsOverHttps" must not carry credentials or a fragment');
  return { dnsOverHttps: url };
}

/** A URL's host as it is dialled and resolved: an IPv6 literal without its brackets. */
export function urlHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * The host needs resolving here (by `lookup` or DNS over HTTPS): one of them is chosen, and the host
 * is a name (not an IP literal) with no proxy in the way. The common case (the engine resolves) never
 * reads the host.
 */
export function resolvesHere(
  choice: DnsChoice | undefined,
  url: URL,
  proxy: string | undefined,
): choice is Exclude<DnsChoice, 'engine'> {
  return choice !== undefined && choice !== 'engine' && proxy === undefined && isIP(urlHost(url)) === 0;
}

/** The deadline that bounds a resolution, and the error it fails with: the connect phase's first. */
export interface DnsDeadline {
  ms: number;
  code: 'ERR_CONNECT_TIMEOUT' | 'ERR_TIMEOUT';
}

function dnsError(message: string): CycleTLSError {
  return new CycleTLSError('ERR_DNS', message, 'dns');
}

/** Rejects after the deadline; `settle` stops the timer when the work ended first. */
function withDeadline<T>(work: Promise<T>, deadline: DnsDeadline, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new CycleTLSError(deadline.code, `${what} did not answer within ${deadline.ms} ms`, 'dns')),
      deadline.ms,
    );
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** One address checked: an IP literal of the family it claims (when it claims one). */
function checkedAddress(value: unknown, family: unknown, host: string): string {
  const kind = typeof value === 'string' ? isIP(value) : 0;
  if (kind === 0 || (family !== undefined && family !== null && family !== kind)) {
    throw dnsError(
      `lookup function answered ${host} with ${JSON.stringify(value)}${
        family !== undefined && family !== null ? ` (family ${String(family)})` : ''
      }, not an IP address`,
    );
  }
  return value as string;
}

/**
 * Calls the caller's lookup(hostname, { family: 0, all: true }, callback), as net.connect does.
 * Its error (or a throw) is ERR_DNS with its message; an answer that is not addresses too; a
 * function that never calls back fails at the deadline. Calls after the first are ignored.
 */
export function lookupWith(fn: LookupFunction, host: string, deadline: DnsDeadline): Promise<ResolvedName> {
  const asked = new Promise<ResolvedName>((resolve, reject) => {
    const callback = (err: Error | null, address: string | LookupAddress[], family?: number): void => {
      try {
        if (err) {
          const code = (err as { code?: unknown }).code;
          throw dnsError(
            `lookup function failed for ${host}: ${err.message || String(err)}${
              typeof code === 'string' ? ` (${code})` : ''
            }`,
          );
        }
        const list = Array.isArray(address) ? address : [{ address, family }];
        if (list.length === 0) throw dnsError(`lookup function answered ${host} with no address`);
        if (list.length > MAX_ADDRESSES)
          throw dnsError(
            `lookup function answered ${host} with ${list.length} addresses (at most ${MAX_ADDRESSES})`,
          );
        const addresses = list.map((a) =>
          typeof a === 'object' && a !== null
            ? checkedAddress(a.address, a.family, host)
            : checkedAddress(a, undefined, host),
        );
        resolve({ addresses, echConfig: '', alpn: [], ttlSeconds: 0 });
      } catch (e) {
        reject(e);
      }
    };
    try {
      // family 0: both (the `family` option, where set, narrows it in the engine's own resolver).
      fn(host, { family: 0, all: true }, callback);
    } catch (e) {
      reject(dnsError(`lookup function threw for ${host}: ${e instanceof Error ? e.message : String(e)}`));
    }
  });
  return withDeadline(asked, deadline, `the lookup function for ${host}`);
}

// ---- DNS over HTTPS ----

/** What a DoH exchange gave back: the HTTP status, its Content-Type and the body. */
export interface DohReply {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

/** Sends one DoH GET (the URL with its ?dns=) through the client's engine, as the request would go. */
export type DohSend = (url: URL) => Promise<DohReply>;

const TYPE_HTTPS = 65;
// SvcParamKeys (RFC 9460 §14.3.2).
const SVC_KEY_ALPN = 1;
const SVC_KEY_ECH = 5;

/**
 * The query for one type: ID 0 and RD, as RFC 8484 §4.1 recommends for cache friendliness, with
 * EDNS(0) padding to a multiple of 128 bytes (RFC 8467's recommendation for queries, which Chrome
 * applies to its DoH queries).
 */
export function dohQuery(name: string, type: 'A' | 'AAAA' | 'HTTPS'): Buffer {
  const question = { type: type === 'HTTPS' ? `UNKNOWN_${TYPE_HTTPS}` : type, name, class: 'IN' };
  const packet = (padding: number): DnsPacket.Packet =>
    ({
      type: 'query',
      id: 0,
      flags: dnsPacket().RECURSION_DESIRED,
      questions: [question],
      additionals: [
        { type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0, options: [{ code: 12, length: padding }] },
      ],
    }) as DnsPacket.Packet;
  // The padding option's own 4 bytes are in the unpadded length.
  const bare = dnsPacket().encode(packet(0)).length;
  return dnsPacket().encode(packet((128 - (bare % 128)) % 128));
}

/** An HTTPS record's RDATA (RFC 9460 §2.2): ServiceMode records give their ECH config and ALPN. */
export function parseHttpsRecord(rdata: Buffer): {
  priority: number;
  ech: Buffer | undefined;
  alpn: string[];
} {
  const bad = (): never => {
    throw new Error('malformed HTTPS record');
  };
  if (rdata.length < 3) bad();
  const priority = rdata.readUInt16BE(0);
  // TargetName: uncompressed labels (§2.2), ending at the root label.
  let at = 2;
  for (;;) {
    if (at >= rdata.length) bad();
    const len = rdata[at];
    if (len > 63) bad();
    at += 1 + len;
    if (len === 0) break;
  }
  let ech: Buffer | undefined;
  const alpn: string[] = [];
  while (at < rdata.length) {
    if (at + 4 > rdata.length) bad();
    const key = rdata.readUInt16BE(at);
    const len = rdata.readUInt16BE(at + 2);
    at += 4;
    if (at + len > rdata.length) bad();
    const value = rdata.subarray(at, at + len);
    at += len;
    if (key === SVC_KEY_ECH) ech = Buffer.from(value);
    if (key === SVC_KEY_ALPN) {
      for (let i = 0; i < value.length;) {
        const n = value[i];
        if (n === 0 || i + 1 + n > value.length) bad();
        alpn.push(value.toString('latin1', i + 1, i + 1 + n));
        i += 1 + n;
      }
    }
  }
  return { priority, ech, alpn };
}

/** An answer-section record as dns-packet decodes it (type 65, unknown to it, keeps its RDATA). */
interface DnsRecord {
  type: string;
  ttl?: number;
  data?: unknown;
}

interface TypeAnswer {
  rcode: string;
  records: DnsRecord[];
}

/** One DoH exchange: GET ?dns=<base64url query> (RFC 8484 §4.1, as Chrome sends them). */
async function askDoh(
  server: URL,
  name: string,
  type: 'A' | 'AAAA' | 'HTTPS',
  send: DohSend,
): Promise<TypeAnswer> {
  const url = new URL(server.href);
  url.searchParams.set('dns', dohQuery(name, type).toString('base64url'));
  const where = `DNS over HTTPS (${server.host})`;
  let reply: DohReply;
  try {
    reply = await send(url);
  } catch (e) {
    // The DoH exchange's own failure (refused, timed out, a bad certificate) is this name's.
    const code = e instanceof CycleTLSError ? ` [${e.code}]` : '';
    throw dnsError(`${where}: ${type} ${name}: ${e instanceof Error ? e.message : String(e)}${code}`);
  }
  if (reply.status !== 200)
    throw dnsError(`${where}: ${type} ${name}: the server answered HTTP ${reply.status}`);
  const mime = (reply.contentType ?? '').split(';')[0].trim().toLowerCase();
  if (mime !== 'application/dns-message')
    throw dnsError(
      `${where}: ${type} ${name}: the answer is ${JSON.stringify(mime)}, not application/dns-message`,
    );
  // dns-packet sets `rcode` beside the flags it types.
  let packet: DnsPacket.DecodedPacket & { rcode?: string };
  try {
    packet = dnsPacket().decode(reply.body);
  } catch (e) {
    throw dnsError(
      `${where}: ${type} ${name}: malformed DNS message (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  return { rcode: packet.rcode ?? 'NOERROR', records: (packet.answers ?? []) as DnsRecord[] };
}

/** The three answers in one: addresses (IPv6 first, as RFC 8305 orders them), ECH and ALPN. */
function combine(
  name: string,
  server: URL,
  a: TypeAnswer,
  aaaa: TypeAnswer,
  https: TypeAnswer | undefined,
): ResolvedName {
  const v6: string[] = [];
  const v4: string[] = [];
  let ttl = Infinity;
  for (const [answer, type, into] of [
    [aaaa, 'AAAA', v6],
    [a, 'A', v4],
  ] as const) {
    if (answer.rcode !== 'NOERROR') continue;
    for (const r of answer.records) {
      // The chain's CNAMEs come first; the addresses are what it ends at.
      if (r.type !== type || typeof r.data !== 'string' || isIP(r.data) === 0) continue;
      if (v6.length + v4.length >= MAX_ADDRESSES) break;
      into.push(r.data);
      ttl = Math.min(ttl, r.ttl ?? 0);
    }
  }
  if (v6.length + v4.length === 0) {
    const failed = [a, aaaa].find((x) => x.rcode !== 'NOERROR');
    throw dnsError(
      `DNS over HTTPS (${server.host}): ${name}: ${failed ? failed.rcode : 'no A or AAAA record'}`,
    );
  }
  let echConfig = '';
  let alpn: string[] = [];
  if (https?.rcode === 'NOERROR') {
    // ServiceMode records (priority > 0), the most preferred first; AliasMode ones are not followed.
    const records = https.records
      .filter((r) => r.type === `UNKNOWN_${TYPE_HTTPS}` && Buffer.isBuffer(r.data))
      .map((r) => {
        try {
          return { ttl: r.ttl ?? 0, ...parseHttpsRecord(r.data as Buffer) };
        } catch {
          return undefined;
        }
      })
      .filter((r): r is NonNullable<typeof r> => r !== undefined && r.priority > 0)
      .sort((x, y) => x.priority - y.priority);
    if (records.length > 0) {
      echConfig = records[0].ech?.toString('hex') ?? '';
      alpn = records[0].alpn;
      ttl = Math.min(ttl, records[0].ttl);
    }
  }
  return { addresses: [...v6, ...v4], echConfig, alpn, ttlSeconds: Number.isFinite(ttl) ? ttl : 0 };
}

// Names kept per client; the oldest go first past this.
const CACHE_ENTRIES = 1024;
// A TTL above a day is kept for a day (Chrome caps its host cache's TTLs too).
const MAX_TTL_SECONDS = 86_400;

/**
 * A client's DoH answers: cached by TTL per (server, identity, name), the least recently used
 * dropped past CACHE_ENTRIES, and concurrent questions for one name share one set of queries.
 */
export class DohCache {
  private readonly answers = new Map<string, { answer: ResolvedName; expires: number }>();
  private readonly pending = new Map<string, Promise<ResolvedName>>();

  /** `partition`: the identity the request belongs to ('' = the client's default one). */
  resolve(
    server: URL,
    partition: string,
    name: string,
    send: DohSend,
    deadline: DnsDeadline,
  ): Promise<ResolvedName> {
    const key = `${server.href}\n${partition}\n${name.toLowerCase()}`;
    const hit = this.answers.get(key);
    if (hit && hit.expires > Date.now()) {
      // Most recently used: to the end of the Map's order.
      this.answers.delete(key);
      this.answers.set(key, hit);
      return Promise.resolve(hit.answer);
    }
    if (hit) this.answers.delete(key);
    const running = this.pending.get(key);
    if (running) return running;
    const asked = withDeadline(this.query(server, name, send), deadline, `DNS over HTTPS (${server.host})`)
      .then((answer) => {
        const ttl = Math.min(answer.ttlSeconds, MAX_TTL_SECONDS);
        if (ttl > 0) {
          if (this.answers.size >= CACHE_ENTRIES)
            this.answers.delete(this.answers.keys().next().value as string);
          this.answers.set(key, { answer, expires: Date.now() + ttl * 1000 });
        }
        return answer;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, asked);
    return asked;
  }

  private async query(server: URL, name: string, send: DohSend): Promise<ResolvedName> {
    // A, AAAA and HTTPS in parallel, as Chrome asks them. The HTTPS record is optional: its
    // failure leaves ECH to GREASE (Chrome's behaviour when the record cannot be had).
    const [a, aaaa, https] = await Promise.all([
      askDoh(server, name, 'A', send).catch((e: unknown) => e as Error),
      askDoh(server, name, 'AAAA', send).catch((e: unknown) => e as Error),
      askDoh(server, name, 'HTTPS', send).catch(() => undefined),
    ]);
    if (a instanceof Error && aaaa instanceof Error) throw a;
    const none: TypeAnswer = { rcode: 'SERVFAIL', records: [] };
    try {
      return combine(name, server, a instanceof Error ? none : a, aaaa instanceof Error ? none : aaaa, https);
    } catch (e) {
      // No address: the failed exchange's own reason (an HTTP status, a timeout) says more.
      throw a instanceof Error ? a : aaaa instanceof Error ? aaaa : e;
    }
  }
}
