// The errors cycletls-native/crawlee rejects with: got's names, codes and messages, because Crawlee and
// the code written for its default client (got-scraping) read those. HttpCrawler and BasicCrawler
// decide by message whether a proxy failed (ROTATE_PROXY_ERRORS: 'ECONNREFUSED', 'ECONNRESET',
// 'ERR_PROXY_CONNECTION_FAILED', ...) and then retry with another session and proxy; so the message
// of an engine failure names the errno-style code got would have given. The engine's own error, with
// its stable `code` and `stage`, is the `cause`.
import type { CycleTLSError } from './errors';

/** What an error knows of the response it is about (got's `error.response`). */
export interface ErrorResponse {
  url: string;
  statusCode: number;
  statusMessage?: string;
  headers: Record<string, string | string[] | undefined>;
}

/** got's RequestError: every failure of a request. `code`: got's (or the engine's) code. */
export class RequestError extends Error {
  readonly code: string;
  readonly response: ErrorResponse | undefined;
  readonly options: { url: string; method: string };

  constructor(
    message: string,
    code: string,
    options: { url: string; method: string },
    response?: ErrorResponse,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'RequestError';
    this.code = code;
    this.options = options;
    this.response = response;
  }
}

/** A deadline passed (the engine's ERR_TIMEOUT or ERR_CONNECT_TIMEOUT; got's ETIMEDOUT). */
export class TimeoutError extends RequestError {
  constructor(message: string, options: { url: string; method: string }, cause: CycleTLSError) {
    super(message, 'ETIMEDOUT', options, undefined, cause);
    this.name = 'TimeoutError';
  }
}

/** `throwHttpErrors: true` and a status of 400 or more. */
export class HTTPError extends RequestError {
  constructor(response: ErrorResponse, options: { url: string; method: string }) {
    super(
      `Response code ${response.statusCode} (${response.statusMessage ?? ''})`,
      'ERR_NON_2XX_3XX_RESPONSE',
      options,
      response,
    );
    this.name = 'HTTPError';
  }
}

/** More redirects than `maxRedirects`. */
export class MaxRedirectsError extends RequestError {
  constructor(maxRedirects: number, options: { url: string; method: string }) {
    super(`Redirected ${maxRedirects} times. Aborting.`, 'ERR_TOO_MANY_REDIRECTS', options);
    this.name = 'MaxRedirectsError';
  }
}

/** `responseType: 'json'` and a body that is not JSON. */
export class ParseError extends RequestError {
  constructor(error: Error, response: ErrorResponse, options: { url: string; method: string }) {
    super(`${error.message} in "${response.url}"`, 'ERR_BODY_PARSE_FAILURE', options, response, error);
    this.name = 'ParseError';
  }
}

/** The errno-style code got reports for an engine failure, where there is one. */
const GOT_CODES: Partial<Record<string, string>> = {
  ERR_CONNECT_REFUSED: 'ECONNREFUSED',
  ERR_CONNECTION_CLOSED: 'ECONNRESET',
  ERR_DNS: 'ENOTFOUND',
  ERR_PROXY: 'ERR_PROXY_CONNECTION_FAILED',
  ERR_ABORTED: 'ERR_ABORTED',
};

/** The engine's failure of one request as Crawlee's clients report it. */
export function fromEngine(err: CycleTLSError, url: string, method: string): RequestError {
  const options = { url, method };
  if (err.code === 'ERR_TIMEOUT' || err.code === 'ERR_CONNECT_TIMEOUT') {
    return new TimeoutError(`${err.message} (ETIMEDOUT)`, options, err);
  }
  const code = GOT_CODES[err.code];
  const message = code === undefined ? err.message : `${err.message} (${code})`;
  const error = new RequestError(message, code ?? err.code, options, undefined, err);
  if (err.code === 'ERR_ABORTED') error.name = 'AbortError';
  return error;
}
