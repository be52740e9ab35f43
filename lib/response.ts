// Responses in cycletls's shape (status, headers as {Canonical-Name: string[]}, data per
// responseType, finalUrl, json/text/arrayBuffer/blob), plus what cycletls never exposed: raw
// headers in wire order, the negotiated protocol and TLS parameters, and a stable error code.
import { Blob, Buffer } from 'node:buffer';
import type { Readable } from 'node:stream';

import { CycleTLSError } from './errors';
import type { Fingerprint } from './fingerprint';
import type { ResponseType } from './options';

export interface ResponseMeta {
  requestId: string;
  status: number;
  statusText: string;
  httpVersion: string;
  rawHeaders: string[];
  finalUrl: string;
  protocol: string;
  tls: { version: string; cipher: string; alpn: string } | null;
  /** protocol: as `protocol` above ('h3' over HTTP/3). */
  connection: { id: number; reused: boolean; tlsResumed: boolean; protocol: string };
  /** What the connection sent (lib/fingerprint.ts); null without TLS. */
  fingerprint: Fingerprint | null;
  redirects: number;
}

export interface ErrorInfo {
  code: string;
  stage: string;
  message: string;
}

/** Go's CanonicalMIMEHeaderKey, spelled out (canonicalHeaderName() caches it). */
function spellCanonical(name: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return name;
  let upper = true;
  let out = '';
  for (const ch of name) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}

// Servers send the same few dozen header names over and over: spelling each one again built a
// string per character, most of what a response allocated. Bounded: names a server invents past
// this many are spelled every time, never kept.
const CANONICAL_NAMES_KEPT = 1024;
const canonicalNames = new Map<string, string>();

/** Go's CanonicalMIMEHeaderKey, which cycletls users' code indexes by (e.g. headers['Content-Type']). */
export function canonicalHeaderName(name: string): string {
  let canonical = canonicalNames.get(name);
  if (canonical !== undefined) return canonical;
  canonical = spellCanonical(name);
  if (canonicalNames.size < CANONICAL_NAMES_KEPT) canonicalNames.set(name, canonical);
  return canonical;
}

/** How many spellings canonicalHeaderName() keeps (for the test of its bound). */
export function canonicalNamesKept(): number {
  return canonicalNames.size;
}

/**
 * cycletls's header map: canonical names, every value in an array (of exactly its values: `[]`
 * grown by push() reserved room for 17). A `__proto__` header is an own key like any other.
 */
export function headersToCycleTLS(raw: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = canonicalHeaderName(raw[i]);
    const values = out[key];
    if (Array.isArray(values)) values.push(raw[i + 1]);
    else if (key === '__proto__') ownProperty(out, key, [raw[i + 1]]);
    else out[key] = [raw[i + 1]];
  }
  return out;
}

function ownProperty(o: object, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Whether header name `got` is `name` (lower case) in any casing; others are told by length, unlowered. */
function isHeader(got: string, name: string): boolean {
  return got.length === name.length && (got === name || got.toLowerCase() === name);
}

/** The first value of a header in raw [name, value, ...] headers; `name` in lower case. */
export function headerValue(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) if (isHeader(raw[i], name)) return raw[i + 1];
  return undefined;
}

/** Every value of a header in raw [name, value, ...] headers; `name` in lower case. */
export function headerValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (isHeader(raw[i], name)) out.push(raw[i + 1]);
  return out;
}

export function contentType(raw: readonly string[]): string {
  return headerValue(raw, 'content-type') ?? '';
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/**
 * For `data`: a body the engine handed over owns its whole backing store, which is given away
 * without a copy. Small Buffers share a pooled slab, which must not leak out: those are copied.
 */
function ownedArrayBuffer(buf: Buffer): ArrayBuffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength) return buf.buffer as ArrayBuffer;
  return toArrayBuffer(buf);
}

function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new Error(`Failed to parse response as JSON: ${(err as Error).message}`);
  }
}

/** What json()/text()/arrayBuffer()/blob() of a streamed response read: the stream, collected once. */
class StreamedBody {
  private collected: Promise<Buffer> | undefined;
  constructor(private readonly stream: Readable) {}

  whole(): Promise<Buffer> {
    this.collected ??= (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of this.stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    })();
    return this.collected;
  }
}

/** The body of a response that is not read as one (an event stream, a WebSocket): its methods reject. */
class UnreadableBody {
  constructor(readonly why: string) {}
}

type BodySource = Buffer | StreamedBody | UnreadableBody;

/**
 * Where a response's json()/text()/arrayBuffer()/blob() find its body. The methods are the same
 * four functions on every response (no closures per response): they read the body from this
 * own property. It is enumerable, so a spread or Object.assign copy keeps working methods, and a
 * symbol, so Object.keys, for-in and JSON.stringify do not see it.
 */
const BODY: unique symbol = Symbol('cycletls-native response body');

interface HasBody {
  [BODY]?: BodySource;
}

function wholeBody(res: HasBody | undefined): Buffer | Promise<Buffer> {
  const source = res?.[BODY];
  if (source instanceof StreamedBody) return source.whole();
  if (source instanceof UnreadableBody) throw new CycleTLSError('ERR_INVALID_OPTION', source.why, 'options');
  if (Buffer.isBuffer(source)) return source;
  throw new TypeError('json(), text(), arrayBuffer() and blob() are called on the response: response.json()');
}

async function json(this: HasBody | undefined): Promise<unknown> {
  return parseJson(await wholeBody(this));
}

async function text(this: HasBody | undefined): Promise<string> {
  return (await wholeBody(this)).toString('utf8');
}

async function arrayBuffer(this: HasBody | undefined): Promise<ArrayBuffer> {
  return toArrayBuffer(await wholeBody(this));
}

async function blob(this: (HasBody & { rawHeaders?: readonly string[] }) | undefined): Promise<Blob> {
  const body = await wholeBody(this);
  return new Blob([body], { type: contentType(this?.rawHeaders ?? []) });
}

type BodyMethods = Pick<CycleTLSResponseShape, 'json' | 'text' | 'arrayBuffer' | 'blob'> & HasBody;

/** json/text/arrayBuffer/blob over a whole body, to spread over a response. */
export function bodyMethods(body: Buffer): BodyMethods {
  return { json, text, arrayBuffer, blob, [BODY]: body };
}

/** json()/text()/... of a response whose body is not read as a body (an event stream, a WebSocket). */
export function unreadableBodyMethods(why: string): BodyMethods {
  return { json, text, arrayBuffer, blob, [BODY]: new UnreadableBody(why) };
}

export interface CycleTLSResponseShape {
  status: number;
  statusText: string;
  headers: Record<string, string[]>;
  rawHeaders: string[];
  data: unknown;
  finalUrl: string;
  requestId: string;
  httpVersion: string;
  protocol: string;
  tls: ResponseMeta['tls'];
  connection: ResponseMeta['connection'];
  fingerprint: ResponseMeta['fingerprint'];
  redirects: number;
  error?: ErrorInfo;
  json(): Promise<unknown>;
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
  blob(): Promise<Blob>;
}

/**
 * A response: `meta` in cycletls's shape, `data`, and body methods over `body`. The one list of
 * a response's fields, in cycletls's order, as one object literal of plain data properties. The
 * header map is made at once: a getter in an object literal makes V8 build the object as a
 * dictionary, through the runtime, with two closures, which cost more than the map itself.
 */
export function metaFields(meta: ResponseMeta, data: unknown, body: BodySource): CycleTLSResponseShape {
  const { rawHeaders } = meta;
  return {
    status: meta.status,
    statusText: meta.statusText,
    headers: headersToCycleTLS(rawHeaders),
    rawHeaders,
    finalUrl: meta.finalUrl,
    requestId: meta.requestId,
    httpVersion: meta.httpVersion,
    protocol: meta.protocol,
    tls: meta.tls,
    connection: meta.connection,
    fingerprint: meta.fingerprint,
    redirects: meta.redirects,
    data,
    json,
    text,
    arrayBuffer,
    blob,
    [BODY]: body,
  } as CycleTLSResponseShape;
}

/** A response whose body is not read as a body (an event stream, a WebSocket): `data` null. */
export function unreadableResponse(meta: ResponseMeta, why: string): CycleTLSResponseShape {
  return metaFields(meta, null, new UnreadableBody(why));
}

export function bufferedResponse(
  meta: ResponseMeta,
  body: Buffer,
  responseType: ResponseType,
): CycleTLSResponseShape {
  let data: unknown;
  switch (responseType) {
    case 'text':
      data = body.toString('utf8');
      break;
    case 'arraybuffer':
      data = ownedArrayBuffer(body);
      break;
    case 'blob':
      data = new Blob([body], { type: contentType(meta.rawHeaders) });
      break;
    default:
      // cycletls: the parsed JSON, or the raw Buffer when the body is not JSON.
      try {
        data = body.length ? JSON.parse(body.toString('utf8')) : body;
      } catch {
        data = body;
      }
  }
  return metaFields(meta, data, body);
}

export function streamResponse(meta: ResponseMeta, stream: Readable): CycleTLSResponseShape {
  return metaFields(meta, stream, new StreamedBody(stream));
}
