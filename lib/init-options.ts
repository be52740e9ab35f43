// The options of initCycleTLS: validated and normalised (lib/options.ts does a request's), the
// engine's own ranges and default port read from the addon once the rest is known good.
import { Buffer } from 'node:buffer';

import type { CookieJarLike } from './cookies';
import { normalizeDnsServers, normalizeFamily } from './dns-options';
import { normalizeDnsOptions } from './dns';
import type { DnsChoice } from './dns';
import { invalidOption, invalidRange } from './errors';
import { nativeConstants, nativeEngineOptions } from './native';
import type { NativeEngineOptions, NativeShareOptions } from './native';
import {
  isPlainObject,
  normalizeMaxEventBytes,
  optBool,
  optCookieJar,
  optInteger,
  optString,
  typeName,
} from './option-checks';
import { normalizeConnectionPolicy } from './connection-policy';
import type { ConnectionPolicy } from './connection-policy';
import { DEFAULT_MAX_RESPONSE_BYTES, normalizeHttp3Mode } from './options';
import type { Http3Mode } from './options';
import { DEFAULT_MAX_EVENT_BYTES } from './sse-parser';

export interface NormalizedInit {
  port: number;
  debug: boolean;
  rejectOnError: boolean;
  /** How the engine is shared with other processes on the port; undefined: not shared. */
  share?: NativeShareOptions;
  retryOnHostGone: boolean;
  /** Pool limits and health of the engine this port's first client creates. */
  engine: NativeEngineOptions;
  /** This client's own limits on the engine (undefined: the engine's defaults). */
  clientLimits?: { maxInFlight: number; maxQueued: number };
  /** The client's default cookie jar (a request's `cookieJar` replaces it). */
  cookieJar?: CookieJarLike;
  /** The default of a request's `maxResponseBytes`. */
  maxResponseBytes: number;
  /** The default of sse()'s `maxEventBytes`. */
  maxEventBytes: number;
  /** The default of a request's `http3`. */
  http3: Http3Mode;
  /** The defaults of a request's identity and rotation options. */
  connection: ConnectionPolicy;
  /** The defaults of a request's `dnsServers` (c-ares's list) and `family`. */
  dnsServers?: string;
  family?: 0 | 4 | 6;
  /** The default of a request's `lookup` / `dnsOverHttps` (undefined: the engine resolves). */
  dns?: DnsChoice;
}

// Advanced timings of the process link, in milliseconds: [name, min, max].
const SHARE_TIMINGS: ReadonlyArray<readonly [keyof NativeShareOptions, number, number]> = [
  ['handoverTimeoutMs', 0, 600_000],
  ['handshakeTimeoutMs', 50, 60_000],
  ['pingIntervalMs', 10, 600_000],
  ['pingTimeoutMs', 50, 3_600_000],
  ['linkIdleTimeoutMs', 0, 86_400_000],
  ['drainGraceMs', 0, 600_000],
];

export function normalizeInit(input: unknown): NormalizedInit {
  if (input === undefined || input === null) return normalizeInit({});
  if (!isPlainObject(input))
    throw invalidOption(`initCycleTLS options must be an object, got ${typeName(input)}`);
  // Absent: the engine's default (below).
  let port: number | undefined;
  const p = input.port;
  if (p !== undefined && p !== null && p !== 0) {
    if (typeof p !== 'number') throw invalidOption(`option "port" must be a number, got ${typeName(p)}`);
    if (!Number.isInteger(p) || p < 1 || p > 65535)
      throw invalidRange(`option "port" must be an integer from 1 to 65535, got ${p}`);
    port = p;
  }
  const t = input.timeout;
  if (t !== undefined && t !== null && (typeof t !== 'number' || !Number.isFinite(t) || t < 0)) {
    throw invalidOption(`option "timeout" must be a non-negative number of milliseconds, got ${typeName(t)}`);
  }
  optString(input, 'executablePath'); // accepted and ignored: there is no executable
  optBool(input, 'autoExit');
  let share: Omit<NativeShareOptions, 'port'> | undefined;
  if (optBool(input, 'shareAcrossProcesses') ?? true) {
    share = {};
    // Obsolete since the link moved to a Unix socket checked by the kernel: still accepted, so
    // callers that pass it keep working, and ignored.
    optString(input, 'secretFile');
    const socketDir = optString(input, 'socketDir') ?? process.env.CYCLETLS_NATIVE_SOCKET_DIR;
    if (socketDir !== undefined && socketDir !== '') {
      if (!socketDir.startsWith('/'))
        throw invalidOption(`option "socketDir" must be an absolute path, got ${JSON.stringify(socketDir)}`);
      // A Unix socket address holds 107 bytes: "<dir>/<port>.sock" must fit.
      if (Buffer.byteLength(socketDir) > 96)
        throw invalidOption(
          'option "socketDir" must be at most 96 bytes long (a Unix socket path is limited), ' +
            `got ${Buffer.byteLength(socketDir)}`,
        );
      share.socketDir = socketDir;
    }
    for (const [name, min, max] of SHARE_TIMINGS) {
      const v = input[name];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'number')
        throw invalidOption(`option "${name}" must be a number of milliseconds, got ${typeName(v)}`);
      if (!Number.isInteger(v) || v < min || v > max)
        throw invalidRange(`option "${name}" must be an integer from ${min} to ${max}, got ${v}`);
      (share as unknown as Record<string, number>)[name] = v;
    }
  }
  const maxInFlight = optInteger(input, 'maxInFlight', 0, 1_000_000);
  const maxQueuedPerClient = optInteger(input, 'maxQueuedPerClient', 0, 100_000_000);
  const debug = optBool(input, 'debug') ?? false;
  const rejectOnError = optBool(input, 'rejectOnError') ?? false;
  const retryOnHostGone = optBool(input, 'retryOnHostGone') ?? true;
  const maxResponseBytes =
    optInteger(input, 'maxResponseBytes', 1, Number.MAX_SAFE_INTEGER) ?? DEFAULT_MAX_RESPONSE_BYTES;
  const maxEventBytes = normalizeMaxEventBytes(input.maxEventBytes) ?? DEFAULT_MAX_EVENT_BYTES;
  const jar = optCookieJar(input);
  const dns = normalizeDnsOptions(input);
  // What the engine defines (the addon is loaded from here on, once the rest is known good): the
  // pool options' ranges (native/core/engine_option_fields.h; integers, 0 = unlimited or off) and
  // the default port.
  const engine: NativeEngineOptions = {};
  for (const { name, min, max } of nativeEngineOptions()) {
    const v = optInteger(input, name, min, max);
    if (v !== undefined) engine[name] = v;
  }
  port ??= nativeConstants().defaultSharePort;
  const out: NormalizedInit = {
    port,
    debug,
    rejectOnError,
    share: share && { port, ...share },
    retryOnHostGone,
    engine,
    maxResponseBytes,
    maxEventBytes,
    http3: normalizeHttp3Mode(input.http3) ?? 'off',
    connection: normalizeConnectionPolicy(input),
  };
  const dnsServers = normalizeDnsServers(input);
  const family = normalizeFamily(input);
  if (dnsServers !== undefined) out.dnsServers = dnsServers;
  if (family !== undefined) out.family = family;
  if (maxInFlight !== undefined || maxQueuedPerClient !== undefined) {
    out.clientLimits = { maxInFlight: maxInFlight ?? 0, maxQueued: maxQueuedPerClient ?? 0 };
  }
  if (jar) out.cookieJar = jar;
  if (dns) out.dns = dns;
  return out;
}
