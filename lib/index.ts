// initCycleTLS: cycletls 2.0.5's call shapes on an in-process engine.
import { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';

import { MemoryCookieJar, jarCookieString, jarStore, withJarCookies } from './cookies';
import type { CookieJarLike } from './cookies';
import { CycleTLSError, errorCodes } from './errors';
import { acquireInstance } from './instance';
import type { ClientState, SharedInstance } from './instance';
import type { HeadEvent, NativeRequestSpec } from './native';
import { loadAddon, nativeBinding } from './native';
import { DEFAULT_MAX_RESPONSE_BYTES, HTTP_METHODS, normalizeInit, normalizeRequest, resolvePendingBody } from './options';
import type { NormalizedInit, NormalizedRequest, PresetCatalog } from './options';
import { bufferedResponse, errorResponse, headerValue, headerValues, streamResponse } from './response';
import { openEventSource } from './event-source';
import { UploadPump } from './upload';
import { openWebSocket } from './websocket';
import type { WebSocketContext } from './websocket';
import type { AdjustRequest } from './event-source';
import type { CycleTLSResponseShape, ResponseMeta } from './response';

export { CycleTLSError, errorCodes, nativeBinding };

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

type ClientFn = ((url: string, options?: object, method?: string) => Promise<CycleTLSResponseShape>) & Record<string, unknown>;

function toSpec(req: NormalizedRequest, streaming: boolean, retryOnHostGone: boolean): NativeRequestSpec {
  const { url } = req;
  const tls = url.protocol === 'https:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const headers: string[] = [];
  for (const [n, v] of req.headers) headers.push(n, v);
  return {
    method: req.method,
    tls,
    host,
    port: url.port ? Number(url.port) : tls ? 443 : 80,
    target: `${url.pathname || '/'}${url.search}`,
    headers,
    body: req.body,
    serverName: req.serverName,
    proxy: req.proxy,
    insecureSkipVerify: req.insecureSkipVerify,
    forceHttp1: req.forceHttp1,
    http1RetryHello: req.http1RetryHello === true ? true : undefined,
    presetHeaders: req.presetHeaders,
    wholeBody: !streaming,
    consumerCredit: streaming,
    decompress: req.decompress,
    maxDecodedBytes: req.maxDecompressedBytes,
    // Streams are not limited: their reader paces what is read ahead.
    maxResponseBytes: streaming ? undefined : req.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    timeoutMs: req.timeoutMs,
    connectTimeoutMs: req.connectTimeoutMs,
    tlsTimeoutMs: req.tlsTimeoutMs,
    headersTimeoutMs: req.headersTimeoutMs,
    bodyIdleTimeoutMs: req.bodyIdleTimeoutMs,
    retryOnHostGone,
    bodyStream: req.bodyStream !== undefined,
    profile: req.profile,
    ja3: req.ja3,
    ja4r: req.ja4r,
    http2Fingerprint: req.http2Fingerprint,
    disableGrease: req.disableGrease,
  };
}

function metaFrom(head: HeadEvent, requestId: string, finalUrl: string, redirects: number): ResponseMeta {
  return {
    requestId,
    status: head.status,
    statusText: head.reason,
    httpVersion: head.httpVersion,
    rawHeaders: head.headers,
    finalUrl,
    protocol: head.alpn || (head.httpVersion === '1.0' ? 'http/1.0' : 'http/1.1'),
    tls: head.tlsVersion ? { version: head.tlsVersion, cipher: head.cipher, alpn: head.alpn } : null,
    connection: { id: head.connectionId, reused: head.reused, tlsResumed: head.tlsResumed },
    redirects,
  };
}

/** An error that happened after the head arrived keeps the head, for the compat response. */
function withMeta(err: CycleTLSError, meta: ResponseMeta | undefined): CycleTLSError {
  if (meta) Object.defineProperty(err, 'responseMeta', { value: meta, enumerable: false });
  return err;
}

interface HopResult { head: HeadEvent; body?: Buffer; stream?: Readable; engineId: number }

/** One HTTP exchange. Buffered: resolves at the end. Streaming: resolves at the head. */
function runHop(instance: SharedInstance, client: ClientState, req: NormalizedRequest, streaming: boolean, retryOnHostGone: boolean): Promise<HopResult> {
  return new Promise<HopResult>((resolve, reject) => {
    let head: HeadEvent | undefined;
    let stream: Readable | undefined;
    let paused = false;
    let sinceResume = 0;  // bytes received since the engine was last told to go on
    let settled = false;
    const chunks: Buffer[] = [];
    let engineId = 0;
    const onAbort = (): void => instance.cancel(engineId);
    const upload = req.bodyStream
      ? new UploadPump((chunk) => instance.write(engineId, chunk), () => instance.cancel(engineId))
      : undefined;
    const cleanup = (): void => {
      upload?.stop();
      req.signal?.removeEventListener('abort', onAbort);
    };

    const handlers = {
      head(event: HeadEvent): void {
        head = event;
        if (!streaming) return;
        stream = new Readable({
          read(): void {
            // Every pull tells the engine to go on: it stops itself after consumerCreditBytes unasked for.
            if (paused || sinceResume > 0) { paused = false; sinceResume = 0; instance.pause(engineId, false); }
          },
          destroy(err, callback): void {
            // Destroying the stream before its end cancels the request.
            if (!stream?.readableEnded) instance.cancel(engineId);
            callback(err);
          },
        });
        settled = true;
        resolve({ head: event, stream, engineId });
      },
      body(chunk: Buffer): void {
        if (stream) {
          sinceResume += chunk.length;
          if (!stream.push(chunk) && !paused) { paused = true; instance.pause(engineId, true); }
        } else {
          chunks.push(chunk);
        }
      },
      end(): void {
        cleanup();
        if (stream) { stream.push(null); return; }
        settled = true;
        resolve({ head: head as HeadEvent, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), engineId });
      },
      error(engineError: CycleTLSError): void {
        cleanup();
        // The upload's own failure (its source threw, or broke its length) is what ended it.
        const err = upload?.failure ?? engineError;
        if (stream) {
          stream.destroy(err as Error);
          return;
        }
        if (settled) return;
        settled = true;
        reject(err instanceof CycleTLSError ? withMeta(err, head ? metaFrom(head, '', req.url.href, 0) : undefined) : err);
      },
      sent(bytes: number): void {
        upload?.sent(bytes);
      },
    };
    if (req.signal?.aborted) {
      reject(new CycleTLSError('ERR_ABORTED', 'the request was aborted', 'queue'));
      return;
    }
    try {
      engineId = instance.submit(client, toSpec(req, streaming, retryOnHostGone), handlers);
    } catch (err) {
      reject(err);
      return;
    }
    req.signal?.addEventListener('abort', onAbort, { once: true });
    if (upload && req.bodyStream) void upload.run(req.bodyStream, req.declaredLength);
  });
}

let catalog: PresetCatalog | undefined;
/** The presets the addon carries, with their default headers (read once, then cached). */
function presets(): PresetCatalog {
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

/** 301/302 turn POST into GET (as browsers do); 303 turns everything but HEAD into GET. */
function redirectDropsBody(status: number, method: string): boolean {
  return (status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST');
}

function nextHop(req: NormalizedRequest, status: number, location: string): NormalizedRequest {
  let url: URL;
  try {
    url = new URL(location, req.url);
  } catch {
    throw new CycleTLSError('ERR_PROTOCOL', `invalid redirect location ${JSON.stringify(location)}`, 'redirect');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CycleTLSError('ERR_PROTOCOL', `cannot follow a redirect to ${url.protocol}`, 'redirect');
  }
  url.hash = '';
  let { method, body, headers } = req;
  if (redirectDropsBody(status, method)) {
    method = 'GET';
    body = undefined;
    headers = headers.filter(([n]) => !['content-length', 'content-type', 'transfer-encoding'].includes(n.toLowerCase()));
  }
  if (url.origin !== req.url.origin) {
    // Credentials and a caller's Host override belong to the origin they were meant for: scheme,
    // host and port (as browsers and curl decide), so https → http on one port drops them too.
    // Proxy-Authorization as well: a scheme change moves the request from the proxy (absolute-form)
    // into a tunnel, where the header would reach the origin server. The jar's cookies are chosen
    // again for the new URL.
    headers = headers.filter(([n]) => !['authorization', 'cookie', 'host', 'proxy-authorization'].includes(n.toLowerCase()));
  }
  // The SNI override was given for one host; another host gets its own name.
  const serverName = url.hostname === req.url.hostname ? req.serverName : undefined;
  return { ...req, url, method, body, bodyStream: undefined, declaredLength: undefined, headers, serverName };
}

async function perform(instance: SharedInstance, client: ClientState, init: NormalizedInit,
  url: unknown, options: unknown, method: unknown, adjust?: AdjustRequest): Promise<CycleTLSResponseShape> {
  // Misuse and unreadable bodies (a stream that errors) reject; they are not network outcomes.
  const normalized = await resolvePendingBody(normalizeRequest(url, options, method, presets()));
  const adjusted = adjust ? adjust(normalized) : normalized;
  const req = adjusted.maxResponseBytes === undefined ? { ...adjusted, maxResponseBytes: init.maxResponseBytes } : adjusted;
  // The caller's jar, else one for this redirect chain only, made when a hop sets a cookie.
  let jar: CookieJarLike | undefined = req.cookieJar ?? init.cookieJar;
  const requestId = `${client.id}:${client.nextSeq++}`;
  const rejectOnError = req.rejectOnError ?? init.rejectOnError;
  const streaming = req.responseType === 'stream';
  let current = req;
  let redirects = 0;
  try {
    for (;;) {
      const fromJar = jar ? await jarCookieString(jar, current.url.href) : '';
      const sent = fromJar === '' ? current : { ...current, headers: withJarCookies(current.headers, fromJar) };
      const hop = await runHop(instance, client, sent, streaming, init.retryOnHostGone);
      const { head } = hop;
      const setCookies = headerValues(head.headers, 'set-cookie');
      if (setCookies.length) {
        jar ??= new MemoryCookieJar();
        await jarStore(jar, current.url.href, setCookies);
      }
      const location = headerValue(head.headers, 'location');
      // A hop that keeps the body would have to send it again, which a streamed body cannot: the
      // redirect is then the response.
      const replayImpossible = current.bodyStream !== undefined && !redirectDropsBody(head.status, current.method);
      if (!req.disableRedirect && REDIRECT_STATUSES.has(head.status) && location !== undefined && !replayImpossible) {
        if (redirects >= req.maxRedirects) {
          hop.stream?.destroy();
          throw new CycleTLSError('ERR_TOO_MANY_REDIRECTS', `stopped after ${req.maxRedirects} redirects`, 'redirect');
        }
        if (hop.stream) {
          // Drain the redirect's body so its connection can be reused; its errors are moot.
          hop.stream.on('error', () => {}).resume();
        }
        current = nextHop(current, head.status, location);
        redirects++;
        continue;
      }
      const meta = metaFrom(head, requestId, current.url.href, redirects);
      if (hop.stream) return streamResponse(meta, hop.stream);
      return bufferedResponse(meta, hop.body as Buffer, req.responseType);
    }
  } catch (err) {
    // Misuse (bad options, unimplemented features) always rejects; only network outcomes resolve.
    if (!(err instanceof CycleTLSError) || rejectOnError || err.code === 'ERR_NOT_IMPLEMENTED' ||
        err.code === 'ERR_INVALID_OPTION' || err.code === 'ERR_UNSUPPORTED_FINGERPRINT') throw err;
    const meta = (err as CycleTLSError & { responseMeta?: ResponseMeta }).responseMeta;
    const failed = { method: current.method, url: current.url.href, proxy: current.proxy };
    return errorResponse(err, failed, requestId, meta ? { ...meta, requestId, redirects } : undefined);
  }
}

async function initCycleTLS(initOptions?: unknown): Promise<ClientFn> {
  const init = normalizeInit(initOptions);
  loadAddon();
  const instance = acquireInstance(init.port, init.share, init.engine);
  await instance.ready;
  const client = instance.addClient(init.clientLimits);
  const request = (url: unknown, options?: unknown, method: unknown = 'get'): Promise<CycleTLSResponseShape> =>
    perform(instance, client, init, url, options, method);
  const fn = ((url: string, options?: object, method?: string) => request(url, options, method ?? 'get')) as ClientFn;
  for (const m of HTTP_METHODS) fn[m] = (url: unknown, options?: unknown) => request(url, options, m);
  const wsContext: WebSocketContext = {
    instance,
    client,
    presets: presets(),
    cookieJar: init.cookieJar,
    rejectOnError: init.rejectOnError,
    requestId: () => `${client.id}:${client.nextSeq++}`,
    toSpec: (req) => toSpec(req, true, false),
    meta: (head, id, finalUrl) => metaFrom(head, id, finalUrl, 0),
  };
  fn.ws = (url: unknown, options?: unknown) => openWebSocket(wsContext, url, options);
  fn.webSocket = fn.ws;
  fn.sse = (url: unknown, options?: unknown) =>
    openEventSource((u, o, adjust) => perform(instance, client, init, u, o, 'get', adjust), url, options, init);
  fn.eventSource = fn.sse;
  fn.exit = async (): Promise<undefined> => {
    await instance.removeClient(client);
    return undefined;
  };
  fn.close = async (options?: unknown): Promise<undefined> => {
    let graceMs = 0;
    if (options !== undefined && options !== null) {
      const g = typeof options === 'object' ? (options as { graceMs?: unknown }).graceMs : options;
      if (g !== undefined && (typeof g !== 'number' || !Number.isFinite(g) || g < 0)) {
        throw new CycleTLSError('ERR_INVALID_OPTION', `option "graceMs" must be a non-negative number of milliseconds, got ${String(g)}`, 'options');
      }
      graceMs = (g as number | undefined) ?? 0;
    }
    await instance.drainClient(client, graceMs);
    return undefined;
  };
  fn.stats = () => {
    const { share, ...engine } = instance.stats();
    return {
      clientId: client.id,
      port: instance.port,
      role: share ? (share.role === 'host' || share.role === 'client' ? share.role : share.role === 'electing' ? 'electing' : 'stopped') : 'local',
      requestsPending: client.pending.size,
      engine: { ...engine, reuseRatio: engine.exchanges > 0 ? engine.exchangesReused / engine.exchanges : 0 },
      origins: instance.originStats(),
      link: share ? {
        state: share.link,
        streamsInFlight: share.streamsInFlight,
        waitingForHost: share.pending,
        elections: share.elections,
        reconnects: share.reconnects,
        retried: share.retried,
        hostGone: share.hostGone,
        hostPid: share.hostPid,
        peersOpen: share.peersOpen,
        peersAccepted: share.peersAccepted,
        peersRefused: share.peersRefused,
      } : null,
    };
  };
  fn.clientId = client.id;
  return fn;
}

// cycletls's module shape: require(), require().default and an ESM default import all work.
const exported = Object.assign(initCycleTLS, {
  default: initCycleTLS,
  initCycleTLS,
  CycleTLSError,
  errorCodes,
  nativeBinding,
  __esModule: true as const,
});
export default initCycleTLS;
module.exports = exported;
