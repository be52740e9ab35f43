// Request bodies that are read asynchronously: WHATWG FormData (encoded as multipart/form-data),
// Blob/File, instances of the `form-data` package, Node Readable streams, WHATWG ReadableStreams
// and async iterables. Streams and async iterables are sent as they are read (streamingBody():
// chunked on HTTP/1.1, DATA frames on HTTP/2) unless the caller asks for them buffered; the others
// have a size known up front and are read into one Buffer first (sent with a Content-Length).
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';

import { invalidOption } from './errors';

/**
 * An ArrayBuffer or a SharedArrayBuffer: both are bytes a body can be (a Buffer over either views its
 * memory; the binding copies the bytes once, from the view).
 */
export function isArrayBufferLike(v: unknown): v is ArrayBuffer | SharedArrayBuffer {
  return (
    v instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && v instanceof SharedArrayBuffer)
  );
}

/** A body whose bytes arrive later; its content type (with the boundary) is known at once. */
export interface PendingBody {
  contentType: string | undefined;
  read(): Promise<Buffer>;
}

interface BlobLike {
  readonly size: number;
  readonly type: string;
  readonly name?: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

interface FormDataLike {
  entries(): IterableIterator<[string, string | BlobLike]>;
}

interface FormDataPackageLike {
  getBoundary(): string;
  getHeaders?(): Record<string, string>;
  getBuffer?(): Buffer;
  pipe?(dest: Writable): unknown;
}

function tag(v: object): string {
  return Object.prototype.toString.call(v).slice(8, -1);
}

function isBlobLike(v: unknown): v is BlobLike {
  if (typeof v !== 'object' || v === null) return false;
  const t = tag(v);
  return (t === 'Blob' || t === 'File') && typeof (v as BlobLike).arrayBuffer === 'function';
}

function isFormData(v: object): v is FormDataLike {
  return (
    tag(v) === 'FormData' &&
    typeof (v as FormDataLike).entries === 'function' &&
    typeof (v as { getBoundary?: unknown }).getBoundary !== 'function'
  );
}

function isFormDataPackage(v: object): v is FormDataPackageLike {
  const f = v as FormDataPackageLike;
  return (
    typeof f.getBoundary === 'function' && (typeof f.getBuffer === 'function' || typeof f.pipe === 'function')
  );
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A boundary as Chrome makes them: `----WebKitFormBoundary` and 16 random letters and digits. */
export function multipartBoundary(): string {
  const bytes = randomBytes(16);
  let s = '----WebKitFormBoundary';
  for (const b of bytes) s += ALNUM[b % ALNUM.length];
  return s;
}

// As the fetch standard (and so browsers) spell names and file names in Content-Disposition.
const escapeName = (s: string): string => s.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
const normalizeLinefeeds = (s: string): string => s.replace(/\r?\n|\r/g, '\r\n');

/** multipart/form-data of a WHATWG FormData, byte-exact for file parts. */
export async function encodeFormData(form: FormDataLike, boundary: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const [name, value] of form.entries()) {
    const fieldName = escapeName(normalizeLinefeeds(name));
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="${fieldName}"`;
    if (typeof value === 'string') {
      parts.push(Buffer.from(`${head}\r\n\r\n${normalizeLinefeeds(value)}\r\n`, 'utf8'));
    } else {
      const filename = escapeName(typeof value.name === 'string' ? value.name : 'blob');
      const type = value.type || 'application/octet-stream';
      parts.push(Buffer.from(`${head}; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`, 'utf8'));
      parts.push(Buffer.from(await value.arrayBuffer()));
      parts.push(Buffer.from('\r\n'));
    }
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(parts);
}

export function chunkBytes(chunk: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (ArrayBuffer.isView(chunk)) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (isArrayBufferLike(chunk)) return Buffer.from(chunk);
  const got = chunk === null ? 'null' : typeof chunk;
  throw invalidOption(`option "body": a stream chunk must be a string, Buffer or Uint8Array, got ${got}`);
}

async function readAsyncIterable(source: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  // Copied: producers may reuse their buffers.
  for await (const chunk of source) chunks.push(Buffer.from(chunkBytes(chunk)));
  return Buffer.concat(chunks);
}

interface ReaderLike {
  read(): Promise<{ done?: boolean; value?: unknown }>;
  releaseLock?(): void;
}

/** For old-style streams (form-data's CombinedStream): pipe into a collector. */
function readByPipe(source: {
  pipe(dest: Writable): unknown;
  on?(event: string, fn: (err: unknown) => void): unknown;
}): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: unknown, _enc, cb): void {
        try {
          chunks.push(Buffer.from(chunkBytes(chunk)));
          cb();
        } catch (err) {
          cb(err as Error);
        }
      },
    });
    sink.on('finish', () => resolve(Buffer.concat(chunks)));
    sink.on('error', reject);
    source.on?.('error', reject);
    source.pipe(sink);
  });
}

async function* webStreamChunks(stream: { getReader(): ReaderLike }): AsyncGenerator<unknown> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock?.();
  }
}

/**
 * A body to send as it is read (a stream or an async iterable, not the form-data package, whose
 * length is known); undefined for anything else. Chunks are not converted yet (chunkBytes()).
 */
export function streamingBody(b: unknown): AsyncIterable<unknown> | undefined {
  if (typeof b !== 'object' || b === null || isFormDataPackage(b)) return undefined;
  if (typeof (b as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
    return b as AsyncIterable<unknown>;
  if (typeof (b as { getReader?: unknown }).getReader === 'function')
    return webStreamChunks(b as { getReader(): ReaderLike });
  return undefined;
}

/** The bodies read asynchronously; undefined for anything else. */
export function pendingBody(b: unknown): PendingBody | undefined {
  if (typeof b !== 'object' || b === null) return undefined;
  if (isFormDataPackage(b)) {
    const headers = typeof b.getHeaders === 'function' ? b.getHeaders() : {};
    const ct = Object.entries(headers).find(([n]) => n.toLowerCase() === 'content-type')?.[1];
    return {
      contentType: ct ?? `multipart/form-data; boundary=${b.getBoundary()}`,
      read: async () => {
        if (typeof b.getBuffer === 'function') {
          // Exact when every part is a string or Buffer; with stream parts it throws: then drain it.
          try {
            return b.getBuffer();
          } catch (err) {
            if (typeof b.pipe !== 'function') throw err;
          }
        }
        return readByPipe(b as FormDataPackageLike & { pipe(dest: Writable): unknown });
      },
    };
  }
  if (isFormData(b)) {
    const boundary = multipartBoundary();
    return {
      contentType: `multipart/form-data; boundary=${boundary}`,
      read: () => encodeFormData(b, boundary),
    };
  }
  if (isBlobLike(b)) {
    return { contentType: b.type || undefined, read: async () => Buffer.from(await b.arrayBuffer()) };
  }
  if (typeof (b as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    return { contentType: undefined, read: () => readAsyncIterable(b as AsyncIterable<unknown>) };
  }
  if (typeof (b as { getReader?: unknown }).getReader === 'function') {
    return {
      contentType: undefined,
      read: () => readAsyncIterable(webStreamChunks(b as { getReader(): ReaderLike })),
    };
  }
  if (typeof (b as { pipe?: unknown }).pipe === 'function') {
    return { contentType: undefined, read: () => readByPipe(b as { pipe(dest: Writable): unknown }) };
  }
  return undefined;
}
