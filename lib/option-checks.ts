// The small checks every option reader shares: a wrong type is a TypeError naming the option, a wrong
// value a RangeError.
import { Buffer } from 'node:buffer';

import { isCookieJarLike } from './cookies';
import type { CookieJarLike } from './cookies';
import { CycleTLSError, invalidOption, invalidRange } from './errors';

export type Dict = Record<string, unknown>;

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (Buffer.isBuffer(v)) return 'a Buffer';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

export function isPlainObject(v: unknown): v is Dict {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === null || proto === Object.prototype || Object.getPrototypeOf(proto) === null;
}

export function optBool(o: Dict, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidOption(`option "${key}" must be a boolean, got ${typeName(v)}`);
  return v;
}

export function optString(o: Dict, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidOption(`option "${key}" must be a string, got ${typeName(v)}`);
  return v;
}

export function notImplemented(option: string, issue: string): CycleTLSError {
  return new CycleTLSError(
    'ERR_NOT_IMPLEMENTED',
    `option "${option}" is not implemented yet (${issue})`,
    'options',
  );
}

export function optInteger(o: Dict, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw invalidOption(`option "${key}" must be a number, got ${typeName(v)}`);
  if (!Number.isInteger(v) || v < min || v > max)
    throw invalidRange(`option "${key}" must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}

/**
 * `cookieJar`: anything with getCookieString(url) and setCookie(cookie, url), as tough-cookie's CookieJar.
 */
export function optCookieJar(o: Dict): CookieJarLike | undefined {
  const v = o.cookieJar;
  if (v === undefined || v === null) return undefined;
  if (!isCookieJarLike(v)) {
    throw invalidOption(
      'option "cookieJar" must have getCookieString(url) and setCookie(cookie, url) methods ' +
        `(as tough-cookie's CookieJar), got ${typeName(v)}`,
    );
  }
  return v;
}

/**
 * sse()'s `maxEventBytes` (also an init option, the client's default), validated like
 * maxResponseBytes: an integer of bytes from 1; undefined when absent.
 */
export function normalizeMaxEventBytes(value: unknown): number | undefined {
  return optInteger({ maxEventBytes: value }, 'maxEventBytes', 1, Number.MAX_SAFE_INTEGER);
}
