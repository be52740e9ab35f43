// Loads the addon and describes its (internal) interface. Only this file touches the .node.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CycleTLSError } from './errors';
import { decodeEvents, specPacker } from './native-wire';
import type { RawEngineClass } from './native-wire';
import type { FingerprintShape } from './fingerprint';

export const enum EventType {
  Head = 0,
  Body = 1,
  End = 2,
  Error = 3,
  Notice = 4,
  Sent = 5,
}

export interface HeadEvent {
  id: number;
  type: EventType.Head;
  status: number;
  reason: string;
  httpVersion: string;
  headers: string[];
  alpn: string;
  tlsVersion: string;
  cipher: string;
  connectionId: number;
  reused: boolean;
  tlsResumed: boolean;
  /** The connection's own fingerprint part (lib/fingerprint.ts); undefined without TLS. */
  fingerprint: string | undefined;
  /** Its hello shape's part, [ja3n, ja4, ja4r] (lib/fingerprint.ts); undefined without TLS. */
  fingerprintShape: FingerprintShape | undefined;
  /**
   * What arrived with the head (native/core/event_queue.h): the first body bytes, and whether the
   * response ended there too. A small buffered response is mostly one head event that ended.
   */
  data: Buffer | undefined;
  ended: boolean;
}
export interface BodyEvent {
  id: number;
  type: EventType.Body;
  data: Buffer;
}
export interface EndEvent {
  id: number;
  type: EventType.End;
}
/** `bytes` more of a streamed request body (write()) left for the server. */
export interface SentEvent {
  id: number;
  type: EventType.Sent;
  bytes: number;
}
export interface ErrorEvent {
  id: number;
  type: EventType.Error;
  code: string;
  stage: string;
  message: string;
}
/**
 * Not about a request (id 0): the shared instance became 'host' or 'client', could not start ('failed'), or a
 * 'warning'.
 */
export interface NoticeEvent {
  id: 0;
  type: EventType.Notice;
  notice: 'host' | 'client' | 'failed' | 'warning';
  code?: string;
  message?: string;
}
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
  /** The hello of a WebSocket's http/1.1-only reconnect after an h2 server without RFC 8441
   * (implies forceHttp1; Firefox presets drop compress_certificate); a separate connection identity. */
  http1RetryHello?: boolean;
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
  /** A captured QUIC ClientHello as hex (profiles compose it; quic/hello_fingerprint reads it). */
  quicFingerprint?: string;
  disableGrease?: boolean;
  /** The host's addresses when lib resolved it (`lookup`, DNS over HTTPS): dialled, not resolved. */
  dnsAddresses?: string[];
  /** That answer's HTTPS-record ECHConfigList, as hex. */
  dnsEchConfig?: string;
  /** That answer's HTTPS-record ALPN ids. */
  dnsAlpn?: string[];
  timeoutMs: number;
  /** The client (initCycleTLS instance) the request belongs to: its limits and fair share. */
  clientId?: number;
  connectTimeoutMs?: number;
  tlsTimeoutMs?: number;
  headersTimeoutMs?: number;
  bodyIdleTimeoutMs?: number;
  /**
   * Streamed to a consumer that resumes the request when it wants more: the engine reads ahead at most
   * consumerCreditBytes.
   */
  consumerCredit?: boolean;
  /**
   * Run again on the next host if the hosting process goes away before the head arrived (idempotent methods
   * only).
   */
  retryOnHostGone?: boolean;
  /** The body follows through write() (chunked on HTTP/1.1 without a Content-Length, DATA frames on h2). */
  bodyStream?: boolean;
  /**
   * An HTTP/1.1 Upgrade on a connection of its own: a 101 turns it into a byte pipe (Body events in,
   * write() out, End when the server closes). Deadlines cover the handshake only.
   */
  upgrade?: boolean;
  /**
   * With upgrade: Firefox's way. The profile's ALPN; HTTP/2 with RFC 8441 -> an extended CONNECT
   * stream (`:protocol websocket`, a 200 opens the pipe); HTTP/2 without -> a new http/1.1-only connection.
   */
  websocketOverHttp2?: boolean;
  /** 'off' (TCP only), 'alt-svc' (QUIC where the origin advertised h3, else and on failure TCP) or
   * 'force' (QUIC only). */
  http3?: string;
  /** The caller's identity ('' or absent: the engine's default one): nothing is shared between two. */
  identity?: string;
  /** A connection takes at most this many requests, and none once this old (absent or 0: no limit). */
  maxRequestsPerConnection?: number;
  maxConnectionAgeMs?: number;
  /** The name servers the engine's resolver asks: "ip", "ip:port", "[v6]:port", comma-separated
   * (undefined: the system's). */
  dnsServers?: string;
  /** The address family to connect with: 0 (both, Happy Eyeballs), 4 or 6. */
  family?: number;
  /** A real Encrypted ClientHello's ECHConfigList, base64 (checked by lib/options.ts). */
  echConfigList?: string;
}

export interface NativeEngineStats {
  requestsStarted: number;
  requestsInFlight: number;
  connectionsOpened: number;
  tlsHandshakes: number;
  connectionsReused: number;
  connectionsOpen: number;
  connectionsIdle: number;
  bytesIn: number;
  bytesOut: number;
  closed: boolean;
  connectionsLive: number;
  connectionsConnecting: number;
  requestsQueued: number;
  tlsResumed: number;
  exchanges: number;
  exchangesReused: number;
  h2PingsTimedOut: number;
  connectionsSwept: number;
  /** Terminal errors by code (codes that never happened are absent). */
  errors: Record<string, number>;
  /** Named identities with a connection so far (the last 1024 first seen). */
  identities: NativeIdentityStats[];
  share?: NativeShareStats;
}

export interface NativeIdentityStats {
  identity: string;
  connectionsOpened: number;
  tlsHandshakes: number;
  tlsResumed: number;
  exchanges: number;
}

export interface NativeOriginStats {
  key: string;
  open: number;
  idle: number;
  connecting: number;
  h2Streams: number;
}

/** The engine's pool options (native/core/engine_option_fields.h, whose ranges are engineOptions). */
export interface NativeEngineOptions {
  maxConnectionsPerOrigin?: number;
  maxConnections?: number;
  maxInFlightPerClient?: number;
  maxQueued?: number;
  maxH2SessionsPerOrigin?: number;
  maxIdlePerOrigin?: number;
  idleTimeoutMs?: number;
  h2PingIntervalMs?: number;
  h2PingTimeoutMs?: number;
  maxTlsSessions?: number;
}

/** One engine option and the integers it accepts. */
export interface NativeEngineOptionRange {
  name: keyof NativeEngineOptions;
  min: number;
  max: number;
}

export interface NativeShareStats {
  role: 'electing' | 'host' | 'client' | 'stopped';
  link: 'none' | 'connecting' | 'open' | 'idle' | 'listening';
  streamsInFlight: number;
  pending: number;
  elections: number;
  linksEstablished: number;
  reconnects: number;
  retried: number;
  hostGone: number;
  peersOpen: number;
  peersAccepted: number;
  peersRefused: number;
  hostPid: number;
}

export interface NativeShareOptions {
  port: number;
  socketDir?: string;
  handoverTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  linkIdleTimeoutMs?: number;
  drainGraceMs?: number;
}

export interface NativeEngine {
  request(id: number, spec: NativeRequestSpec): void;
  cancel(id: number): void;
  pause(id: number, paused: boolean): void;
  /** More of a bodyStream request's body (copied), or null for its end. */
  write(id: number, chunk: Uint8Array | null): void;
  /**
   * A WebSocket frame: `header` (its last 4 bytes the mask key) then `payload` masked with it, in one copy.
   */
  writeMasked(id: number, header: Uint8Array, payload: Uint8Array): void;
  close(callback: () => void): void;
  stats(): NativeEngineStats;
  setClientLimits(clientId: number, limits: { maxInFlight: number; maxQueued: number }): void;
  cancelClient(clientId: number): void;
  originStats(): NativeOriginStats[];
}

/** Values lib/ and the engine must agree on, defined once in C++ (native/binding/addon.cc says where). */
export interface NativeConstants {
  /** What a consumerCredit request reads ahead of its consumer before it pauses itself (2 MiB). */
  consumerCreditBytes: number;
  /** The longest deadline a request may carry, in milliseconds (a year). */
  maxTimeoutMs: number;
  /** The port a shared engine uses when initCycleTLS is given none (9119). */
  defaultSharePort: number;
}

/** One field of the request schema (native/core/request_fields.h): a key of NativeRequestSpec. */
export interface NativeRequestField {
  name: keyof NativeRequestSpec;
  kind: 'string' | 'boolean' | 'port' | 'count' | 'headers' | 'bytes' | 'strings' | 'hex';
  required: boolean;
  /** Carried to the hosting process over the link (else that process decides it). */
  onLink: boolean;
  /** count: the largest value the engine takes. */
  max?: number;
}

interface Addon {
  NativeEngine: new (
    onEvents: (batch: NativeEvent[]) => void,
    options?: NativeEngineOptions & { share?: NativeShareOptions },
  ) => NativeEngine;
  info: {
    boringssl: boolean;
    boringsslApiVersion: number;
    caBundle: string;
    http2: boolean;
    patchedTlsStack: boolean;
    defaultProfile: string;
    profiles: string[];
  };
  /**
   * A preset's default request headers, [name, value, ...] in order; undefined for unknown ids.
   * `set`: 'http2' (default), 'http1' (https on HTTP/1.1) or 'http1-plain' (http://).
   */
  profileHeaders(id: string, set?: 'http2' | 'http1' | 'http1-plain'): string[] | undefined;
  constants: Readonly<NativeConstants>;
  requestFields: NativeRequestField[];
  engineOptions: NativeEngineOptionRange[];
}

/** Where the loaded addon came from: CYCLETLS_NATIVE_ADDON, a source build (build/), or prebuilds/. */
export type BindingSource = 'env' | 'source' | 'prebuilt';

export interface NativeBinding {
  /** Absolute path of the loaded .node file. */
  path: string;
  source: BindingSource;
  /** This machine's platform tag: `linux-x64-gnu`, `linux-arm64-musl`, `darwin-arm64`, `win32-x64`... */
  platform: string;
  /** The N-API version this Node.js offers (the addon needs NAPI_VERSION_FLOOR or later). */
  napiVersion: number;
}

/** The addon is compiled with NAPI_VERSION=8 (CMakeLists.txt): an older runtime cannot load it. */
export const NAPI_VERSION_FLOOR = 8;
/** The prebuilt linux-*-gnu binaries are linked in a Debian 11 root: glibc 2.31 is the oldest they run on. */
export const GLIBC_FLOOR = '2.31';
const ADDON_FILE = 'cycletls_native.node';

/** The package's root directory (dist/ and lib/ sit one level below it). */
export const packageRoot = path.resolve(__dirname, '..');

interface ReportHeader {
  glibcVersionRuntime?: string;
}
interface Report {
  header?: ReportHeader;
  sharedObjects?: string[];
}

let runtimeLibc: { libc: 'gnu' | 'musl'; glibc?: string } | undefined;

/**
 * The C library of this Linux system: glibc announces itself in the process report; musl does not,
 * and shows up as the loader among the shared objects (ld-musl-*) or in /usr/bin/ldd. Unknown: gnu.
 */
function linuxLibc(): { libc: 'gnu' | 'musl'; glibc?: string } {
  if (runtimeLibc) return runtimeLibc;
  const report = process.report as (NodeJS.ProcessReport & { excludeNetwork?: boolean }) | undefined;
  let parsed: Report | undefined;
  if (report) {
    // The report enumerates network interfaces unless told not to, which can stall on DNS.
    const excluded = report.excludeNetwork;
    report.excludeNetwork = true;
    try {
      parsed = report.getReport() as Report;
    } catch {
      parsed = undefined;
    } finally {
      report.excludeNetwork = excluded;
    }
  }
  const glibc = parsed?.header?.glibcVersionRuntime;
  if (glibc) return (runtimeLibc = { libc: 'gnu', glibc });
  const musl =
    (parsed?.sharedObjects ?? []).some((so) => /(^|\/)(ld-musl-|libc\.musl-)/.test(so)) ||
    readText('/usr/bin/ldd').includes('musl');
  return (runtimeLibc = { libc: musl ? 'musl' : 'gnu' });
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

/** This machine's prebuilt tag: `<platform>-<arch>` and, on Linux, `-gnu` or `-musl`. */
export function platformTag(): string {
  const base = `${process.platform}-${process.arch}`;
  return process.platform === 'linux' ? `${base}-${linuxLibc().libc}` : base;
}

/** The N-API version of this Node.js (0 when it does not say). */
export function runtimeNapiVersion(): number {
  return Number(process.versions.napi) || 0;
}

/** Where this platform's prebuilt addon sits in the package (whether or not it exists). */
export function prebuiltPath(root: string = packageRoot): string {
  return path.join(root, 'prebuilds', platformTag(), ADDON_FILE);
}

/** Whether dotted version `version` is older than `floor`, numerically (2.4 < 2.31). */
export function olderVersion(version: string, floor: string): boolean {
  const [a, b] = [version, floor].map((v) => v.split('.').map((n) => Number(n) || 0));
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return false;
}

/** What decides whether a prebuilt binary can run here. */
export interface RuntimeFacts {
  napi: number;
  node: string;
  libc?: 'gnu' | 'musl';
  glibc?: string;
}

export function runtimeFacts(): RuntimeFacts {
  const facts: RuntimeFacts = { napi: runtimeNapiVersion(), node: process.version };
  return process.platform === 'linux' ? { ...facts, ...linuxLibc() } : facts;
}

/**
 * Why a prebuilt binary cannot run on `facts`: the runtime offers too old an N-API, or (gnu) the
 * glibc is older than the one the binary was linked against. Undefined when it can.
 */
export function runtimeProblem(facts: RuntimeFacts): string | undefined {
  if (facts.napi < NAPI_VERSION_FLOOR) {
    const offered = facts.napi || 'unknown';
    return `needs N-API ${NAPI_VERSION_FLOOR} or later; Node.js ${facts.node} offers N-API ${offered}`;
  }
  if (facts.libc === 'gnu' && facts.glibc && olderVersion(facts.glibc, GLIBC_FLOOR)) {
    return `needs glibc ${GLIBC_FLOOR} or later; this system has glibc ${facts.glibc}`;
  }
  return undefined;
}

/**
 * Why this platform's prebuilt cannot be loaded here, checked before requiring it; undefined: worth trying.
 */
export function prebuiltProblem(root: string = packageRoot): string | undefined {
  if (!fs.existsSync(prebuiltPath(root))) {
    const shipped = fs.existsSync(path.join(root, 'prebuilds'))
      ? fs.readdirSync(path.join(root, 'prebuilds')).sort()
      : [];
    const has = shipped.join(', ') || 'none';
    return `no prebuilt binary for ${platformTag()} in this package (it has: ${has})`;
  }
  return runtimeProblem(runtimeFacts());
}

let addon: Addon | undefined;
let binding: NativeBinding | undefined;

interface Candidate {
  file: string;
  source: BindingSource;
}

/**
 * The binaries worth trying, in order, and why the others were passed over. CYCLETLS_NATIVE_ADDON,
 * when set, is the only one (an explicit choice must not fall back silently to another binary);
 * otherwise a source build (build/, present only after building from source) comes before the
 * prebuilt for this platform.
 */
function candidates(root: string, skipped: string[]): Candidate[] {
  const explicit = process.env.CYCLETLS_NATIVE_ADDON;
  if (explicit) return [{ file: path.resolve(explicit), source: 'env' }];
  const found: Candidate[] = [];
  for (const config of ['Release', 'Debug']) {
    const file = path.join(root, 'build', config, ADDON_FILE);
    if (fs.existsSync(file)) found.push({ file, source: 'source' });
    else skipped.push(`${file}: not built (no source build)`);
  }
  const problem = prebuiltProblem(root);
  if (problem) skipped.push(`${prebuiltPath(root)}: ${problem}`);
  else found.push({ file: prebuiltPath(root), source: 'prebuilt' });
  return found;
}

type RawAddon = Omit<Addon, 'NativeEngine'> & { NativeEngine: RawEngineClass };

/**
 * The addon with its NativeEngine speaking objects: specs packed, event batches decoded (native-wire.ts).
 * A frozen header list (a preset's, shared by every request that adds no header: headers.ts
 * presetOnly, flattened once by exchange.ts) is registered with the engine the first time it is
 * sent and named by its id after that: its strings cross once per engine, not with every request.
 */
function wired(raw: RawAddon): Addon {
  const pack = specPacker(raw.requestFields);
  class NativeEngineOfObjects extends raw.NativeEngine {
    /** This engine's ids of the frozen lists it registered (0: it kept no more; sent inline). */
    private readonly headerListIds = new WeakMap<readonly string[], number>();

    constructor(onEvents: (batch: NativeEvent[]) => void, options?: object) {
      super((...flat: unknown[]) => onEvents(decodeEvents(flat)), options);
    }

    request(id: number, spec: NativeRequestSpec): void {
      const { values, text, body } = pack(spec, this.headerListId(spec.headers));
      this.requestPacked(id, values, text, body);
    }

    private headerListId(headers: readonly string[]): number {
      if (!Object.isFrozen(headers) || !Array.isArray(headers) || headers.length === 0) return 0;
      let listId = this.headerListIds.get(headers);
      if (listId === undefined) {
        // A list the engine refuses (an odd count, a non-string, a NUL) is sent inline, where
        // packSpec names the field it found wrong.
        try {
          listId = this.registerHeaders(headers);
        } catch {
          listId = 0;
        }
        this.headerListIds.set(headers, listId);
      }
      return listId;
    }
  }
  return { ...raw, NativeEngine: NativeEngineOfObjects as unknown as Addon['NativeEngine'] };
}

/** Loads the addon once: the first candidate that loads wins; none: ERR_NATIVE_UNAVAILABLE. */
export function loadAddon(): Addon {
  if (addon) return addon;
  const tried: string[] = [];
  for (const { file, source } of candidates(packageRoot, tried)) {
    try {
      addon = wired(require(file) as RawAddon);
      binding = { path: file, source, platform: platformTag(), napiVersion: runtimeNapiVersion() };
      return addon;
    } catch (err) {
      // dlopen's message starts with the path again: "<file>: invalid ELF header".
      const reason = String((err as Error)?.message ?? err)
        .split('\n')[0]
        .replace(`${file}: `, '');
      tried.push(`${file}: ${reason}`);
    }
  }
  throw unavailable(tried);
}

/** The engine's constants (loading the addon first). */
export function nativeConstants(): Readonly<NativeConstants> {
  return loadAddon().constants;
}

/** The engine's options and their ranges (loading the addon first). */
export function nativeEngineOptions(): readonly NativeEngineOptionRange[] {
  return loadAddon().engineOptions;
}

/** Which binary loadAddon() loaded (loading it first). */
export function nativeBinding(): NativeBinding {
  loadAddon();
  return { ...(binding as NativeBinding) };
}

/**
 * What a user can do when no binary loads: shared by this error and the install hook (scripts/install.js).
 */
export function remedies(): string[] {
  return [
    'What to do:',
    '  - build it from source: CYCLETLS_NATIVE_BUILD_FROM_SOURCE=1 npm install cycletls-native',
    '    (or `npm rebuild cycletls-native --build-from-source`); it needs Linux, a C++20 compiler, cmake,',
    '    make or ninja, bash, and the Debian -dev packages of scripts/install-deps.sh (run as root once)',
    '    or, on another Linux, an existing BoringSSL tree in BORINGSSL_SOURCE_DIR;',
    '  - or point CYCLETLS_NATIVE_ADDON at a cycletls_native.node built for this platform;',
    '  - or use a platform with a prebuilt binary: linux-x64-gnu or linux-arm64-gnu (glibc 2.31 or later).',
  ];
}

function unavailable(tried: string[]): CycleTLSError {
  const runtime = `Node.js ${process.version}, N-API ${runtimeNapiVersion() || 'unknown'}`;
  const message = [
    `cycletls-native: no native addon loads on ${platformTag()} (${runtime}).`,
    'Tried:',
    ...tried.map((line) => `  - ${line}`),
    ...remedies(),
  ].join('\n');
  return new CycleTLSError('ERR_NATIVE_UNAVAILABLE', message, 'engine');
}
