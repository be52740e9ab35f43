// The one driver of an exchange with the engine, for every kind of request: a buffered or streamed
// HTTP response (lib/request.ts; sse() rides on its streamed form) and a WebSocket's upgraded pipe
// (lib/open-websocket.ts). It owns what they share: the spec sent, submitting it, the caller's abort
// signal, a streamed upload, the read-ahead credit and the cookie jar across the hops.
import type { Buffer } from 'node:buffer';

import { MemoryCookieJar, jarCookieString, jarStore } from './cookies';
import type { CookieJarLike } from './cookies';
import { urlHost } from './dns';
import type { ResolvedName } from './dns';
import { CycleTLSError } from './errors';
import { decodeFingerprint } from './fingerprint';
import { withJarCookies } from './headers';
import type { HeaderList } from './headers';
import type { ClientState, ExchangeHandlers, SharedInstance } from './instance';
import { nativeConstants } from './native';
import type { HeadEvent, NativeRequestSpec } from './native';
import { DEFAULT_MAX_RESPONSE_BYTES } from './options';
import { NO_POLICY } from './connection-policy';
import type { ConnectionPolicy } from './connection-policy';
import type { Http3Mode, NormalizedRequest } from './options';
import { headerValues } from './response';
import type { ResponseMeta } from './response';
import { UploadPump } from './upload';

const flatLists = new WeakMap<HeaderList, string[]>();

/** [name, value, ...]; for a shared frozen list (headers.ts presetOnly) made once. */
function flatHeaders(list: HeaderList): string[] {
  const frozen = Object.isFrozen(list);
  let flat = frozen ? flatLists.get(list) : undefined;
  if (flat) return flat;
  flat = [];
  for (const [n, v] of list) flat.push(n, v);
  if (frozen) flatLists.set(list, Object.freeze(flat) as string[]);
  return flat;
}

/** The spec the engine runs, from a validated request (`streaming`: the body is read as a stream). */
export function toSpec(
  req: NormalizedRequest,
  streaming: boolean,
  retryOnHostGone: boolean,
  maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES,
  http3: Http3Mode = 'off',
  clientConnection: ConnectionPolicy = NO_POLICY,
  dnsConfig: { dnsServers?: string; family?: number } = {},
  resolved?: ResolvedName,
): NativeRequestSpec {
  const { url } = req;
  const own = req.connection;
  const tls = url.protocol === 'https:';
  const host = urlHost(url);
  const headers = flatHeaders(req.headers);
  const spec: NativeRequestSpec = {
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
    http3: req.http3 ?? http3,
    presetHeaders: req.presetHeaders,
    wholeBody: !streaming,
    consumerCredit: streaming,
    decompress: req.decompress,
    maxDecodedBytes: req.maxDecompressedBytes,
    // Streams are not limited: their reader paces what is read ahead.
    maxResponseBytes: streaming ? undefined : (req.maxResponseBytes ?? maxResponseBytes),
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
  // Identities, rotation, DNS, ECH and QUIC hellos: the request's own, else the client's. Set only
  // when one is given, so the default path's spec stays the smaller object the packer reads; and
  // set apart, so the default path's optimized toSpec does not carry them.
  if (
    own !== NO_POLICY ||
    clientConnection !== NO_POLICY ||
    req.dnsServers !== undefined ||
    dnsConfig.dnsServers !== undefined ||
    req.family !== undefined ||
    dnsConfig.family !== undefined ||
    resolved !== undefined ||
    req.echConfigList !== undefined ||
    req.quicFingerprint !== undefined
  ) {
    addIdentityFields(spec, req, clientConnection, dnsConfig, resolved);
  }
  return spec;
}

function addIdentityFields(
  spec: NativeRequestSpec,
  req: NormalizedRequest,
  clientConnection: ConnectionPolicy,
  dnsConfig: { dnsServers?: string; family?: number },
  resolved: ResolvedName | undefined,
): void {
  const own = req.connection;
  spec.dnsServers = req.dnsServers ?? dnsConfig.dnsServers;
  spec.family = req.family ?? dnsConfig.family;
  spec.quicFingerprint = req.quicFingerprint;
  spec.identity = own.identity ?? clientConnection.identity;
  spec.maxRequestsPerConnection = own.maxRequestsPerConnection ?? clientConnection.maxRequestsPerConnection;
  spec.maxConnectionAgeMs = own.maxConnectionAgeMs ?? clientConnection.maxConnectionAgeMs;
  spec.dnsAddresses = resolved?.addresses;
  spec.dnsEchConfig = resolved && resolved.echConfig !== '' ? resolved.echConfig : undefined;
  spec.dnsAlpn = resolved && resolved.alpn.length > 0 ? resolved.alpn : undefined;
  spec.echConfigList = req.echConfigList;
}

/** What a response says about itself, from its head. */
export function responseMeta(
  head: HeadEvent,
  requestId: string,
  finalUrl: string,
  redirects: number,
): ResponseMeta {
  return {
    requestId,
    status: head.status,
    statusText: head.reason,
    httpVersion: head.httpVersion,
    rawHeaders: head.headers,
    finalUrl,
    protocol: head.alpn || (head.httpVersion === '1.0' ? 'http/1.0' : 'http/1.1'),
    tls: head.tlsVersion ? { version: head.tlsVersion, cipher: head.cipher, alpn: head.alpn } : null,
    connection: {
      id: head.connectionId,
      reused: head.reused,
      tlsResumed: head.tlsResumed,
      protocol: head.alpn || (head.httpVersion === '1.0' ? 'http/1.0' : 'http/1.1'),
    },
    fingerprint: decodeFingerprint(head.fingerprint, head.fingerprintShape, head.connectionId, head.reused),
    redirects,
  };
}

/**
 * Half the engine's read-ahead (constants().consumerCreditBytes past the last go-on): a pushed
 * consumer tops it up this often, so the engine never stalls while the consumer keeps up.
 */
function goOnStep(): number {
  return nativeConstants().consumerCreditBytes / 2;
}

/** What an exchange's owner hears. `failed` gets the upload's own failure when that ended it. */
export interface ExchangeEvents {
  head(event: HeadEvent): void;
  body(chunk: Buffer): void;
  end(): void;
  failed(err: unknown): void;
  sent?(bytes: number): void;
}

/**
 * One request in the engine. Reading is paced by credit: the engine reads at most consumerCreditBytes past
 * the last go-on, so a consumer says when it wants more (want()) and, when it has too much, either stops the
 * engine at once (hold(true)) or just stops asking (hold(false): the engine stops by itself once its credit
 * is spent).
 */
export class Exchange implements ExchangeHandlers {
  private id = 0;
  private readonly upload: UploadPump | undefined;
  private events: ExchangeEvents | undefined;
  /** Body bytes taken since the engine was last told to go on. */
  private sinceGoOn = 0;
  private held = false;

  constructor(
    private readonly instance: SharedInstance,
    private readonly client: ClientState,
    private readonly req: NormalizedRequest,
  ) {
    this.upload = req.bodyStream
      ? new UploadPump(
          (chunk) => this.write(chunk),
          () => this.cancel(),
        )
      : undefined;
  }

  /**
   * Submits `spec`. Throws ERR_ABORTED (with `abortMessage`) when the caller's signal already
   * fired, and what the engine refuses at submission. The exchange itself is what the engine's
   * events go to (no handler object or closures per request: c10k holds ten thousand of them).
   */
  start(spec: NativeRequestSpec, events: ExchangeEvents, abortMessage: string): void {
    const { signal } = this.req;
    if (signal?.aborted) throw new CycleTLSError('ERR_ABORTED', abortMessage, 'queue');
    this.events = events;
    this.id = this.instance.submit(this.client, spec, this);
    signal?.addEventListener('abort', this, { once: true });
    if (this.upload && this.req.bodyStream)
      void this.upload.run(this.req.bodyStream, this.req.declaredLength);
  }

  /** The caller's signal fired (the exchange is its listener object). */
  handleEvent(): void {
    this.cancel();
  }

  head(event: HeadEvent): void {
    this.events?.head(event);
  }

  body(chunk: Buffer): void {
    this.events?.body(chunk);
  }

  end(): void {
    this.settle();
    this.events?.end();
  }

  error(err: CycleTLSError): void {
    this.settle();
    this.events?.failed(this.upload?.failure ?? err);
  }

  sent(bytes: number): void {
    this.upload?.sent(bytes);
    this.events?.sent?.(bytes);
  }

  /** The engine ended or failed the exchange: stop the upload and stop listening to the signal. */
  private settle(): void {
    this.upload?.stop();
    this.req.signal?.removeEventListener('abort', this);
  }

  cancel(): void {
    this.instance.cancel(this.id);
  }

  /** Bytes for the server; null ends what is sent (the engine closes a pipe once it went out). */
  write(chunk: Uint8Array | null): void {
    this.instance.write(this.id, chunk);
  }

  /** A WebSocket frame whose payload the engine masks as it copies it. */
  writeMasked(header: Uint8Array, payload: Uint8Array): void {
    this.instance.writeMasked(this.id, header, payload);
  }

  /** `bytes` of body were taken by a consumer that pulls (it calls want() when it wants more). */
  took(bytes: number): void {
    this.sinceGoOn += bytes;
  }

  /**
   * `bytes` of body were pushed to a consumer that does not pull (a WebSocket session): the engine
   * is told to go on every goOnStep() bytes, before its credit runs out, unless the consumer holds.
   */
  tookAndTopUp(bytes: number): void {
    this.sinceGoOn += bytes;
    if (!this.held && this.sinceGoOn >= goOnStep()) this.goOn();
  }

  /** The consumer has enough: stop the engine now (`stopNow`), or just stop telling it to go on. */
  hold(stopNow: boolean): void {
    if (this.held) return;
    this.held = true;
    if (stopNow) this.instance.pause(this.id, true);
  }

  /** The consumer wants more: the engine goes on if it was held or has read on credit since. */
  want(): void {
    if (this.held || this.sinceGoOn > 0) this.goOn();
  }

  private goOn(): void {
    this.held = false;
    this.sinceGoOn = 0;
    this.instance.pause(this.id, false);
  }
}

/** Whether a CookieLoop's store() has anything to do: a Set-Cookie header (found without allocating). */
export function mayStoreCookies(rawHeaders: readonly string[]): boolean {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name.length === 10 && name.toLowerCase() === 'set-cookie') return true;
  }
  return false;
}

/**
 * The cookies of one exchange's hops: the caller's jar, or (with `ownJarOnSet`) one made for this
 * redirect chain only when a hop sets a cookie.
 */
export class CookieLoop {
  constructor(
    private jar: CookieJarLike | undefined,
    private readonly ownJarOnSet: boolean,
  ) {}

  /** The hop's headers with the jar's cookies for `url` (the same list when there is no jar). */
  async headersFor(url: string, headers: HeaderList): Promise<HeaderList> {
    return this.jar ? withJarCookies(headers, await jarCookieString(this.jar, url)) : headers;
  }

  /** Whether a hop's headers may change (a jar is there). */
  get hasJar(): boolean {
    return this.jar !== undefined;
  }

  /** Stores the Set-Cookie values of a response from `url` (never fails). */
  async store(url: string, rawHeaders: readonly string[]): Promise<void> {
    const setCookies = headerValues(rawHeaders, 'set-cookie');
    if (setCookies.length === 0) return;
    if (!this.jar && this.ownJarOnSet) this.jar = new MemoryCookieJar();
    if (this.jar) await jarStore(this.jar, url, setCookies);
  }
}
