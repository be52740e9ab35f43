// One error vocabulary from C++ to TypeScript. Codes are stable and part of the public contract.

export const errorCodes = [
  'ERR_INVALID_OPTION',
  'ERR_UNSUPPORTED_FINGERPRINT',
  'ERR_NOT_IMPLEMENTED',
  'ERR_DNS',
  'ERR_CONNECT_REFUSED',
  'ERR_CONNECT_TIMEOUT',
  'ERR_CONNECT',
  'ERR_CONNECTION_CLOSED',
  'ERR_TLS_HANDSHAKE',
  'ERR_TLS_CERT',
  'ERR_PROXY',
  'ERR_TIMEOUT',
  'ERR_BODY_TRUNCATED',
  'ERR_PROTOCOL',
  'ERR_TOO_MANY_REDIRECTS',
  'ERR_ABORTED',
  'ERR_CLIENT_CLOSED',
  'ERR_HOST_GONE',
  'ERR_PORT_IN_USE',
  'ERR_SHARE_SECRET',
  'ERR_QUEUE_FULL',
  'ERR_BODY_TOO_LARGE',
  // A real Encrypted ClientHello was rejected again after the one retry (README "ECH").
  'ERR_ECH_REJECTED',
  // No native addon loads on this platform (lib/native.ts): the message lists what was tried.
  'ERR_NATIVE_UNAVAILABLE',
  'ERR_INTERNAL',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export type ErrorStage =
  | 'options'
  | 'queue'
  | 'dns'
  | 'connect'
  | 'proxy'
  | 'tls'
  | 'write'
  | 'headers'
  | 'body'
  | 'redirect'
  | 'engine'
  | 'link';

export class CycleTLSError extends Error {
  readonly code: ErrorCode;
  readonly stage: ErrorStage;
  /** Whether trying the same request again may succeed. */
  readonly retryable: boolean;
  /** The failed request's id, when the error rejected a request (the response's `requestId`). */
  declare readonly requestId?: string;

  constructor(code: ErrorCode, message: string, stage: ErrorStage = 'engine') {
    super(message);
    this.code = code;
    this.stage = stage;
    this.retryable = RETRYABLE.has(code);
    Object.defineProperty(this, 'name', { value: 'CycleTLSError', enumerable: false });
  }

  /**
   * The HTTP-like status cycletls v3 puts on its errors (408 timeouts, 495 TLS, 502 refused or proxy,
   * 421 DNS and dial, 413 too large; 0 otherwise): the statuses cycletls 2.0.5 resolved failures with.
   */
  get statusCode(): number {
    return compatStatus(this.code);
  }

  toJSON(): { code: ErrorCode; stage: ErrorStage; message: string } {
    return { code: this.code, stage: this.stage, message: this.message };
  }
}

const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_DNS',
  'ERR_CONNECT_REFUSED',
  'ERR_CONNECT_TIMEOUT',
  'ERR_CONNECT',
  'ERR_CONNECTION_CLOSED',
  'ERR_TIMEOUT',
  'ERR_BODY_TRUNCATED',
  'ERR_PROXY',
  'ERR_HOST_GONE',
]);

/**
 * The status cycletls 2.0.5 resolves with for a failure of this kind (it never rejects): 408 for timeouts,
 * 495 for certificate and other handshake errors, 502 for refused connections, 421 for DNS and other dial
 * errors, 0 otherwise (compat-text.ts refines it for proxies from the message). cycletls has no response size
 * limit: ERR_BODY_TOO_LARGE resolves with 413 (Content Too Large), the one status that names the condition
 * and says "do not simply retry".
 */
export function compatStatus(code: ErrorCode): number {
  switch (code) {
    case 'ERR_TIMEOUT':
    case 'ERR_CONNECT_TIMEOUT':
      return 408;
    case 'ERR_TLS_CERT':
    case 'ERR_TLS_HANDSHAKE':
    case 'ERR_ECH_REJECTED':
      return 495;
    case 'ERR_CONNECT_REFUSED':
    case 'ERR_PROXY':
      return 502;
    case 'ERR_DNS':
    case 'ERR_CONNECT':
      return 421;
    case 'ERR_BODY_TOO_LARGE':
      return 413;
    default:
      return 0;
  }
}

export function isErrorCode(value: string): value is ErrorCode {
  return (errorCodes as readonly string[]).includes(value);
}

export function invalidOption(message: string): TypeError & { code: 'ERR_INVALID_OPTION' } {
  const err = new TypeError(message) as TypeError & { code: 'ERR_INVALID_OPTION' };
  err.code = 'ERR_INVALID_OPTION';
  return err;
}

export function invalidRange(message: string): RangeError & { code: 'ERR_INVALID_OPTION' } {
  const err = new RangeError(message) as RangeError & { code: 'ERR_INVALID_OPTION' };
  err.code = 'ERR_INVALID_OPTION';
  return err;
}
