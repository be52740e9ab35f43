// The one place a request's header list is composed, in the order it goes out: a preset's default
// headers as the base, the caller's overriding them by name, User-Agent, Cookie (the caller's, then
// the jar's), the body's Content-Type, the caller's Content-Length, and headerOrder.
//
// Who decides what:
// - Framing is split by whose word it is, once each: here, what the caller wrote (a caller's
//   Transfer-Encoding goes; a caller's Content-Length gets the true length, or for a streamed body
//   is its declared length, which the upload is held to); in the engine (native/core/engine.cc
//   complete_headers), what the body needs when the caller said nothing (Content-Length, or
//   Transfer-Encoding: chunked for a stream), after Host. The engine decides that part because it
//   frames every spec, from this layer, from another process over the link and from native tests,
//   and because HTTP/2 carries no Transfer-Encoding. Neither side ever redoes the other's part.
// - Preset header spelling lives in the native preset tables only: TS asks the addon for the list
//   of the protocol it knows in advance (plain http: 'http1-plain', forceHTTP1: 'http1') and else
//   for HTTP/2's; when ALPN then picks HTTP/1.1, the native writer re-spells that merge
//   (http1::respell_preset_headers), since only it learns the negotiated protocol.
import type { Buffer } from 'node:buffer';

import { invalidOption } from './errors';
import { loadAddon } from './native';
import type { PresetCatalog, PresetHeaderSet } from './options';

export type HeaderList = Array<[string, string]>;

/** The newest Chrome on Linux, as Chromium 156 sends it. */
export const DEFAULT_USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';

function has(headers: ReadonlyArray<readonly [string, string]>, lower: string): boolean {
  return headers.some(([n]) => n.toLowerCase() === lower);
}

let catalog: PresetCatalog | undefined;
/** The presets the addon carries, with their default headers (read once, then cached). */
export function presetCatalog(): PresetCatalog {
  if (catalog) return catalog;
  const addon = loadAddon();
  const ids = new Set(addon.info.profiles);
  const cache = new Map<string, Array<[string, string]>>();
  catalog = {
    has: (id) => ids.has(id),
    headers: (id, set = 'http2') => {
      const key = id || addon.info.defaultProfile;
      let list = cache.get(`${key} ${set}`);
      if (!list) {
        const flat = addon.profileHeaders(key, set) ?? [];
        list = [];
        for (let i = 0; i + 1 < flat.length; i += 2) list.push([flat[i], flat[i + 1]]);
        cache.set(`${key} ${set}`, list);
      }
      return list;
    },
  };
  return catalog;
}

/** A preset's own value of a header (its HTTP/1.1 list), `name` in lower case. */
export function presetValue(presets: PresetCatalog, profile: string, name: string): string | undefined {
  return presets.headers(profile, 'http1').find(([n]) => n.toLowerCase() === name)?.[1];
}

/**
 * The preset's headers in its order, with the caller's headers overriding by name (case-insensitive,
 * in the preset's place, with the caller's spelling); the caller's other headers follow.
 */
function overlayHeaders(preset: ReadonlyArray<readonly [string, string]>, user: HeaderList): HeaderList {
  const out: HeaderList = preset.map(([n, v]) => [n, v]);
  const replaced = new Set<number>();
  for (const [name, value] of user) {
    const lower = name.toLowerCase();
    const i = out.findIndex(
      ([n], idx) => !replaced.has(idx) && idx < preset.length && n.toLowerCase() === lower,
    );
    if (i >= 0) {
      out[i] = [name, value];
      replaced.add(i);
    } else {
      out.push([name, value]);
    }
  }
  return out;
}

/** Sets `name` at the position of its first occurrence (keeping that spelling); later duplicates go. */
function setHeader(headers: HeaderList, name: string, value: string, merge?: string): void {
  const lower = name.toLowerCase();
  const i = headers.findIndex(([n]) => n.toLowerCase() === lower);
  if (i < 0) {
    headers.push([name, value]);
    return;
  }
  headers[i] = [headers[i][0], merge !== undefined ? `${headers[i][1]}${merge}${value}` : value];
  for (let j = headers.length - 1; j > i; j--)
    if (headers[j][0].toLowerCase() === lower) headers.splice(j, 1);
}

/** The headers `order` names first, in its order (case-insensitive); the others after them, as they were. */
function applyHeaderOrder(headers: HeaderList, order: readonly string[] | undefined): HeaderList {
  if (order === undefined) return headers;
  const rank = new Map<string, number>();
  order.forEach((n, i) => {
    if (!rank.has(n.toLowerCase())) rank.set(n.toLowerCase(), i);
  });
  const listed = headers.filter(([n]) => rank.has(n.toLowerCase()));
  listed.sort((a, b) => (rank.get(a[0].toLowerCase()) ?? 0) - (rank.get(b[0].toLowerCase()) ?? 0));
  return [...listed, ...headers.filter(([n]) => !rank.has(n.toLowerCase()))];
}

export interface HeaderParts {
  /** The caller's headers, validated, in their order. */
  caller: HeaderList;
  /** The preset's default list to start from; undefined: exactly the caller's headers (orderAsProvided). */
  preset: ReadonlyArray<readonly [string, string]> | undefined;
  userAgent: string | undefined;
  /** The `cookies` option as one Cookie value. */
  cookie: string | undefined;
  /** The Content-Type the body implies (URLSearchParams, FormData…), used when the caller gave none. */
  contentType: string | undefined;
  body: Buffer | undefined;
  /** The body is a stream sent as read. */
  streamed: boolean;
  /** The caller's headerOrder (validated). */
  order: readonly string[] | undefined;
}

interface ComposedHeaders {
  headers: HeaderList;
  declaredLength: number | undefined;
}

const presetOnlyLists = new WeakMap<ReadonlyArray<readonly [string, string]>, Readonly<ComposedHeaders>>();

/**
 * What composeHeaders makes of a preset when the caller adds nothing (most requests): the preset's
 * list with the default User-Agent if it has none, made once per preset list and frozen (every
 * later step copies a list before it changes it), in a result made once too.
 */
function presetOnly(preset: ReadonlyArray<readonly [string, string]>): Readonly<ComposedHeaders> {
  let composed = presetOnlyLists.get(preset);
  if (!composed) {
    const headers: HeaderList = preset.map(([n, v]) => Object.freeze([n, v]) as [string, string]);
    if (!has(headers, 'user-agent'))
      headers.push(Object.freeze(['User-Agent', DEFAULT_USER_AGENT]) as [string, string]);
    const list = Object.freeze(headers.filter(([n]) => n.toLowerCase() !== 'transfer-encoding'));
    composed = Object.freeze({ headers: list as HeaderList, declaredLength: undefined });
    presetOnlyLists.set(preset, composed);
  }
  return composed;
}

/**
 * A request's headers before the hop-dependent part (the jar's cookies), and a streamed body's
 * declared length (the caller's Content-Length, which the stream is held to).
 */
export function composeHeaders(parts: HeaderParts): Readonly<ComposedHeaders> {
  if (
    parts.preset &&
    parts.caller.length === 0 &&
    (parts.userAgent === undefined || parts.userAgent === '') &&
    parts.cookie === undefined &&
    !parts.contentType &&
    parts.order === undefined
  ) {
    return presetOnly(parts.preset);
  }
  let headers = parts.preset ? overlayHeaders(parts.preset, parts.caller) : parts.caller;
  if (parts.userAgent !== undefined && parts.userAgent !== '')
    setHeader(headers, 'User-Agent', parts.userAgent);
  else if (!has(headers, 'user-agent')) headers.push(['User-Agent', DEFAULT_USER_AGENT]);
  if (parts.cookie !== undefined) setHeader(headers, 'Cookie', parts.cookie, '; ');
  if (parts.contentType && !has(headers, 'content-type')) headers.push(['Content-Type', parts.contentType]);
  // The body decides the framing: a caller's Content-Length keeps its place but gets the true
  // length; Transfer-Encoding is the engine's to set (chunked for a stream of unknown length).
  headers = headers.filter(([n]) => n.toLowerCase() !== 'transfer-encoding');
  let declaredLength: number | undefined;
  const lengthHeader = headers.find(([n]) => n.toLowerCase() === 'content-length');
  if (parts.streamed && lengthHeader) {
    // A stream's length is the caller's word: it goes out as given and the stream is held to it.
    if (!/^\d{1,15}$/.test(lengthHeader[1].trim()))
      throw invalidOption(
        `header "Content-Length" must be a byte count, got ${JSON.stringify(lengthHeader[1])}`,
      );
    declaredLength = Number(lengthHeader[1].trim());
  } else if (lengthHeader) {
    setHeader(headers, 'Content-Length', String(parts.body?.length ?? 0));
  }
  return { headers: applyHeaderOrder(headers, parts.order), declaredLength };
}

/** The headers with a caller's Content-Length corrected to a body read later (FormData, Blob, streams). */
export function withBodyLength(headers: HeaderList, length: number): HeaderList {
  const out = headers.slice();
  if (has(out, 'content-length')) setHeader(out, 'Content-Length', String(length));
  return out;
}

/**
 * A redirect hop's headers: without the body's headers when the method turned into GET, and without
 * credentials, cookies and a Host override when the origin changed.
 */
export function redirectHeaders(
  headers: HeaderList,
  bodyDropped: boolean,
  originChanged: boolean,
): HeaderList {
  let out = headers;
  if (bodyDropped)
    out = out.filter(
      ([n]) => !['content-length', 'content-type', 'transfer-encoding'].includes(n.toLowerCase()),
    );
  // Credentials and a caller's Host override belong to the origin they were meant for: scheme,
  // host and port (as browsers and curl decide), so https → http on one port drops them too.
  // Proxy-Authorization as well: a scheme change moves the request from the proxy (absolute-form)
  // into a tunnel, where the header would reach the origin server. The jar's cookies are chosen
  // again for the new URL.
  if (originChanged)
    out = out.filter(
      ([n]) => !['authorization', 'cookie', 'host', 'proxy-authorization'].includes(n.toLowerCase()),
    );
  return out;
}

/** The names in a Cookie header value. */
function cookieNames(header: string): Set<string> {
  const names = new Set<string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (name !== '') names.add(name);
  }
  return names;
}

/**
 * The headers of one hop with the jar's cookies added: the explicit Cookie header (from `cookies`
 * or `headers`) keeps its place and wins by name; the jar's other cookies follow it.
 */
export function withJarCookies(headers: HeaderList, jarCookies: string): HeaderList {
  if (jarCookies === '') return headers;
  const i = headers.findIndex(([n]) => n.toLowerCase() === 'cookie');
  if (i < 0) return [...headers, ['Cookie', jarCookies]];
  const explicit = cookieNames(headers[i][1]);
  const extra = jarCookies
    .split(';')
    .map((p) => p.trim())
    .filter((p) => {
      if (p === '') return false;
      const eq = p.indexOf('=');
      return !explicit.has((eq < 0 ? p : p.slice(0, eq)).trim());
    });
  if (extra.length === 0) return headers;
  const out = headers.slice();
  out[i] = [headers[i][0], headers[i][1] === '' ? extra.join('; ') : `${headers[i][1]}; ${extra.join('; ')}`];
  return out;
}

/**
 * Accept and Cache-Control as EventSource sends them, unless the caller set them; Last-Event-ID when known.
 */
export function eventStreamHeaders(headers: unknown, lastEventId: string): unknown {
  if (headers !== undefined && headers !== null && (typeof headers !== 'object' || Array.isArray(headers)))
    return headers;
  const given = Object.entries((headers ?? {}) as Record<string, unknown>);
  const names = new Set(given.map(([n]) => n.toLowerCase()));
  const out: Record<string, unknown> = {};
  if (!names.has('accept')) out.Accept = 'text/event-stream';
  if (!names.has('cache-control')) out['Cache-Control'] = 'no-cache';
  for (const [n, v] of given) if (lastEventId === '' || n.toLowerCase() !== 'last-event-id') out[n] = v;
  if (lastEventId !== '') out['Last-Event-ID'] = lastEventId;
  return out;
}

/** The caller's headers with the preset's User-Agent in place of theirs (a WebSocket not given one). */
export function withPresetUserAgent(
  headers: HeaderList,
  presets: PresetCatalog,
  profile: string,
): HeaderList {
  const presetUa = presetValue(presets, profile, 'user-agent');
  return presetUa
    ? headers.map(([n, v]) => (n.toLowerCase() === 'user-agent' ? [n, presetUa] : [n, v]))
    : headers;
}

export type { PresetCatalog, PresetHeaderSet };
