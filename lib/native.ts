// Loads the addon and describes its (internal) interface. Only this file touches the .node.
import * as path from 'node:path';

export const enum EventType { Head = 0, Body = 1, End = 2, Error = 3, Notice = 4, Sent = 5 }

export interface HeadEvent {
  id: number; type: EventType.Head; status: number; reason: string; httpVersion: string;
  headers: string[]; alpn: string; tlsVersion: string; cipher: string; connectionId: number; reused: boolean;
  tlsResumed: boolean;
}
export interface BodyEvent { id: number; type: EventType.Body; data: Buffer }
export interface EndEvent { id: number; type: EventType.End }
/** `bytes` more of a streamed request body (write()) left for the server. */
export interface SentEvent { id: number; type: EventType.Sent; bytes: number }
export interface ErrorEvent { id: number; type: EventType.Error; code: string; stage: string; message: string }
/** Not about a request (id 0): the shared instance became 'host' or 'client', could not start ('failed'), or a 'warning'. */
export interface NoticeEvent { id: 0; type: EventType.Notice; notice: 'host' | 'client' | 'failed' | 'warning'; code?: string; message?: string }
export type NativeEvent = HeadEvent | BodyEvent | EndEvent | ErrorEvent | NoticeEvent | SentEvent;

export interface NativeRequestSpec {
  method: string;
  tls: boolean;
  host: string;
  port: number;
  target: string;
  headers: string[];
  body?: Uint8Array;
  serverName?: string;
  /** scheme://[user:password@]host[:port], validated by lib/options.ts. */
  proxy?: string;
  insecureSkipVerify: boolean;
  forceHttp1: boolean;
  /** The headers are a preset's HTTP/2 defaults merged with the caller's (re-spelled on HTTP/1.1). */
  presetHeaders?: boolean;
  /** Deliver the body as one buffer at the end (buffered responses), not in bursts. */
  wholeBody: boolean;
  decompress: boolean;
  maxDecodedBytes?: number;
  /** A wholeBody response larger than this (decoded) fails with ERR_BODY_TOO_LARGE; absent: no limit. */
  maxResponseBytes?: number;
  profile?: string;
  ja3?: string;
  ja4r?: string;
  http2Fingerprint?: string;
  disableGrease?: boolean;
  timeoutMs: number;
  /** The client (initCycleTLS instance) the request belongs to: its limits and fair share. */
  clientId?: number;
  connectTimeoutMs?: number;
  tlsTimeoutMs?: number;
  headersTimeoutMs?: number;
  bodyIdleTimeoutMs?: number;
  /** Streamed to a consumer that resumes the request when it wants more: the engine reads ahead at most 2 MiB. */
  consumerCredit?: boolean;
  /** Run again on the next host if the hosting process goes away before the head arrived (idempotent methods only). */
  retryOnHostGone?: boolean;
  /** The body follows through write() (chunked on HTTP/1.1 without a Content-Length, DATA frames on h2). */
  bodyStream?: boolean;
  /**
   * An HTTP/1.1 Upgrade on a connection of its own: a 101 turns it into a byte pipe (Body events in,
   * write() out, End when the server closes). Deadlines cover the handshake only.
   */
  upgrade?: boolean;
}

export interface NativeEngineStats {
  requestsStarted: number; requestsInFlight: number; connectionsOpened: number; tlsHandshakes: number;
  connectionsReused: number; connectionsOpen: number; connectionsIdle: number; bytesIn: number;
  bytesOut: number; closed: boolean;
  connectionsLive: number; connectionsConnecting: number; requestsQueued: number; tlsResumed: number;
  exchanges: number; exchangesReused: number; h2PingsTimedOut: number; connectionsSwept: number;
  /** Terminal errors by code (codes that never happened are absent). */
  errors: Record<string, number>;
  share?: NativeShareStats;
}

export interface NativeOriginStats { key: string; open: number; idle: number; connecting: number; h2Streams: number }

export interface NativeEngineOptions {
  maxConnectionsPerOrigin?: number; maxConnections?: number; maxInFlightPerClient?: number; maxQueued?: number;
  maxH2SessionsPerOrigin?: number; maxIdlePerOrigin?: number; idleTimeoutMs?: number; h2PingIntervalMs?: number;
  h2PingTimeoutMs?: number; maxTlsSessions?: number;
}

export interface NativeShareStats {
  role: 'electing' | 'host' | 'client' | 'stopped'; link: 'none' | 'connecting' | 'open' | 'idle' | 'listening';
  streamsInFlight: number; pending: number; elections: number; linksEstablished: number; reconnects: number;
  retried: number; hostGone: number; peersOpen: number; peersAccepted: number; peersRefused: number; hostPid: number;
}

export interface NativeShareOptions {
  port: number; socketDir?: string; handoverTimeoutMs?: number; handshakeTimeoutMs?: number;
  pingIntervalMs?: number; pingTimeoutMs?: number; linkIdleTimeoutMs?: number; drainGraceMs?: number;
}

export interface NativeEngine {
  request(id: number, spec: NativeRequestSpec): void;
  cancel(id: number): void;
  pause(id: number, paused: boolean): void;
  /** More of a bodyStream request's body (copied), or null for its end. */
  write(id: number, chunk: Uint8Array | null): void;
  /** A WebSocket frame: `header` (its last 4 bytes the mask key) then `payload` masked with it, in one copy. */
  writeMasked(id: number, header: Uint8Array, payload: Uint8Array): void;
  close(callback: () => void): void;
  stats(): NativeEngineStats;
  setClientLimits(clientId: number, limits: { maxInFlight: number; maxQueued: number }): void;
  cancelClient(clientId: number): void;
  originStats(): NativeOriginStats[];
}

interface Addon {
  NativeEngine: new (onEvents: (batch: NativeEvent[]) => void,
    options?: NativeEngineOptions & { share?: NativeShareOptions }) => NativeEngine;
  info: {
    boringssl: boolean; boringsslApiVersion: number; caBundle: string; http2: boolean;
    patchedTlsStack: boolean; defaultProfile: string; profiles: string[];
  };
  /**
   * A preset's default request headers, [name, value, ...] in order; undefined for unknown ids.
   * `set`: 'http2' (default), 'http1' (https on HTTP/1.1) or 'http1-plain' (http://).
   */
  profileHeaders(id: string, set?: 'http2' | 'http1' | 'http1-plain'): string[] | undefined;
}

let addon: Addon | undefined;

export function loadAddon(): Addon {
  if (addon) return addon;
  const root = path.resolve(__dirname, '..');
  const candidates = [
    process.env.CYCLETLS_NATIVE_ADDON,
    path.join(root, 'build', 'Release', 'cycletls_native.node'),
    path.join(root, 'build', 'Debug', 'cycletls_native.node'),
  ].filter((p): p is string => !!p);
  let lastError: unknown;
  for (const file of candidates) {
    try {
      addon = require(file) as Addon;
      return addon;
    } catch (err) {
      lastError = err;
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') break;
    }
  }
  throw new Error(`cycletls-native: the native addon could not be loaded (run "npm install" or "npm run build"): ${String((lastError as Error)?.message ?? lastError)}`);
}
