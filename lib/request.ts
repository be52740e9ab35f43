// A request as cycletls made it: validated, sent hop by hop through redirects with the jar's
// cookies, and settled as a buffered or streamed response, or as a failure (lib/failure.ts).
import { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';

import { CycleTLSError } from './errors';
import { CookieLoop, Exchange, mayStoreCookies, responseMeta, toSpec } from './exchange';
import type { ExchangeEvents } from './exchange';
import { settleFailure, withMeta } from './failure';
import { presetCatalog, redirectHeaders } from './headers';
import type { ClientState, SharedInstance } from './instance';
import type { HeadEvent } from './native';
import type { NormalizedInit } from './init-options';
import { DohCache, lookupWith, resolvesHere, urlHost } from './dns';
import type { DnsDeadline, DohReply, DohSend, ResolvedName } from './dns';
import { DEFAULT_TIMEOUT_SECONDS, normalizeRequest, resolvePendingBody } from './options';
import type { NormalizedRequest } from './options';
import { bufferedResponse, headerValue, streamResponse } from './response';
import type { CycleTLSResponseShape } from './response';

/** A change sse() makes to a request once it is validated (streaming, its deadlines). */
export type AdjustRequest = (req: NormalizedRequest) => NormalizedRequest;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

interface HopResult {
  head: HeadEvent;
  body?: Buffer;
  stream?: Readable;
}

type Settle = (hop: HopResult) => void;
type Fail = (err: unknown) => void;

/**
 * A buffered hop's events (most requests): the body gathered, the promise settled at the end. One
 * object with its methods on the prototype, where a hop used to make an events object of closures.
 */
class BufferedHop implements ExchangeEvents {
  private headEvent: HeadEvent | undefined;
  /** The body: its one burst (a buffered response mostly has one), or every burst once there are more. */
  private bursts: Buffer | Buffer[] | undefined;
  private settled = false;

  constructor(
    private readonly req: NormalizedRequest,
    private readonly resolve: Settle,
    private readonly reject: Fail,
  ) {}

  head(event: HeadEvent): void {
    this.headEvent = event;
  }

  body(chunk: Buffer): void {
    const { bursts } = this;
    if (bursts === undefined) this.bursts = chunk;
    else if (Buffer.isBuffer(bursts)) this.bursts = [bursts, chunk];
    else bursts.push(chunk);
  }

  end(): void {
    this.settled = true;
    const { bursts } = this;
    const body =
      bursts === undefined ? Buffer.alloc(0) : Buffer.isBuffer(bursts) ? bursts : Buffer.concat(bursts);
    this.resolve({ head: this.headEvent as HeadEvent, body });
  }

  failed(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    const head = this.headEvent;
    this.reject(
      err instanceof CycleTLSError
        ? withMeta(err, head ? responseMeta(head, '', this.req.url.href, 0) : undefined)
        : err,
    );
  }
}

/** A streamed hop's events: resolves at the head with a Readable the body is pushed into. */
function streamedHop(
  exchange: Exchange,
  req: NormalizedRequest,
  resolve: Settle,
  reject: Fail,
): ExchangeEvents {
  let head: HeadEvent | undefined;
  let stream: Readable | undefined;
  return {
    head(event: HeadEvent): void {
      head = event;
      stream = new Readable({
        // Every pull tells the engine to go on: it stops itself after consumerCreditBytes unasked for.
        read: () => exchange.want(),
        destroy(err, callback): void {
          // Destroying the stream before its end cancels the request.
          if (!stream?.readableEnded) exchange.cancel();
          // As Node's own response bodies (http.IncomingMessage): the error is emitted only when
          // somebody listens for it (pipeline, for await, on('error')). A body nobody reads, cut
          // short by exit() or the server, closes; it never crashes the process.
          callback(stream !== undefined && stream.listenerCount('error') === 0 ? null : err);
        },
      });
      resolve({ head: event, stream });
    },
    body(chunk: Buffer): void {
      if (!stream) return;
      exchange.took(chunk.length);
      if (!stream.push(chunk)) exchange.hold(true);
    },
    end(): void {
      stream?.push(null);
    },
    failed(err: unknown): void {
      if (stream) {
        stream.destroy(err as Error);
        return;
      }
      reject(
        err instanceof CycleTLSError
          ? withMeta(err, head ? responseMeta(head, '', req.url.href, 0) : undefined)
          : err,
      );
    },
  };
}

/** One HTTP exchange. Buffered: resolves at the end. Streaming: resolves at the head. */
function runHop(
  instance: SharedInstance,
  client: ClientState,
  req: NormalizedRequest,
  streaming: boolean,
  init: NormalizedInit,
  dns?: ResolvedName,
): Promise<HopResult> {
  return new Promise<HopResult>((resolve, reject) => {
    const exchange = new Exchange(instance, client, req);
    const events = streaming
      ? streamedHop(exchange, req, resolve, reject)
      : new BufferedHop(req, resolve, reject);
    try {
      exchange.start(
        toSpec(
          req,
          streaming,
          init.retryOnHostGone,
          init.maxResponseBytes,
          init.http3,
          init.connection,
          init,
          dns,
        ),
        events,
        'the request was aborted',
      );
    } catch (err) {
      reject(err);
    }
  });
}

// Each client's DNS-over-HTTPS answers (lib/dns.ts), for as long as the client lives.
const dohCaches = new WeakMap<ClientState, DohCache>();

/** Whether the hop's host is the caller's to resolve (`lookup` or DNS over HTTPS; no proxy; a name). */
export function callerResolves(req: NormalizedRequest, init: NormalizedInit): boolean {
  return resolvesHere(req.dns ?? init.dns, req.url, req.proxy);
}

/**
 * The hop's host resolved by the caller's `lookup` or DNS over HTTPS, when one applies (no proxy,
 * a name): the answer, and the request with its deadlines shortened by the time it took (the
 * engine's clocks start at the spec). Otherwise nothing: the engine resolves.
 */
export async function resolveHop(
  instance: SharedInstance,
  client: ClientState,
  req: NormalizedRequest,
  init: NormalizedInit,
): Promise<{ req: NormalizedRequest; dns?: ResolvedName }> {
  const choice = req.dns ?? init.dns;
  if (!resolvesHere(choice, req.url, req.proxy)) return { req };
  const host = urlHost(req.url);
  const started = Date.now();
  const connect = req.connectTimeoutMs;
  const deadline: DnsDeadline =
    connect !== undefined && connect > 0 && (req.timeoutMs <= 0 || connect <= req.timeoutMs)
      ? { ms: connect, code: 'ERR_CONNECT_TIMEOUT' }
      : { ms: req.timeoutMs > 0 ? req.timeoutMs : DEFAULT_TIMEOUT_SECONDS * 1000, code: 'ERR_TIMEOUT' };
  let asked: Promise<ResolvedName>;
  if ('lookup' in choice) {
    asked = lookupWith(choice.lookup, host, deadline);
  } else {
    let cache = dohCaches.get(client);
    if (!cache) dohCaches.set(client, (cache = new DohCache()));
    // The identity the request belongs to partitions the cache: a shared answer's timing could link
    // two identities.
    const partition = req.connection.identity ?? init.connection.identity ?? '';
    const send: DohSend = (url) => sendDoh(instance, client, init, req, url);
    asked = cache.resolve(choice.dnsOverHttps, partition, host, send, deadline);
  }
  const dns = await abortable(asked, req.signal);
  // What DNS took comes off the request's own deadlines (never below 1 ms: 0 means none).
  const spent = Date.now() - started;
  const less = (ms: number | undefined): number | undefined =>
    ms !== undefined && ms > 0 ? Math.max(1, ms - spent) : ms;
  return {
    req: {
      ...req,
      timeoutMs: less(req.timeoutMs) ?? req.timeoutMs,
      connectTimeoutMs: less(req.connectTimeoutMs),
    },
    dns,
  };
}

/** A hop whose host the caller's `lookup` or DNS over HTTPS resolves first. */
async function runResolvedHop(
  instance: SharedInstance,
  client: ClientState,
  req: NormalizedRequest,
  streaming: boolean,
  init: NormalizedInit,
): Promise<HopResult> {
  const resolved = await resolveHop(instance, client, req, init);
  return runHop(instance, client, resolved.req, streaming, init, resolved.dns);
}

/** The caller's signal settles a request waiting for DNS at once (the lookup goes on, unheard). */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted)
    return Promise.reject(new CycleTLSError('ERR_ABORTED', 'the request was aborted', 'dns'));
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new CycleTLSError('ERR_ABORTED', 'the request was aborted', 'dns'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() =>
    signal.removeEventListener('abort', onAbort as () => void),
  );
}

/**
 * One DoH query through this client's engine, as the request itself would go: its preset (or
 * fingerprint strings) and User-Agent, its deadlines, `accept: application/dns-message`, no cookies,
 * no redirects (Chrome's DoH requests carry no credentials), the certificate always checked. Its
 * own host is resolved by the engine: never by DoH again.
 */
async function sendDoh(
  instance: SharedInstance,
  client: ClientState,
  init: NormalizedInit,
  req: NormalizedRequest,
  url: URL,
): Promise<DohReply> {
  const validated = normalizeRequest(
    url.href,
    {
      headers: { accept: 'application/dns-message' },
      userAgent: req.headers.find(([name]) => name.toLowerCase() === 'user-agent')?.[1],
      profile: req.profile || undefined,
      ja3: req.ja3,
      ja4r: req.ja4r,
      http2Fingerprint: req.http2Fingerprint,
      disableGrease: req.disableGrease,
    },
    'GET',
    presetCatalog(),
  );
  const doh: NormalizedRequest = {
    ...validated,
    dns: 'engine',
    // The DoH connection is the identity's own, as everything else it opens (not its rotation limits:
    // one DNS server connection serves every query, as in Chrome).
    connection: { identity: req.connection.identity ?? init.connection.identity },
    timeoutMs: req.timeoutMs,
    connectTimeoutMs: req.connectTimeoutMs,
    tlsTimeoutMs: req.tlsTimeoutMs,
    headersTimeoutMs: req.headersTimeoutMs,
    bodyIdleTimeoutMs: req.bodyIdleTimeoutMs,
    // A DNS message is at most 64 KiB.
    maxResponseBytes: 65_535,
  };
  const hop = await runHop(instance, client, doh, false, { ...init, http3: 'off' });
  return {
    status: hop.head.status,
    contentType: headerValue(hop.head.headers, 'content-type'),
    body: hop.body ?? Buffer.alloc(0),
  };
}

/** 301/302 turn POST into GET (as browsers do); 303 turns everything but HEAD into GET. */
export function redirectDropsBody(status: number, method: string): boolean {
  return (status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST');
}

/** Where a redirect's Location points, resolved against the hop's URL: http(s) only, no fragment. */
export function redirectTarget(location: string, from: URL): URL {
  let url: URL;
  try {
    url = new URL(location, from);
  } catch {
    throw new CycleTLSError(
      'ERR_PROTOCOL',
      `invalid redirect location ${JSON.stringify(location)}`,
      'redirect',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CycleTLSError('ERR_PROTOCOL', `cannot follow a redirect to ${url.protocol}`, 'redirect');
  }
  url.hash = '';
  return url;
}

function nextHop(req: NormalizedRequest, status: number, location: string): NormalizedRequest {
  const url = redirectTarget(location, req.url);
  const dropsBody = redirectDropsBody(status, req.method);
  const method = dropsBody ? 'GET' : req.method;
  const body = dropsBody ? undefined : req.body;
  const headers = redirectHeaders(req.headers, dropsBody, url.origin !== req.url.origin);
  // The SNI override was given for one host; another host gets its own name.
  // The SNI override and the ECH config are the first host's: a redirect elsewhere drops them.
  const sameHost = url.hostname === req.url.hostname;
  const serverName = sameHost ? req.serverName : undefined;
  const echConfigList = sameHost ? req.echConfigList : undefined;
  return {
    ...req,
    url,
    method,
    body,
    bodyStream: undefined,
    declaredLength: undefined,
    headers,
    serverName,
    echConfigList,
  };
}

/** A client's request: resolves with the response (or, cycletls style, with a failure's). */
export async function perform(
  instance: SharedInstance,
  client: ClientState,
  init: NormalizedInit,
  url: unknown,
  options: unknown,
  method: unknown,
  adjust?: AdjustRequest,
): Promise<CycleTLSResponseShape> {
  // Misuse and unreadable bodies (a stream that errors) reject; they are not network outcomes.
  const validated = normalizeRequest(url, options, method, presetCatalog());
  const normalized = validated.pendingBody ? await resolvePendingBody(validated) : validated;
  const adjusted = adjust ? adjust(normalized) : normalized;
  // The client's maxResponseBytes applies where the request sets none (toSpec), without a copy.
  const req = adjusted;
  // The caller's jar, else one for this redirect chain only, made when a hop sets a cookie (most
  // requests have neither: no loop is made for them).
  const jar = req.cookieJar ?? init.cookieJar;
  let cookies = jar ? new CookieLoop(jar, true) : undefined;
  const requestId = `${client.id}:${client.nextSeq++}`;
  const streaming = req.responseType === 'stream';
  let current = req;
  let redirects = 0;
  try {
    for (;;) {
      // Without a jar the hop goes as it is: no copy of the request per hop.
      const sent = cookies?.hasJar
        ? { ...current, headers: await cookies.headersFor(current.url.href, current.headers) }
        : current;
      // Most hops leave DNS to the engine: those take no extra turn of the event loop here (and this
      // loop keeps one await for the hop, which keeps its optimized code small).
      const hop = await (callerResolves(sent, init)
        ? runResolvedHop(instance, client, sent, streaming, init)
        : runHop(instance, client, sent, streaming, init));
      const { head } = hop;
      if (mayStoreCookies(head.headers)) {
        cookies ??= new CookieLoop(undefined, true);
        await cookies.store(current.url.href, head.headers);
      }
      // Only a redirect's Location matters (looked up for those alone).
      const redirect = REDIRECT_STATUSES.has(head.status);
      const location = redirect ? headerValue(head.headers, 'location') : undefined;
      // A hop that keeps the body would have to send it again, which a streamed body cannot: the
      // redirect is then the response.
      const replayImpossible =
        current.bodyStream !== undefined && !redirectDropsBody(head.status, current.method);
      if (!req.disableRedirect && redirect && location !== undefined && !replayImpossible) {
        if (redirects >= req.maxRedirects) {
          hop.stream?.destroy();
          throw new CycleTLSError(
            'ERR_TOO_MANY_REDIRECTS',
            `stopped after ${req.maxRedirects} redirects`,
            'redirect',
          );
        }
        if (hop.stream) {
          // Drain the redirect's body so its connection can be reused; its errors are moot.
          hop.stream.on('error', () => {}).resume();
        }
        current = nextHop(current, head.status, location);
        redirects++;
        continue;
      }
      const meta = responseMeta(head, requestId, current.url.href, redirects);
      if (hop.stream) return streamResponse(meta, hop.stream);
      return bufferedResponse(meta, hop.body as Buffer, req.responseType);
    }
  } catch (err) {
    return settleFailure(
      err,
      req.rejectOnError ?? init.rejectOnError,
      { method: current.method, url: current.url.href, proxy: current.proxy },
      requestId,
      { requestId, redirects },
    );
  }
}
