// Responses in cycletls's shape (status, headers as {Canonical-Name: string[]}, data per
// responseType, finalUrl, json/text/arrayBuffer/blob), plus what cycletls never exposed: raw
// headers in wire order, the negotiated protocol and TLS parameters, and a stable error code.
import { Blob, Buffer } from 'node:buffer';
import type { Readable } from 'node:stream';

import { CycleTLSError } from './errors';
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
  connection: { id: number; reused: boolean; tlsResumed: boolean };
  redirects: number;
}

export interface ErrorInfo {
  code: string;
  stage: string;
  message: string;
}

/** Go's CanonicalMIMEHeaderKey, which cycletls users' code indexes by (e.g. headers['Content-Type']). */
export function canonicalHeaderName(name: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return name;
  let upper = true;
  let out = '';
  for (const ch of name) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}

export function headersToCycleTLS(raw: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = canonicalHeaderName(raw[i]);
    (out[key] ??= []).push(raw[i + 1]);
  }
  return out;
}

/** The first value of a header in raw [name, value, ...] headers; `name` in lower case. */
export function headerValue(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i].toLowerCase() === name) return raw[i + 1];
  return undefined;
}

/** Every value of a header in raw [name, value, ...] headers; `name` in lower case. */
export function headerValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i].toLowerCase() === name) out.push(raw[i + 1]);
  return out;
}

export function contentType(raw: readonly string[]): string {
  return headerValue(raw, 'content-type') ?? '';
}

/** json()/text()/... of a response whose body is not read as a body (an event stream, a WebSocket). */
export function unreadableBodyMethods(
  why: string,
): Pick<CycleTLSResponseShape, 'json' | 'text' | 'arrayBuffer' | 'blob'> {
  const misuse = async (): Promise<never> => {
    throw new CycleTLSError('ERR_INVALID_OPTION', why, 'options');
  };
  return { json: misuse, text: misuse, arrayBuffer: misuse, blob: misuse };
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
  redirects: number;
  error?: ErrorInfo;
  json(): Promise<unknown>;
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
  blob(): Promise<Blob>;
}

export function metaFields(meta: ResponseMeta) {
  return {
    status: meta.status,
    statusText: meta.statusText,
    headers: headersToCycleTLS(meta.rawHeaders),
    rawHeaders: meta.rawHeaders,
    finalUrl: meta.finalUrl,
    requestId: meta.requestId,
    httpVersion: meta.httpVersion,
    protocol: meta.protocol,
    tls: meta.tls,
    connection: meta.connection,
    redirects: meta.redirects,
  };
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
  // One object literal (no spreads), and cycletls's header map made on first read: most callers
  // read `data` and perhaps one header. The accessor is an own enumerable property, so keys,
  // spreads and JSON see `headers` as before; assigning it replaces it.
  const { rawHeaders } = meta;
  const methods = bodyMethods(body, rawHeaders);
  let headers: Record<string, string[]> | undefined;
  return {
    status: meta.status,
    statusText: meta.statusText,
    get headers(): Record<string, string[]> {
      return (headers ??= headersToCycleTLS(rawHeaders));
    },
    set headers(value: Record<string, string[]>) {
      headers = value;
    },
    rawHeaders,
    finalUrl: meta.finalUrl,
    requestId: meta.requestId,
    httpVersion: meta.httpVersion,
    protocol: meta.protocol,
    tls: meta.tls,
    connection: meta.connection,
    redirects: meta.redirects,
    data,
    json: methods.json,
    text: methods.text,
    arrayBuffer: methods.arrayBuffer,
    blob: methods.blob,
  };
}

/** json/text/arrayBuffer/blob over a whole body. */
export function bodyMethods(
  body: Buffer,
  rawHeaders: readonly string[],
): Pick<CycleTLSResponseShape, 'json' | 'text' | 'arrayBuffer' | 'blob'> {
  return {
    json: async () => parseJson(body),
    text: async () => body.toString('utf8'),
    arrayBuffer: async () => toArrayBuffer(body),
    blob: async () => new Blob([body], { type: contentType(rawHeaders) }),
  };
}

export function streamResponse(meta: ResponseMeta, stream: Readable): CycleTLSResponseShape {
  let collected: Promise<Buffer> | undefined;
  const collect = (): Promise<Buffer> => {
    collected ??= (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    })();
    return collected;
  };
  return {
    ...metaFields(meta),
    data: stream,
    json: async () => parseJson(await collect()),
    text: async () => (await collect()).toString('utf8'),
    arrayBuffer: async () => toArrayBuffer(await collect()),
    blob: async () => new Blob([await collect()], { type: contentType(meta.rawHeaders) }),
  };
}
