// Loads the addon and describes its (internal) interface. Only this file touches the .node.
import * as path from 'node:path';

export const enum EventType { Head = 0, Body = 1, End = 2, Error = 3 }

export interface HeadEvent {
  id: number; type: EventType.Head; status: number; reason: string; httpVersion: string;
  headers: string[]; alpn: string; tlsVersion: string; cipher: string; connectionId: number; reused: boolean;
}
export interface BodyEvent { id: number; type: EventType.Body; data: Buffer }
export interface EndEvent { id: number; type: EventType.End }
export interface ErrorEvent { id: number; type: EventType.Error; code: string; stage: string; message: string }
export type NativeEvent = HeadEvent | BodyEvent | EndEvent | ErrorEvent;

export interface NativeRequestSpec {
  method: string;
  tls: boolean;
  host: string;
  port: number;
  target: string;
  headers: string[];
  body?: Uint8Array;
  serverName?: string;
  insecureSkipVerify: boolean;
  forceHttp1: boolean;
  /** Deliver the body as one buffer at the end (buffered responses), not in bursts. */
  wholeBody: boolean;
  decompress: boolean;
  maxDecodedBytes?: number;
  profile?: string;
  ja3?: string;
  ja4r?: string;
  http2Fingerprint?: string;
  disableGrease?: boolean;
  timeoutMs: number;
}

export interface NativeEngineStats {
  requestsStarted: number; requestsInFlight: number; connectionsOpened: number; tlsHandshakes: number;
  connectionsReused: number; connectionsOpen: number; connectionsIdle: number; bytesIn: number;
  bytesOut: number; closed: boolean;
}

export interface NativeEngine {
  request(id: number, spec: NativeRequestSpec): void;
  cancel(id: number): void;
  pause(id: number, paused: boolean): void;
  close(callback: () => void): void;
  stats(): NativeEngineStats;
}

interface Addon {
  NativeEngine: new (onEvents: (batch: NativeEvent[]) => void, options?: { idleTimeoutMs?: number; maxIdlePerOrigin?: number }) => NativeEngine;
  info: {
    boringssl: boolean; boringsslApiVersion: number; caBundle: string; http2: boolean;
    patchedTlsStack: boolean; defaultProfile: string; profiles: string[];
  };
  /** A preset's default request headers, [name, value, ...] in order; undefined for unknown ids. */
  profileHeaders(id: string): string[] | undefined;
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
