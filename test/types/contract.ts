// Compiled (never run) by test/unit/types.test.js: the public contract must accept cycletls-style
// code and reject misuse. Lines marked @ts-expect-error must fail to compile.
import { lookup as dnsLookup } from 'node:dns';

import initCycleTLS, { CycleTLSError, errorCodes, nativeBinding } from 'cycletls-native';
import type {
  CycleTLSClient,
  CycleTLSResponse,
  ErrorCode,
  DnsFamily,
  Http3Mode,
  IdentityStats,
  InitOptions,
  LookupFunction,
  Cookie,
  CookieJarLike,
  RequestBody,
  CycleTLSSSEResponse,
  SSEEvent,
  CycleTLSWebSocketResponse,
  CycleTLSWebSocketOptions,
  WebSocketMessage,
  NativeBinding,
  NativeBindingSource,
  Fingerprint,
} from 'cycletls-native';
import { Readable as NodeReadable } from 'node:stream';
import { Blob as NodeBlob } from 'node:buffer';
import type { Readable } from 'node:stream';
import type { Blob } from 'node:buffer';
import cjs = require('cycletls-native');

async function main(): Promise<void> {
  const init: InitOptions = { port: 9119, debug: false, timeout: 20000, executablePath: '', autoExit: true };
  const client: CycleTLSClient = await initCycleTLS(init);
  await cjs.default({ port: 9120 });
  const shared: InitOptions = {
    port: 9121,
    shareAcrossProcesses: true,
    secretFile: '/tmp/secret',
    retryOnHostGone: false,
    socketDir: process.env.CYCLETLS_NATIVE_SOCKET_DIR,
    handoverTimeoutMs: 5000,
    handshakeTimeoutMs: 500,
    pingIntervalMs: 1000,
    pingTimeoutMs: 3000,
    linkIdleTimeoutMs: 30000,
    drainGraceMs: 5000,
  };
  const sharedClient = await initCycleTLS(shared);
  const st = sharedClient.stats();
  const role: 'host' | 'client' | 'electing' | 'stopped' | 'local' = st.role;
  const hostPid: number | undefined = st.link?.hostPid;
  // @ts-expect-error a role that does not exist
  const wrongRole: 'primary' = st.role;
  // @ts-expect-error shareAcrossProcesses is a boolean
  await initCycleTLS({ shareAcrossProcesses: 'yes' });
  void role;
  void hostPid;
  void wrongRole;
  const limited = await initCycleTLS({
    port: 9122,
    maxConnectionsPerOrigin: 4,
    maxConnections: 64,
    maxInFlight: 8,
    maxQueued: 100,
  });
  const ratio: number = limited.stats().engine.reuseRatio;
  const originKey: string | undefined = limited.stats().origins[0]?.key;
  const resumed: boolean = (
    await limited.get('https://example.test', {
      connectTimeout: 2,
      tlsTimeout: 2,
      headersTimeout: 5,
      bodyIdleTimeout: 5,
    })
  ).connection.tlsResumed;
  const sent: Fingerprint | null = (await limited.get('https://example.test')).fingerprint;
  if (sent) {
    const ja4: string = sent.ja4;
    const akamai: string | undefined = sent.akamai;
    const ech: 'grease' | 'real' | 'none' = sent.ech;
    const wasResumed: boolean = sent.resumed;
    // @ts-expect-error ech is one of three names
    const wrong: 'maybe' = sent.ech;
    (void ja4, void akamai, void ech, void wasResumed, void wrong);
  }
  await limited.close({ graceMs: 1000 });
  // @ts-expect-error graceMs is a number
  await limited.close({ graceMs: '1s' });
  void ratio;
  void originKey;
  void resumed;
  const capped = await initCycleTLS({ port: 9123, maxResponseBytes: 1 << 20 });
  await capped.get('https://example.test', { maxResponseBytes: 1024 });
  // @ts-expect-error maxResponseBytes is a number of bytes
  await capped.get('https://example.test', { maxResponseBytes: '1MB' });
  const tooLarge: ErrorCode = 'ERR_BODY_TOO_LARGE';
  void tooLarge;
  // ECH: an ECHConfigList in base64 per request; a second rejection's code.
  await capped.get('https://example.test', { echConfigList: 'AEX+DQBBAQAgACB0ZXN0' });
  // @ts-expect-error echConfigList is base64 text, not bytes
  await capped.get('https://example.test', { echConfigList: new Uint8Array(4) });
  const echRejected: ErrorCode = 'ERR_ECH_REJECTED';
  void echRejected;

  const r = await client(
    'https://example.test',
    { headers: { a: 'b', n: 1 }, userAgent: 'x', timeout: 1.5 },
    'get',
  );
  const status: number = r.status;
  const values: string[] = r.headers['Content-Type'];
  const data: unknown = r.data;
  const json = await r.json<{ ok: boolean }>();
  const ok: boolean = json.ok;

  const text = await client.get('https://example.test', { responseType: 'text' });
  const s: string = text.data;
  const ab = await client.post('https://example.test', {
    responseType: 'arraybuffer',
    body: Buffer.from('x'),
  });
  const buf: ArrayBuffer = ab.data;
  const blob = await client.put('https://example.test', { responseType: 'blob' });
  const b: Blob = blob.data;
  const stream = await client.get('https://example.test', { responseType: 'stream' });
  const rd: Readable = stream.data;

  const es: CycleTLSSSEResponse = await client.sse('https://example.test/events', {
    reconnect: { retryMs: 1000, maxRetries: 5 },
    lastEventId: '7',
    headers: { a: 'b' },
  });
  await client.eventSource('https://example.test/events', {
    reconnect: true,
    responseType: 'stream',
    protocol: 'sse',
  });
  for await (const ev of es.events()) {
    const evData: string = ev.data;
    const evId: string | undefined = ev.id;
    const evRetry: number | undefined = ev.retry;
    void [evData, evId, evRetry];
  }
  es.onEvent((ev: SSEEvent) => {
    const t: string | undefined = ev.event;
    void t;
  });
  es.onError((err: Error) => {
    void err.message;
  });
  const esData: string | null = es.data;
  const esClosed: void = await es.close();
  // @ts-expect-error reconnect takes a boolean or { retryMs, maxRetries }
  await client.sse('https://example.test/events', { reconnect: 'yes' });
  // @ts-expect-error retryMs is a number of milliseconds
  await client.sse('https://example.test/events', { reconnect: { retryMs: '1s' } });
  const eventCapped = await initCycleTLS({ port: 9124, maxEventBytes: 1 << 20 });
  await eventCapped.sse('https://example.test/events', { maxEventBytes: 64 * 1024, reconnect: true });
  // @ts-expect-error maxEventBytes is a number of bytes
  await eventCapped.sse('https://example.test/events', { maxEventBytes: '1MB' });
  // @ts-expect-error maxEventBytes is an sse() option, not a plain request's
  await eventCapped.get('https://example.test', { maxEventBytes: 1024 });
  // HTTP/3: the request option, the client default, cycletls's two spellings, the response's protocol.
  const quic = await initCycleTLS({ port: 9125, http3: 'alt-svc' });
  const h3: string = (await quic.get('https://example.test', { http3: 'force' })).connection.protocol;
  await quic.get('https://example.test', { forceHTTP3: true, protocol: 'http3' });
  await quic.get('https://example.test', { quicFingerprint: '1603010000@@', http3: 'alt-svc' });
  // @ts-expect-error a captured hello is hex text, not bytes
  await quic.get('https://example.test', { quicFingerprint: Buffer.from('16', 'hex') });
  const mode: Http3Mode = 'off';
  // @ts-expect-error http3 is 'off', 'alt-svc' or 'force'
  await quic.get('https://example.test', { http3: 'always' });

  // DNS: the engine's resolver, its servers and the address family (initCycleTLS and per request).
  const dnsClient = await initCycleTLS({ port: 9126, dnsServers: ['127.0.0.1:5353'], family: 0 });
  await dnsClient.get('https://example.test', { dnsServers: ['1.1.1.1', '[::1]:53'], family: 6 });
  const fam: DnsFamily = 4;
  await dnsClient.get('https://example.test', { family: fam });
  // @ts-expect-error family is 0, 4 or 6
  await dnsClient.get('https://example.test', { family: 5 });
  // @ts-expect-error dnsServers is a list
  await dnsClient.get('https://example.test', { dnsServers: '127.0.0.1' });
  // @ts-expect-error http3 is not a boolean
  await initCycleTLS({ port: 9126, http3: true });
  void h3;
  void mode;
  // Identities and rotation: request options, the client's defaults, stats per identity.
  const rotating = await initCycleTLS({ port: 9127, identity: 'profile-1', enableConnectionReuse: false });
  await rotating.get('https://example.test', { identity: 'profile-2', maxRequestsPerConnection: 0 });
  await rotating.get('https://example.test', { maxConnectionAgeMs: 30_000, enableConnectionReuse: true });
  await initCycleTLS({ port: 9128, maxRequestsPerConnection: 10, maxConnectionAgeMs: 60_000 });
  const perIdentity: IdentityStats[] = rotating.stats().engine.identities;
  const resumedOfFirst: number | undefined = perIdentity[0]?.tlsResumed;
  void resumedOfFirst;
  // @ts-expect-error identity is a string
  await rotating.get('https://example.test', { identity: 7 });
  // @ts-expect-error maxConnectionAgeMs is a number of milliseconds
  await initCycleTLS({ port: 9129, maxConnectionAgeMs: '1m' });
  void fam;
  // DNS: a Node-style lookup (dns.lookup itself fits), DNS over HTTPS; both init and request options.
  const pin: LookupFunction = (hostname, options, callback) =>
    callback(null, [{ address: '127.0.0.1', family: 4 }]);
  const resolving = await initCycleTLS({ port: 9127, dnsOverHttps: 'https://doh.example.test/dns-query' });
  await resolving.get('https://example.test', { lookup: pin });
  await resolving.get('https://example.test', { lookup: dnsLookup });
  await resolving.get('https://example.test', { dnsOverHttps: new URL('https://doh.example.test/q') });
  await initCycleTLS({ port: 9128, lookup: (h, o, cb) => cb(null, '::1', 6) });
  // @ts-expect-error lookup is a function
  await resolving.get('https://example.test', { lookup: '127.0.0.1' });
  // @ts-expect-error dnsOverHttps is a URL
  await initCycleTLS({ port: 9129, dnsOverHttps: true });
  // @ts-expect-error the callback takes addresses, not numbers
  await resolving.get('https://example.test', { lookup: (h, o, cb) => cb(null, 127) });
  es.onEvent((ev) => {
    // @ts-expect-error event data is a string
    const evNum: number = ev.data;
    void evNum;
  });
  void [esData, esClosed];

  // WebSockets: cycletls's call shape and methods, and ours.
  const wsOptions: CycleTLSWebSocketOptions = {
    protocols: ['chat'],
    origin: 'https://example.test',
    perMessageDeflate: false,
    maxPayload: 1 << 20,
    fragmentSize: 0,
    closeTimeoutMs: 500,
    proxy: 'socks5h://127.0.0.1:1080',
    profile: 'firefox_153',
  };
  const sock: CycleTLSWebSocketResponse = await client.ws('wss://example.test/socket', wsOptions);
  await client.webSocket('wss://example.test/socket', { headers: { 'Sec-WebSocket-Protocol': 'chat' } });
  await sock.send('text');
  await sock.send(Buffer.from([1]), true);
  await sock.ping();
  sock.onMessage((m: WebSocketMessage) => {
    const d: string | Buffer = m.data;
    void d;
  });
  sock.onClose((code: number, reason: string) => {
    void code;
    void reason;
  });
  sock.onError((e: Error) => {
    void e;
  });
  for await (const m of sock.messages()) {
    const t: WebSocketMessage['type'] = m.type;
    void t;
  }
  const state: number = sock.readyState;
  const sub: string = sock.subprotocol;
  const wsData: string | null = sock.data;
  await sock.close(1000, 'bye');
  // @ts-expect-error the close code is a number
  await sock.close('normal');
  // @ts-expect-error protocols is a list
  await client.ws('wss://example.test/socket', { protocols: 'chat' });
  // @ts-expect-error readyState is read-only
  sock.readyState = 3;
  void state;
  void sub;
  void wsData;

  const cookies: Cookie[] = [
    { name: 'a', value: 'b', expires: 'Mon, 02-Jan-2022 15:04:05 EST', sameSite: 'Lax' },
  ];
  await client.get('https://example.test', {
    cookies,
    bodyBytes: 'AAEC',
    headerOrder: ['a'],
    signal: new AbortController().signal,
  });
  await client.get('https://example.test', { cookies: { a: 'b' } });
  await client.get('https://example.test', {
    profile: 'firefox_153',
    ja3: '771,4865,0-10,29,0',
    http2Fingerprint: '1:65536|0|0|m,a,s,p',
    disableGrease: true,
    decompress: false,
  });
  // @ts-expect-error an unknown preset
  await client.get('https://example.test', { profile: 'netscape_4' });

  // A tough-cookie-shaped jar: overloaded promise and callback forms, as tough-cookie declares them.
  class ToughLikeJar {
    getCookieString(url: string, options?: { http?: boolean }): Promise<string>;
    getCookieString(url: string, cb: (err: Error | null, cookies: string) => void): void;
    getCookieString(url: string, a?: unknown): Promise<string> | void {
      void url;
      void a;
      return Promise.resolve('');
    }
    setCookie(
      cookie: string | { key: string },
      url: string,
      options?: { ignoreError?: boolean },
    ): Promise<unknown>;
    setCookie(
      cookie: string | { key: string },
      url: string,
      options: { ignoreError?: boolean },
      cb: (err: Error | null) => void,
    ): void;
    setCookie(cookie: unknown, url: string, ...rest: unknown[]): Promise<unknown> | void {
      void cookie;
      void url;
      void rest;
      return Promise.resolve();
    }
  }
  const jar: CookieJarLike = new ToughLikeJar();
  await initCycleTLS({ port: 9123, cookieJar: jar });
  await client.get('https://example.test', { cookieJar: new ToughLikeJar(), cookies: { a: 'b' } });
  // @ts-expect-error a jar needs both methods
  await client.get('https://example.test', { cookieJar: { getCookieString: (u: string) => u } });
  const fd = new FormData();
  fd.append('file', new NodeBlob([new Uint8Array([0, 255])]) as unknown as globalThis.Blob, 'a.bin');
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield new Uint8Array([1]);
  }
  const bodies: RequestBody[] = [
    fd,
    new NodeBlob(['x']),
    NodeReadable.from(['x']),
    chunks(),
    new URLSearchParams('a=1'),
    new ArrayBuffer(1),
    { getBoundary: () => 'b', getBuffer: () => Buffer.alloc(0) },
  ];
  for (const body of bodies) await client.post('https://example.test', { body });
  await client.put('https://example.test', { body: chunks(), bufferBody: true });
  // @ts-expect-error bufferBody is a boolean
  await client.put('https://example.test', { body: chunks(), bufferBody: 'yes' });
  // @ts-expect-error a plain object is no body
  await client.post('https://example.test', { body: { a: 1 } });

  const code: ErrorCode | undefined = r.error?.code;
  const codes: readonly ErrorCode[] = errorCodes;
  const unavailable: ErrorCode = 'ERR_NATIVE_UNAVAILABLE';
  const binding: NativeBinding = nativeBinding();
  const bindingFields: [string, NativeBindingSource, string, number] = [
    binding.path,
    binding.source,
    binding.platform,
    binding.napiVersion,
  ];
  const sameBinding: NativeBinding = cjs.nativeBinding();
  // @ts-expect-error the source is 'env', 'source' or 'prebuilt'
  const wrongSource: NativeBinding['source'] = 'npm';
  // @ts-expect-error nativeBinding takes no arguments
  nativeBinding('linux-x64-gnu');
  const e = new CycleTLSError('ERR_TIMEOUT', 'x');
  const retry: boolean = e.retryable;
  const done: undefined = await client.exit();
  const typed: CycleTLSResponse<string> = text;

  // @ts-expect-error responseType is a closed set
  await client.get('https://example.test', { responseType: 'xml' });
  // @ts-expect-error timeout is a number of seconds
  await client.get('https://example.test', { timeout: '5' });
  // @ts-expect-error header values are strings, numbers or booleans
  await client.get('https://example.test', { headers: { a: { nested: true } } });
  // @ts-expect-error unknown method
  await client('https://example.test', {}, 'fetch');
  // @ts-expect-error an error code outside the vocabulary
  const bad: ErrorCode = 'ERR_SOMETHING';
  // @ts-expect-error JSON data is unknown until narrowed
  r.data.foo;
  void [status, values, data, ok, s, buf, b, rd, code, codes, retry, done, typed, bad];
}
void main;
