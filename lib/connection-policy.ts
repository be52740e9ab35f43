// Identities and rotation (issue #19): the options a request and initCycleTLS share that decide which
// connections a request may use (lib/options.ts and lib/init-options.ts read them from here).
import { Buffer } from 'node:buffer';

import { invalidOption, invalidRange } from './errors';
import { nativeConstants } from './native';
import { optBool, optInteger, optString } from './option-checks';
import type { Dict } from './option-checks';

/**
 * Identities and rotation (the same options on initCycleTLS, as the client's defaults, and on a
 * request). `identity`: nothing of one identity (connections, TLS sessions, Alt-Svc memory) serves
 * another; '' is the engine's default identity. `maxRequestsPerConnection` (0 = no limit; 1 is a
 * fresh connection per request, closed after it: `enableConnectionReuse: false`) and
 * `maxConnectionAgeMs` (0 = no limit): past either a connection takes no new request and closes
 * once idle. Absent fields: the client's.
 */
export interface ConnectionPolicy {
  identity?: string;
  maxRequestsPerConnection?: number;
  maxConnectionAgeMs?: number;
}

/** The longest identity name, in UTF-8 bytes: it is part of every pooled connection's key. */
export const MAX_IDENTITY_BYTES = 256;

/** The policy of a request or client that names none of the options: the client's, or the engine's. */
export const NO_POLICY: ConnectionPolicy = Object.freeze({});

/** The identity and rotation options of a request or of initCycleTLS (see ConnectionPolicy). */
export function normalizeConnectionPolicy(o: Dict): ConnectionPolicy {
  // Most requests name none of these: they share one empty policy (no object per request).
  if (
    o.identity === undefined &&
    o.maxRequestsPerConnection === undefined &&
    o.enableConnectionReuse === undefined &&
    o.maxConnectionAgeMs === undefined
  )
    return NO_POLICY;
  const out: ConnectionPolicy = {};
  const identity = optString(o, 'identity');
  if (identity !== undefined) {
    // NUL separates the strings of a packed spec (lib/native-wire.ts): no option value holds one.
    if (identity.includes('\0')) throw invalidOption('option "identity" contains NUL');
    const bytes = Buffer.byteLength(identity);
    if (bytes > MAX_IDENTITY_BYTES)
      throw invalidRange(`option "identity" must be at most ${MAX_IDENTITY_BYTES} bytes long, got ${bytes}`);
    out.identity = identity;
  }
  let maxRequests = optInteger(o, 'maxRequestsPerConnection', 0, Number.MAX_SAFE_INTEGER);
  // cycletls's name for "a new connection for this request": one request per connection.
  if (optBool(o, 'enableConnectionReuse') === false) {
    if (maxRequests !== undefined && maxRequests !== 1)
      throw invalidOption(
        `enableConnectionReuse: false contradicts option "maxRequestsPerConnection": ${maxRequests}`,
      );
    maxRequests = 1;
  }
  if (maxRequests !== undefined) out.maxRequestsPerConnection = maxRequests;
  const maxAge = optInteger(o, 'maxConnectionAgeMs', 0, nativeConstants().maxTimeoutMs);
  if (maxAge !== undefined) out.maxConnectionAgeMs = maxAge;
  return out;
}
