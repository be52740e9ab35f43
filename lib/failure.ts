// The one place that decides whether a failure rejects or resolves, and that builds the response
// cycletls resolves failures with. Requests, sse() and ws() all settle their failures here.
//
// cycletls 2.0.5 never rejects: a failure is a response with a synthetic status and Go's text as
// `data` (compat-text.ts has its words and statuses); the stable code and the engine's own message
// ride along in `error`. Misuse (a bad option, an unusable fingerprint, an unimplemented feature,
// anything not a CycleTLSError) always rejects, and so does everything under `rejectOnError`.
import { Blob } from 'node:buffer';
import type { Buffer } from 'node:buffer';

import { cycletlsErrorText, cycletlsStatus } from './compat-text';
import type { FailedRequest } from './compat-text';
import { CycleTLSError } from './errors';
import type { ErrorCode, ErrorStage } from './errors';
import { headersToCycleTLS, metaFields } from './response';
import type { CycleTLSResponseShape, ErrorInfo, ResponseMeta } from './response';

const MISUSE: ReadonlySet<string> = new Set<ErrorCode>([
  'ERR_INVALID_OPTION',
  'ERR_UNSUPPORTED_FINGERPRINT',
  'ERR_NOT_IMPLEMENTED',
]);

/** Whether a failure rejects (misuse, or the caller asked for rejections) instead of resolving. */
export function rejects(err: unknown, rejectOnError: boolean): boolean {
  return !(err instanceof CycleTLSError) || rejectOnError || MISUSE.has(err.code);
}

/** An error that happened after the head arrived keeps the head, for the resolved response. */
export function withMeta(err: CycleTLSError, meta: ResponseMeta | undefined): CycleTLSError {
  if (meta) Object.defineProperty(err, 'responseMeta', { value: meta, enumerable: false });
  return err;
}

function metaOf(err: CycleTLSError): ResponseMeta | undefined {
  return (err as CycleTLSError & { responseMeta?: ResponseMeta }).responseMeta;
}

/**
 * A failed request settled: throws it when it rejects, else the cycletls response. `meta`: what
 * the response says about itself (requestId, redirects), over the head the error may carry.
 */
export function settleFailure(
  err: unknown,
  rejectOnError: boolean,
  req: FailedRequest,
  requestId: string,
  meta?: Pick<ResponseMeta, 'requestId' | 'redirects'>,
): CycleTLSResponseShape {
  if (rejects(err, rejectOnError)) {
    // Which request failed (cycletls v3's errors carry it): set once, where the id is known.
    if (err instanceof CycleTLSError && err.requestId === undefined)
      Object.defineProperty(err, 'requestId', { value: requestId, enumerable: false });
    throw err;
  }
  const failure = err as CycleTLSError;
  const head = metaOf(failure);
  return errorResponse(failure, req, requestId, head && meta ? { ...head, ...meta } : undefined);
}

/**
 * The response of a failure in cycletls's shape: its status (408, 495, 502, 421, 413 or 0, or a
 * refusing proxy's), `data`/`text()` in cycletls's words, and the head when one arrived.
 */
export function errorResponse(
  err: CycleTLSError,
  req: FailedRequest,
  requestId: string,
  meta?: ResponseMeta,
): CycleTLSResponseShape {
  const message = cycletlsErrorText(err, req);
  return {
    status: cycletlsStatus(err),
    statusText: '',
    headers: meta ? headersToCycleTLS(meta.rawHeaders) : {},
    rawHeaders: meta?.rawHeaders ?? [],
    data: message,
    finalUrl: meta?.finalUrl ?? req.url,
    requestId,
    httpVersion: meta?.httpVersion ?? '',
    protocol: meta?.protocol ?? '',
    tls: meta?.tls ?? null,
    connection: meta?.connection ?? { id: 0, reused: false, tlsResumed: false, protocol: '' },
    fingerprint: meta?.fingerprint ?? null,
    redirects: meta?.redirects ?? 0,
    error: err.toJSON(),
    json: async () => ({}),
    text: async () => message,
    arrayBuffer: async () => new ArrayBuffer(0),
    blob: async () => new Blob([message], { type: 'text/plain' }),
  };
}

/**
 * A server's refusal settled (a WebSocket upgrade answered with another status): throws it when it
 * rejects, else its own status, headers and the first bytes of its body as `data`, the error alongside.
 */
export function settleRefusal(
  err: CycleTLSError,
  rejectOnError: boolean,
  meta: ResponseMeta,
  body: Buffer,
): CycleTLSResponseShape {
  if (rejects(err, rejectOnError)) throw err;
  return { ...metaFields(meta, body.toString('utf8'), body), error: err.toJSON() };
}

/** A resolved response's `error` as the CycleTLSError it was. */
export function fromResolved(error: ErrorInfo): CycleTLSError {
  return new CycleTLSError(error.code as ErrorCode, error.message, error.stage as ErrorStage);
}
