// ws()/webSocket(): a WebSocket over the engine's fingerprinted TLS (through the caller's proxy, if
// any). The engine sends the browser family's upgrade request on an HTTP/1.1 connection of its own
// and, on a 101, turns the connection into a byte pipe; lib/ws-protocol/ speaks the protocol over it.
// Firefox presets go as Firefox does (RequestSpec::websocket_over_http2): its normal ALPN offer; an
// HTTP/2 server with RFC 8441 gets an extended CONNECT stream whose DATA is the pipe (a 200 opens
// it); one without gets a new HTTP/1.1-only connection.
import { Buffer } from 'node:buffer';

import type { CookieJarLike } from './cookies';
import type { ResolvedName } from './dns';
import { CycleTLSError, invalidOption } from './errors';
import { CookieLoop, Exchange, responseMeta, toSpec } from './exchange';
import { settleFailure, settleRefusal } from './failure';
import { presetCatalog, presetValue, withPresetUserAgent } from './headers';
import type { NormalizedInit } from './init-options';
import type { ClientState, SharedInstance } from './instance';
import type { HeadEvent } from './native';
import { normalizeRequest } from './options';
import type { ConnectionPolicy } from './connection-policy';
import type { NormalizedRequest } from './options';
import { resolveHop } from './request';
import { unreadableResponse } from './response';
import type { CycleTLSResponseShape } from './response';
import {
  WebSocketSession,
  createKey,
  handshakeHeaders,
  offeredProtocols,
  verifyHandshake,
} from './ws-protocol';
import type { BrowserFamily, WsMessage } from './ws-protocol';

/** What ws() takes from the client it belongs to. */
export interface WebSocketContext {
  instance: SharedInstance;
  client: ClientState;
  cookieJar: CookieJarLike | undefined;
  rejectOnError: boolean;
  /** The client's options: its `lookup` / `dnsOverHttps` default resolves the upgrade's host. */
  init: NormalizedInit;
  requestId(): string;
  /** The client's identity and rotation defaults (initCycleTLS's). */
  connection?: ConnectionPolicy;
}

export interface WebSocketResponseShape extends CycleTLSResponseShape {
  send(
    data: string | Buffer | ArrayBuffer | SharedArrayBuffer | ArrayBufferView,
    isBinary?: boolean,
  ): Promise<void>;
  close(code?: number, reason?: string): Promise<void>;
  ping(data?: Buffer | string): Promise<void>;
  pong(data?: Buffer | string): Promise<void>;
  terminate(): void;
  onMessage(cb: (m: WsMessage) => void): void;
  onClose(cb: (code: number, reason: string) => void): void;
  onError(cb: (err: Error) => void): void;
  onPing(cb: (data: Buffer) => void): void;
  onPong(cb: (data: Buffer) => void): void;
  messages(): AsyncIterableIterator<WsMessage>;
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly subprotocol: string;
  readonly extensions: string;
}

// Options of ws() beyond a request's; taken out before the rest is validated as a request.
const WS_ONLY = [
  'protocols',
  'origin',
  'perMessageDeflate',
  'maxPayload',
  'fragmentSize',
  'closeTimeoutMs',
] as const;
// What an upgrade request cannot carry or does itself.
const NOT_FOR_UPGRADE = [
  'protocol',
  'body',
  'bodyBytes',
  'responseType',
  'disableRedirect',
  'maxRedirects',
  'decompress',
  'maxDecompressedBytes',
  'maxResponseBytes',
  'forceHTTP1',
  'bufferBody',
  'headers',
  'orderAsProvided',
  'headerOrder',
] as const;
const ERROR_BODY_LIMIT = 64 * 1024;
// After the session ended the pipe, how long the engine has to flush and close before it is cut.
const END_GRACE_MS = 2000;

function familyOf(profile: string): BrowserFamily {
  if (profile.startsWith('firefox')) return 'firefox';
  if (profile.startsWith('safari')) return 'safari';
  return 'chrome';
}

function optNumber(o: Record<string, unknown>, key: string, min: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
    throw invalidOption(`option "${key}" must be a number ≥ ${min}, got ${String(v)}`);
  return v;
}

/** The session's API on a response object, its live getters included. */
function withSession(res: CycleTLSResponseShape, session: WebSocketSession): WebSocketResponseShape {
  const out = {
    ...res,
    send: (data: string | Buffer | ArrayBuffer | ArrayBufferView, isBinary?: boolean) =>
      session.send(data, isBinary),
    close: (code?: number, reason?: string) => session.close(code, reason),
    ping: (data?: Buffer | string) => session.ping(data),
    pong: (data?: Buffer | string) => session.pong(data),
    terminate: () => session.terminate(),
    onMessage: (cb: (m: WsMessage) => void) => session.onMessage(cb),
    onClose: (cb: (code: number, reason: string) => void) => session.onClose(cb),
    onError: (cb: (err: Error) => void) => session.onError(cb),
    onPing: (cb: (data: Buffer) => void) => session.onPing(cb),
    onPong: (cb: (data: Buffer) => void) => session.onPong(cb),
    messages: () => session.messages(),
  };
  Object.defineProperties(out, {
    readyState: { get: () => session.readyState, enumerable: true },
    bufferedAmount: { get: () => session.bufferedAmount, enumerable: true },
    subprotocol: { get: () => session.protocol, enumerable: true },
    extensions: { get: () => session.extensions, enumerable: true },
  });
  return out as WebSocketResponseShape;
}

/** A session that never opened: send() rejects, onError/onClose hear why. */
function deadSession(err: Error): WebSocketSession {
  const session = new WebSocketSession({ write() {}, writableLength: () => 0, end() {}, pause() {} });
  session.transportFailed(err);
  return session;
}

/**
 * Opens a WebSocket. Resolves once it is open (the 101 verified). A failure before that — the
 * network, the TLS handshake, a refused or invalid upgrade — resolves in cycletls's way (status,
 * headers, up to 64 KiB of a refusal's body as `data`, `error`) with a closed socket whose onError
 * and onClose(1006) report it, or rejects under rejectOnError.
 */
export async function openWebSocket(
  ctx: WebSocketContext,
  url: unknown,
  options: unknown,
): Promise<WebSocketResponseShape> {
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
    throw invalidOption('request options must be an object');
  }
  const o = { ...(options ?? {}) } as Record<string, unknown>;
  const rawUrl = o.url !== undefined && o.url !== null ? o.url : url;
  const href = rawUrl instanceof URL ? rawUrl.href : rawUrl;
  if (typeof href !== 'string')
    throw invalidOption(`url must be a string, got ${href === null ? 'null' : typeof href}`);
  let wsUrl: URL;
  try {
    wsUrl = new URL(href);
  } catch {
    throw invalidOption(`Invalid URL: ${href.length > 200 ? `${href.slice(0, 200)}…` : href}`);
  }
  if (wsUrl.protocol === 'http:' || wsUrl.protocol === 'https:')
    wsUrl = new URL(`ws${wsUrl.protocol === 'https:' ? 's' : ''}:${href.slice(wsUrl.protocol.length)}`);
  if (wsUrl.protocol !== 'ws:' && wsUrl.protocol !== 'wss:')
    throw invalidOption(`a WebSocket URL must be ws:, wss:, http: or https:, got ${wsUrl.protocol}`);
  wsUrl.hash = '';
  if (o.protocol !== undefined && o.protocol !== null && o.protocol !== 'websocket') {
    throw invalidOption(
      `option "protocol" of ws() can only be "websocket", got ${JSON.stringify(o.protocol)}`,
    );
  }

  const protocols = o.protocols;
  if (
    protocols !== undefined &&
    protocols !== null &&
    (!Array.isArray(protocols) || !protocols.every((p) => typeof p === 'string'))
  ) {
    throw invalidOption('option "protocols" must be an array of strings');
  }
  const origin = o.origin;
  if (origin !== undefined && origin !== null && typeof origin !== 'string')
    throw invalidOption('option "origin" must be a string');
  const perMessageDeflate =
    o.perMessageDeflate === undefined || o.perMessageDeflate === null ? true : o.perMessageDeflate;
  if (typeof perMessageDeflate !== 'boolean')
    throw invalidOption('option "perMessageDeflate" must be a boolean');
  const sessionOptions = {
    maxPayload: optNumber(o, 'maxPayload', 1),
    fragmentSize: optNumber(o, 'fragmentSize', 0),
    closeTimeoutMs: optNumber(o, 'closeTimeoutMs', 0),
  };
  // cycletls sent options.body as the first text message once connected.
  const firstMessage = typeof o.body === 'string' && o.body !== '' ? o.body : undefined;
  const rawHeaders = o.headers;
  const userAgentGiven =
    (typeof o.userAgent === 'string' && o.userAgent !== '') ||
    (typeof rawHeaders === 'object' &&
      rawHeaders !== null &&
      Object.keys(rawHeaders).some((n) => n.toLowerCase() === 'user-agent'));
  for (const key of [...WS_ONLY, ...NOT_FOR_UPGRADE]) delete o[key];

  // Validated as a request (proxy, fingerprint, cookies, timeouts, userAgent…) with the caller's
  // headers as given: the upgrade's own header list is built below, in the browser's order.
  const httpUrl = new URL(wsUrl.href.replace(/^ws/, 'http'));
  const presets = presetCatalog();
  const base = normalizeRequest(
    httpUrl.href,
    { ...o, headers: rawHeaders, forceHTTP1: true, orderAsProvided: true },
    'get',
    presets,
  );
  const cookies = new CookieLoop((o.cookieJar as CookieJarLike | undefined) ?? ctx.cookieJar, false);
  const extra = await cookies.headersFor(
    httpUrl.href,
    userAgentGiven ? base.headers : withPresetUserAgent(base.headers, presets, base.profile),
  );
  const family = familyOf(base.profile);
  const key = createKey();
  const offered = offeredProtocols({ protocols: (protocols as string[] | undefined) ?? undefined, extra });
  const headers = handshakeHeaders(family, wsUrl, {
    key,
    origin: (origin as string | undefined) ?? undefined,
    protocols: offered,
    perMessageDeflate,
    acceptLanguage: presetValue(presets, base.profile, 'accept-language'),
    extra: extra.filter(([n]) => n.toLowerCase() !== 'sec-websocket-protocol'),
  });
  // Firefox lets ALPN decide (the engine falls back to HTTP/1.1 itself); the others ask for HTTP/1.1.
  const req: NormalizedRequest = {
    ...base,
    headers,
    body: undefined,
    bodyStream: undefined,
    presetHeaders: false,
    decompress: false,
    forceHttp1: family !== 'firefox',
  };
  const requestId = ctx.requestId();
  const rejectOnError = base.rejectOnError ?? ctx.rejectOnError;

  let resolved: Awaited<ReturnType<typeof resolveHop>>;
  try {
    resolved = await resolveHop(ctx.instance, ctx.client, req, ctx.init);
  } catch (err) {
    const failure = err instanceof CycleTLSError ? err : new CycleTLSError('ERR_DNS', String(err), 'dns');
    return withSession(
      settleFailure(failure, rejectOnError, { method: 'GET', url: wsUrl.href, proxy: req.proxy }, requestId),
      deadSession(failure),
    );
  }
  const outcome = await upgrade(
    ctx,
    resolved.req,
    key,
    offered,
    perMessageDeflate,
    family,
    sessionOptions,
    resolved.dns,
  );
  if ('session' in outcome) {
    await cookies.store(httpUrl.href, outcome.head.headers);
    const meta = responseMeta(outcome.head, requestId, wsUrl.href, 0);
    if (firstMessage !== undefined) outcome.session.send(firstMessage).catch(() => undefined);
    return withSession(
      unreadableResponse(meta, 'a WebSocket is read with onMessage() or messages(), not as a body'),
      outcome.session,
    );
  }
  const { error, head, body } = outcome;
  if (head) {
    return withSession(
      settleRefusal(
        error,
        rejectOnError,
        responseMeta(head, requestId, wsUrl.href, 0),
        body ?? Buffer.alloc(0),
      ),
      deadSession(error),
    );
  }
  return withSession(
    settleFailure(error, rejectOnError, { method: 'GET', url: wsUrl.href, proxy: req.proxy }, requestId),
    deadSession(error),
  );
}

type UpgradeOutcome =
  { session: WebSocketSession; head: HeadEvent } | { error: CycleTLSError; head?: HeadEvent; body?: Buffer };

/** Sends the upgrade and, on a valid 101, runs a session over the engine's pipe. */
function upgrade(
  ctx: WebSocketContext,
  req: NormalizedRequest,
  key: string,
  offered: string[],
  perMessageDeflate: boolean,
  family: BrowserFamily,
  sessionOptions: { maxPayload?: number; fragmentSize?: number; closeTimeoutMs?: number },
  dns: ResolvedName | undefined,
): Promise<UpgradeOutcome> {
  return new Promise<UpgradeOutcome>((resolve) => {
    const exchange = new Exchange(ctx.instance, ctx.client, req);
    let session: WebSocketSession | undefined;
    let refusal: { head: HeadEvent; chunks: Buffer[]; size: number; expected: number } | undefined;
    let outstanding = 0; // written to the engine, not yet reported sent
    let ending = false; // we ended the pipe: the engine's close is expected
    let endTimer: NodeJS.Timeout | undefined;

    const transport = {
      write(chunk: Buffer): void {
        outstanding += chunk.length;
        exchange.write(chunk);
      },
      writeMasked(header: Buffer, payload: Buffer): void {
        outstanding += header.length + payload.length;
        exchange.writeMasked(header, payload);
      },
      writableLength: (): number => outstanding,
      end(): void {
        if (ending) return;
        ending = true;
        exchange.write(null); // the engine closes once what was written went out
        endTimer = setTimeout(() => exchange.cancel(), END_GRACE_MS);
        endTimer.unref?.();
      },
      destroy(): void {
        ending = true;
        exchange.cancel();
      },
      // The session's reader is behind: stop telling the engine to go on (it stops within its credit).
      pause(paused: boolean): void {
        if (paused) exchange.hold(false);
        else exchange.want();
      },
    };
    const refusedOutcome = (r: NonNullable<typeof refusal>): UpgradeOutcome => ({
      error: refused(r.head.status, r.expected),
      head: r.head,
      body: Buffer.concat(r.chunks).subarray(0, ERROR_BODY_LIMIT),
    });

    const events = {
      head(event: HeadEvent): void {
        // Firefox presets may get an HTTP/2 extended CONNECT stream (RFC 8441): a 200 opens it.
        const overHttp2 = event.alpn === 'h2';
        const expected = overHttp2 ? 200 : 101;
        if (event.status !== expected) {
          refusal = { head: event, chunks: [], size: 0, expected };
          return;
        }
        let result;
        try {
          result = verifyHandshake(event.status, event.headers, {
            key,
            protocols: offered,
            perMessageDeflate,
            family,
            overHttp2,
          });
        } catch (err) {
          ending = true;
          exchange.cancel();
          resolve({ error: err as CycleTLSError, head: event });
          return;
        }
        session = new WebSocketSession(transport, {
          protocol: result.protocol,
          extensions: result.extensions,
          deflate: result.deflate,
          ...sessionOptions,
        });
        resolve({ session, head: event });
      },
      body(chunk: Buffer): void {
        if (refusal) {
          refusal.chunks.push(chunk);
          refusal.size += chunk.length;
          // Enough of a refusal to show: the rest is not worth the wait.
          if (refusal.size >= ERROR_BODY_LIMIT) exchange.cancel();
          return;
        }
        exchange.tookAndTopUp(chunk.length);
        session?.receive(chunk);
      },
      sent(bytes: number): void {
        outstanding -= bytes;
        session?.drained();
      },
      end(): void {
        if (endTimer) clearTimeout(endTimer);
        if (refusal) {
          resolve(refusedOutcome(refusal));
          return;
        }
        session?.transportEnded();
      },
      failed(err: unknown): void {
        if (endTimer) clearTimeout(endTimer);
        if (refusal) {
          resolve(refusedOutcome(refusal));
          return;
        }
        if (!session) {
          resolve({ error: err as CycleTLSError });
          return;
        }
        if (ending) session.transportEnded();
        else session.transportFailed(err as CycleTLSError);
      },
    };
    try {
      // Firefox opens its WebSockets with its normal ALPN offer (h2, http/1.1) and runs them over
      // HTTP/2 when the server allows RFC 8441; Chrome and Safari offer http/1.1 only.
      exchange.start(
        {
          ...toSpec(req, true, false, undefined, undefined, ctx.connection, ctx.init, dns),
          upgrade: true,
          websocketOverHttp2: family === 'firefox',
          bodyStream: true,
          consumerCredit: true,
          wholeBody: false,
          retryOnHostGone: false,
        },
        events,
        'the WebSocket was aborted',
      );
    } catch (err) {
      resolve({
        error:
          err instanceof CycleTLSError
            ? err
            : new CycleTLSError('ERR_INVALID_OPTION', String(err), 'options'),
      });
    }
  });
}

function refused(status: number, expected: number): CycleTLSError {
  return new CycleTLSError(
    'ERR_PROTOCOL',
    `the server did not switch to the WebSocket protocol: it answered ${status} instead of ${expected}`,
    'headers',
  );
}
