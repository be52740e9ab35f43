'use strict';
// Unit tests of lib/failure.ts, the one place that decides whether a failure rejects or resolves and
// that builds the cycletls-shaped response of one that resolves.
const { Buffer } = require('node:buffer');

const { CycleTLSError } = require('../../dist/errors');
const { fromResolved, rejects, settleFailure, settleRefusal, withMeta } = require('../../dist/failure');

const REQ = { method: 'GET', url: 'https://example.test/x' };
const HEAD = {
  requestId: '',
  status: 200,
  statusText: 'OK',
  httpVersion: '1.1',
  rawHeaders: ['content-type', 'text/plain'],
  finalUrl: 'https://example.test/x',
  protocol: 'http/1.1',
  tls: null,
  connection: { id: 2, reused: false, tlsResumed: false },
  redirects: 0,
};

test('misuse and anything not a CycleTLSError reject; network failures resolve unless rejectOnError', () => {
  for (const code of ['ERR_INVALID_OPTION', 'ERR_UNSUPPORTED_FINGERPRINT', 'ERR_NOT_IMPLEMENTED']) {
    expect(rejects(new CycleTLSError(code, 'm', 'options'), false)).toBe(true);
  }
  expect(rejects(new TypeError('bad'), false)).toBe(true);
  const timeout = new CycleTLSError('ERR_TIMEOUT', 'slow', 'headers');
  expect(rejects(timeout, false)).toBe(false);
  expect(rejects(timeout, true)).toBe(true);
});

test("settleFailure throws what rejects and resolves the rest in cycletls's shape", () => {
  const misuse = new CycleTLSError('ERR_INVALID_OPTION', 'no', 'options');
  expect(() => settleFailure(misuse, false, REQ, '1:1')).toThrow(misuse);
  const res = settleFailure(new CycleTLSError('ERR_TIMEOUT', 'slow', 'headers'), false, REQ, '1:1');
  expect(res.status).toBe(408);
  expect(res.error).toEqual({ code: 'ERR_TIMEOUT', stage: 'headers', message: 'slow' });
  expect(res.finalUrl).toBe(REQ.url);
  expect(res.requestId).toBe('1:1');
});

test("a failure after the head resolves with that head, the request's id and its redirects", () => {
  const err = withMeta(new CycleTLSError('ERR_BODY_TRUNCATED', 'cut', 'body'), HEAD);
  const res = settleFailure(err, false, REQ, '1:2', { requestId: '1:2', redirects: 3 });
  expect(res.rawHeaders).toEqual(HEAD.rawHeaders);
  expect(res.headers).toEqual({ 'Content-Type': ['text/plain'] });
  expect(res.redirects).toBe(3);
  expect(res.connection.id).toBe(2);
  expect(res.error.code).toBe('ERR_BODY_TRUNCATED');
});

test("a refusal resolves with the server's own status and body, the error alongside (or rejects)", async () => {
  const err = new CycleTLSError('ERR_PROTOCOL', 'not switched', 'headers');
  expect(() => settleRefusal(err, true, { ...HEAD, status: 403 }, Buffer.from('go away'))).toThrow(err);
  const res = settleRefusal(err, false, { ...HEAD, status: 403 }, Buffer.from('go away'));
  expect(res.status).toBe(403);
  expect(res.data).toBe('go away');
  expect(await res.text()).toBe('go away');
  expect(res.error.code).toBe('ERR_PROTOCOL');
});

test('fromResolved gives back the CycleTLSError a resolved response carries', () => {
  const err = fromResolved({ code: 'ERR_DNS', stage: 'dns', message: 'no such host' });
  expect(err).toBeInstanceOf(CycleTLSError);
  expect(err.toJSON()).toEqual({ code: 'ERR_DNS', stage: 'dns', message: 'no such host' });
  expect(err.retryable).toBe(true);
});
