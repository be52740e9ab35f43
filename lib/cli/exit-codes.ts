// curl's exit codes (its CURLE_* numbers), from our stable error codes: scripts written against curl
// keep their `case $?` working. CliFailure carries one, with curl's message, up to main().
import type { ErrorCode, ErrorStage } from '../errors';

export const EXIT = {
  ok: 0,
  usage: 2,
  badUrl: 3,
  notBuiltIn: 4,
  resolveProxy: 5,
  resolveHost: 6,
  connect: 7,
  weirdReply: 8,
  httpError: 22,
  writeError: 23,
  readError: 26,
  timeout: 28,
  tlsHandshake: 35,
  tooManyRedirects: 47,
  emptyReply: 52,
  sendError: 55,
  recvError: 56,
  certificate: 60,
  fileSizeExceeded: 63,
  proxyHandshake: 97,
} as const;

/** The exit code for a failed request, as curl would have ended on the same failure. */
export function exitCodeFor(code: ErrorCode, stage: ErrorStage): number {
  switch (code) {
    case 'ERR_DNS':
      return EXIT.resolveHost;
    case 'ERR_CONNECT_REFUSED':
    case 'ERR_CONNECT':
      return EXIT.connect;
    case 'ERR_CONNECT_TIMEOUT':
    case 'ERR_TIMEOUT':
      return EXIT.timeout;
    case 'ERR_TLS_HANDSHAKE':
      return EXIT.tlsHandshake;
    case 'ERR_TLS_CERT':
      // curl says 60 (peer certificate cannot be authenticated) for an untrusted or wrong-host
      // certificate, and keeps 35 for handshakes that fail otherwise.
      return EXIT.certificate;
    case 'ERR_TOO_MANY_REDIRECTS':
      return EXIT.tooManyRedirects;
    case 'ERR_PROXY':
      if (stage === 'dns') return EXIT.resolveProxy;
      if (stage === 'connect') return EXIT.connect;
      return EXIT.proxyHandshake;
    case 'ERR_CONNECTION_CLOSED':
      if (stage === 'write') return EXIT.sendError;
      return stage === 'headers' ? EXIT.emptyReply : EXIT.recvError;
    case 'ERR_BODY_TRUNCATED':
      return 18; // CURLE_PARTIAL_FILE
    case 'ERR_PROTOCOL':
      return EXIT.weirdReply;
    case 'ERR_BODY_TOO_LARGE':
      return EXIT.fileSizeExceeded;
    case 'ERR_NOT_IMPLEMENTED':
    case 'ERR_UNSUPPORTED_FINGERPRINT':
      return EXIT.notBuiltIn;
    case 'ERR_INVALID_OPTION':
      return EXIT.usage;
    case 'ERR_ABORTED':
      return 42; // CURLE_ABORTED_BY_CALLBACK
    default:
      // ERR_NATIVE_UNAVAILABLE, ERR_INTERNAL and the sharing codes (the CLI does not share its engine):
      // curl's "failed to initialize".
      return EXIT.usage;
  }
}

/** An ending with curl's exit code and message (printed unless -s without -S). */
export class CliFailure extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}
