// The engine resolver's options (native/dns): `dnsServers` and `family`, for a request and for
// initCycleTLS. Validated here; the engine takes them as they come out.
import { isIP } from 'node:net';

import { invalidOption, invalidRange } from './errors';
import { type Dict, typeName } from './option-checks';

/** The most name servers one list may name (c-ares asks them in turn). */
export const MAX_DNS_SERVERS = 8;

/** One "ip" or "ip:port" ("[v6]:port" for IPv6 with a port) in c-ares's spelling ("ip:port", "[v6]:port"). */
function dnsServer(entry: unknown, index: number): string {
  const where = `option "dnsServers"[${index}]`;
  if (typeof entry !== 'string') throw invalidOption(`${where} must be a string, got ${typeName(entry)}`);
  let host = entry;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry);
  if (bracketed) {
    [, host, port] = bracketed;
    if (isIP(host) !== 6)
      throw invalidOption(`${where} must be an IP address or ip:port, got ${JSON.stringify(entry)}`);
  } else if (isIP(entry) === 0) {
    const colon = entry.lastIndexOf(':');
    host = entry.slice(0, colon);
    port = entry.slice(colon + 1);
    if (colon < 0 || isIP(host) !== 4 || !/^\d{1,5}$/.test(port))
      throw invalidOption(`${where} must be an IP address or ip:port, got ${JSON.stringify(entry)}`);
  }
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
    throw invalidRange(`${where}: port must be 1-65535, got ${port}`);
  // Always with a port (53 by default), IPv6 in brackets: c-ares 1.18 misreads a bare IPv6 address.
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port ?? 53}`;
}

/**
 * `dnsServers`: the name servers the engine asks instead of the system's, in order (["1.1.1.1",
 * "127.0.0.1:5353", "[::1]:53"]); undefined when absent. Out: c-ares's comma-separated list.
 */
export function normalizeDnsServers(o: Dict): string | undefined {
  const v = o.dnsServers;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v))
    throw invalidOption(`option "dnsServers" must be an array of strings, got ${typeName(v)}`);
  if (v.length === 0) throw invalidRange('option "dnsServers" must name at least one server');
  if (v.length > MAX_DNS_SERVERS)
    throw invalidRange(`option "dnsServers" may name at most ${MAX_DNS_SERVERS} servers, got ${v.length}`);
  return v.map(dnsServer).join(',');
}

/** `family` as Node's: 0 (both, Happy Eyeballs), 4 or 6; undefined when absent. */
export function normalizeFamily(o: Dict): 0 | 4 | 6 | undefined {
  const v = o.family;
  if (v === undefined || v === null) return undefined;
  if (v !== 0 && v !== 4 && v !== 6)
    throw invalidRange(`option "family" must be 0, 4 or 6, got ${typeof v === 'number' ? v : typeName(v)}`);
  return v;
}
