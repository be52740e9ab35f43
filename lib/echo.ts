// Fingerprint echo server: a local HTTPS server (h2 and http/1.1) that answers every request with what the
// client's first flight looked like: the raw ClientHello (JA3/JA3N/JA4 and the parsed fields), the HTTP/2
// SETTINGS, WINDOW_UPDATE, PRIORITY and HEADERS frames (Akamai fingerprint), and the request headers in wire
// order.
//
// How the bytes are seen: a plain TCP server reads the first record(s) until the ClientHello is complete,
// keeps a copy, puts the bytes back (socket.unshift) and only then wraps the socket in a TLSSocket, so
// node:tls reads the very same bytes. For h2 the decrypted client stream is teed: every chunk goes to our
// frame parser (with its own HPACK decoder) and then into a Duplex that node:http2 serves. For http/1.1,
// node:http's rawHeaders keep order and case. Nothing here touches the network beyond the address it listens
// on.
//
// With `quic: true` the same port number on UDP is an HTTP/3 endpoint (the addon's QuicEchoServer,
// lib/echo/h3-server.ts): each request is answered with its connection's QUIC and HTTP/3 views, decoded from
// the server's own record of that connection. Every client's first flight (lib/echo/quic.ts) is kept too,
// one view per connection, served as JSON at /quic and /quic/<dcid>. `quicAnswer: false` keeps a plain UDP
// socket that only reads first flights and never answers.
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';

import { parseClientHello, scanClientHello, summarizeClientHello } from './echo/clienthello';
import type { AlpsInfo, ClientHello, ClientHelloSummary } from './echo/clienthello';
import { ECHO_CERT_PEM, ECHO_KEY_PEM } from './echo/cert';
import { H2FrameParser } from './echo/h2';
import type { H2Fingerprint } from './echo/h2';
import type { HeaderField } from './echo/hpack';
import { computeJa } from './echo/ja';
import type { JaFingerprints } from './echo/ja';
import { QuicViewTable } from './echo/quic';
import { buildHttp3Response, decodeRecordedConnection, nativeQuicEchoServer } from './echo/h3-server';
import type { EchoHttp3Response, NativeQuicEchoServer, NativeQuicRequest } from './echo/h3-server';
import type { QuicView } from './echo/quic';
import { decodeQuicConnection } from './echo/quic-conn';
import { readPcapngUdp, splitQuicConnections } from './echo/pcapng';

export { ECHO_CERT_PEM, ECHO_KEY_PEM };
export { echInnerHello, startEchEchoServer } from './echo/ech-server';
export type { EchEchoAnswer, EchEchoServer, EchServerMode } from './echo/ech-server';
export { decodeQuicConnection, readPcapngUdp, splitQuicConnections };
export type {
  QuicCapturedDatagram,
  QuicConnectionError,
  QuicConnectionErrorCode,
  QuicConnectionPacket,
  QuicConnectionPacketType,
  QuicConnectionView,
  QuicEndpoint,
  QuicFrameInfo,
  QuicPacketRef,
  QuicStreamInfo,
  QuicStreamSegment,
} from './echo/quic-conn';
export type {
  Http3Frame,
  Http3Request,
  Http3Setting,
  Http3UniStream,
  Http3UniStreamKind,
  Http3View,
} from './echo/h3';
export type {
  QpackDecoderInstruction,
  QpackEncoderInstruction,
  QpackFieldLine,
  QpackRepresentation,
} from './echo/qpack';
export type { CapturedUdpDatagram, PcapngUdpResult, QuicCapturedConnection } from './echo/pcapng';
export type { AlpsInfo, ClientHelloSummary, H2Fingerprint, HeaderField, JaFingerprints };
export type {
  QuicCryptoFragment,
  QuicDatagramInfo,
  QuicDecodeError,
  QuicDecodeErrorCode,
  QuicPacketInfo,
  QuicTlsInfo,
  QuicTransportParameter,
  QuicVersionEntry,
} from './echo/quic';
/** What a client's QUIC first flight looked like (one per connection, keyed by its first DCID). */
export type EchoQuicView = QuicView;
export type { EchoHttp3Response } from './echo/h3-server';

export interface EchoServerOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Address to listen on. Default '127.0.0.1'. */
  host?: string;
  /** PEM private key; default: the built-in self-signed localhost key (ECHO_KEY_PEM). */
  key?: string | Buffer;
  /** PEM certificate (chain); default: the built-in self-signed localhost certificate (ECHO_CERT_PEM). */
  cert?: string | Buffer;
  /** ALPN protocols the server accepts, in preference order. Default ['h2', 'http/1.1']. */
  alpn?: string[];
  /** Called with every record: each answered request, and each connection that closed without a request. */
  onRecord?: (record: EchoRecord) => void;
  /** Time a client gets to send its ClientHello and finish the handshake. Default 10000 ms. */
  handshakeTimeoutMs?: number;
  /** An established connection with no traffic for this long is closed. Default 120000 ms; 0 disables. */
  idleTimeoutMs?: number;
  /**
   * Also listen on UDP, same port number: an HTTP/3 endpoint (the addon's, see `quicAnswer`) that answers
   * every
   * request with that very connection's QUIC and HTTP/3 fingerprint (EchoHttp3Response), and records each
   * QUIC
   * client's first flight (QUIC JA4, transport parameters, datagram layout) even when its handshake never
   * completes, served at /quic and /quic/<dcid> over TCP and HTTP/3. Default false.
   */
  quic?: boolean;
  /**
   * With `quic`: answer over UDP (HTTP/3, default true). false: the UDP side only reads first flights and
   * never answers (a silent peer; needs no addon).
   */
  quicAnswer?: boolean;
  /**
   * The QPACK dynamic table the HTTP/3 side allows clients (SETTINGS_QPACK_MAX_TABLE_CAPACITY). Default
   * 4096, so
   * a client's QPACK encoder shows; 0 behaves like caddy (literals only).
   */
  quicQpackMaxTableCapacity?: number;
  /** QUIC connections the HTTP/3 side keeps at once (more Initials are dropped). Default 64. */
  quicMaxConnections?: number;
  /** Called with each HTTP/3 answer (the request and its connection's QUIC and HTTP/3 views). */
  onHttp3?: (response: EchoHttp3Response) => void;
  /** QUIC first-flight views kept (the oldest is dropped first). Default 128. */
  quicMaxViews?: number;
  /** A QUIC view is dropped this long after its first datagram. Default 300000 ms. */
  quicViewTtlMs?: number;
  /** Called with each QUIC view once its ClientHello is complete. */
  onQuicView?: (view: EchoQuicView) => void;
}

export interface EchoServer {
  readonly port: number;
  readonly host: string;
  /**
   * https URL of this server, e.g. url('/x') → 'https://127.0.0.1:PORT/x'. `hostname` replaces the host part.
   */
  url(path?: string, hostname?: string): string;
  /** The QUIC views kept, newest first (empty without `quic: true`). */
  quicViews(): EchoQuicView[];
  /** Stops listening, destroys every open connection, resolves when the listener is closed. */
  close(): Promise<void>;
}

export interface EchoTlsInfo extends JaFingerprints, ClientHelloSummary {
  negotiated: { protocol: string | null; cipher: string | null; alpn: string | null; resumed: boolean };
}

export interface EchoHttp2Info extends H2Fingerprint {
  /** Whether node:http2's rawHeaders list equals our own HPACK decoding of the block. */
  node_raw_headers_agree: boolean | null;
}

/** The JSON body of every answer (field names follow the golden captures in ../shared/fingerprints). */
export interface EchoResponse {
  time: string;
  /** Client address and port, e.g. "127.0.0.1:54458". */
  ip: string;
  /** 1-based connection number on this server. */
  connection: number;
  /** 1-based request number on this connection. */
  request_on_connection: number;
  http_version: 'HTTP/2' | 'HTTP/1.1';
  method: string;
  path: string;
  ja3: string;
  ja3_hash: string;
  ja4: string;
  tls_version: string | null;
  ciphers: string[];
  extensions: string[];
  curves: string[];
  alpn: string[];
  sni: string | null;
  tls: EchoTlsInfo;
  /** Request headers exactly as received: order and case (HTTP/2: pseudo-headers first as sent). */
  headers: HeaderField[];
  user_agent: string | null;
  body_length: number;
  http2?: EchoHttp2Info;
  http1?: { headers: string[] };
  client_hello_hex: string;
}

export interface EchoConnectionRecord {
  time: string;
  type: 'connection_without_request';
  connection: number;
  ip: string;
  ja3_hash: string;
  ja4: string;
  tls: EchoTlsInfo;
  client_hello_hex: string;
}

export type EchoRecord = EchoResponse | EchoConnectionRecord;

interface ConnState {
  id: number;
  ip: string;
  hello: ClientHello;
  tls: EchoTlsInfo;
  requests: number;
  h2: H2FrameParser | null;
}

function addressOf(socket: net.Socket): string {
  const addr = socket.remoteAddress ?? '';
  return addr.includes(':') ? `[${addr}]:${socket.remotePort}` : `${addr}:${socket.remotePort}`;
}

function pairs(raw: readonly string[]): HeaderField[] {
  const out: HeaderField[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
}

function findHeader(headers: HeaderField[], name: string): string | null {
  const lower = name.toLowerCase();
  const hit = headers.find(([n]) => n.toLowerCase() === lower);
  return hit ? hit[1] : null;
}

/** The UDP port has the TCP port's number; with port 0 the pair is retried when that UDP port is taken. */
const QUIC_PORT_ATTEMPTS = 8;

function bindUdp(socket: dgram.Socket, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.removeListener('error', reject);
      resolve();
    });
  });
}

function looksLikePlainHttp(buf: Buffer): boolean {
  return /^[A-Z]{3,10} /.test(buf.subarray(0, 12).toString('latin1'));
}

export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const host = options.host ?? '127.0.0.1';
  const alpn = options.alpn ?? ['h2', 'http/1.1'];
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
  const onRecord = options.onRecord;
  const quicViews = options.quic
    ? new QuicViewTable(options.quicMaxViews ?? 128, options.quicViewTtlMs ?? 300_000)
    : null;
  const secureContext = tls.createSecureContext({
    key: options.key ?? ECHO_KEY_PEM,
    cert: options.cert ?? ECHO_CERT_PEM,
  });

  const rawSockets = new Set<net.Socket>();
  const tlsSockets = new Set<tls.TLSSocket>();
  const sessions = new Set<http2.Http2Session>();
  const h1States = new WeakMap<net.Socket, ConnState>();
  const h2States = new WeakMap<http2.Http2Session, ConnState>();
  let connectionSeq = 0;
  let pendingH2State: ConnState | null = null;
  let closing = false;

  const emit = (record: EchoRecord): void => {
    if (!onRecord) return;
    try {
      onRecord(record);
    } catch {
      // a throwing observer must not take the server down
    }
  };

  /** GET /quic (every view, newest first) and /quic/<dcid> (one view) when QUIC is on; else null. */
  const quicAnswer = (path: string): { status: number; body: string } | null => {
    if (!quicViews) return null;
    const m = /^\/quic(?:\/([0-9a-fA-F]*))?\/?(?:\?.*)?$/.exec(path);
    if (!m) return null;
    if (!m[1]) return { status: 200, body: JSON.stringify({ quic_views: quicViews.list() }, null, 2) };
    const view = quicViews.get(m[1]);
    return view
      ? { status: 200, body: JSON.stringify(view, null, 2) }
      : { status: 404, body: JSON.stringify({ error: `no QUIC view for DCID ${m[1]}` }) };
  };

  // HTTP/1.1: node:http on the TLSSocket.
  const h1Server = http.createServer((req, res) => {
    const state = h1States.get(req.socket);
    let bodyLength = 0;
    req.on('data', (chunk: Buffer) => {
      bodyLength += chunk.length;
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (!state) {
        res.statusCode = 500;
        res.end('{"error":"unknown connection"}');
        return;
      }
      const quic = quicAnswer(req.url ?? '');
      if (quic) {
        res.writeHead(quic.status, {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': Buffer.byteLength(quic.body),
          'Cache-Control': 'no-store',
        });
        res.end(req.method === 'HEAD' ? undefined : quic.body);
        return;
      }
      const headers = pairs(req.rawHeaders);
      const record = buildResponse(state, {
        httpVersion: 'HTTP/1.1',
        method: req.method ?? '',
        path: req.url ?? '',
        headers,
        bodyLength,
      });
      record.http1 = { headers: headers.map(([n, v]) => `${n}: ${v}`) };
      const body = JSON.stringify(record, null, 2);
      res.writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      emit(record);
    });
  });
  h1Server.on('clientError', (_err, socket) => socket.destroy());

  // HTTP/2: node:http2 on a Duplex that carries the decrypted bytes we also parse.
  const h2Server = http2.createServer();
  h2Server.on('session', (session: http2.ServerHttp2Session) => {
    if (pendingH2State) h2States.set(session, pendingH2State);
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined);
  });
  h2Server.on(
    'stream',
    (
      stream: http2.ServerHttp2Stream,
      headers: http2.IncomingHttpHeaders,
      _flags: number,
      rawHeaders?: string[],
    ) => {
      const state = h2States.get(stream.session as http2.ServerHttp2Session);
      let bodyLength = 0;
      stream.on('data', (chunk: Buffer) => {
        bodyLength += chunk.length;
      });
      stream.on('error', () => undefined);
      stream.on('end', () => {
        if (stream.destroyed || stream.closed) return;
        if (!state || !state.h2) {
          stream.respond({ ':status': 500 });
          stream.end();
          return;
        }
        const quic = quicAnswer(String(headers[':path'] ?? ''));
        if (quic) {
          stream.respond({
            ':status': quic.status,
            'content-type': 'application/json; charset=utf-8',
            'content-length': Buffer.byteLength(quic.body),
            'cache-control': 'no-store',
          });
          stream.end(headers[':method'] === 'HEAD' ? undefined : quic.body);
          return;
        }
        const streamId = stream.id;
        const fingerprint = state.h2.fingerprint(streamId);
        const ours = streamId === undefined ? undefined : state.h2.takeHeaders(streamId);
        const nodes = Array.isArray(rawHeaders) ? pairs(rawHeaders) : null;
        const fields = ours ?? nodes ?? [];
        const method = String(headers[':method'] ?? '');
        const record = buildResponse(state, {
          httpVersion: 'HTTP/2',
          method,
          path: String(headers[':path'] ?? ''),
          headers: fields,
          bodyLength,
        });
        record.http2 = {
          ...fingerprint,
          node_raw_headers_agree: ours && nodes ? JSON.stringify(ours) === JSON.stringify(nodes) : null,
        };
        const body = JSON.stringify(record, null, 2);
        stream.respond({
          ':status': 200,
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'cache-control': 'no-store',
        });
        stream.end(method === 'HEAD' ? undefined : body);
        emit(record);
      });
    },
  );

  function buildResponse(
    state: ConnState,
    req: {
      httpVersion: 'HTTP/2' | 'HTTP/1.1';
      method: string;
      path: string;
      headers: HeaderField[];
      bodyLength: number;
    },
  ): EchoResponse {
    state.requests++;
    const t = state.tls;
    return {
      time: new Date().toISOString(),
      ip: state.ip,
      connection: state.id,
      request_on_connection: state.requests,
      http_version: req.httpVersion,
      method: req.method,
      path: req.path,
      ja3: t.ja3,
      ja3_hash: t.ja3_hash,
      ja4: t.ja4,
      tls_version: t.negotiated.protocol,
      ciphers: t.ciphers.filter((c) => !c.startsWith('GREASE')),
      extensions: t.extensions.filter((e) => !e.startsWith('GREASE')),
      curves: t.curves.filter((c) => !c.startsWith('GREASE')),
      alpn: t.alpn,
      sni: t.sni,
      tls: t,
      headers: req.headers,
      user_agent: findHeader(req.headers, 'user-agent'),
      body_length: req.bodyLength,
      client_hello_hex: state.hello.raw.toString('hex'),
    };
  }

  function serveH2(tlsSocket: tls.TLSSocket, state: ConnState): void {
    const parser = new H2FrameParser();
    state.h2 = parser;
    const duplex = new Duplex({
      read() {
        tlsSocket.resume();
      },
      write(chunk: Buffer, _encoding, callback) {
        if (tlsSocket.destroyed) {
          callback();
          return;
        }
        tlsSocket.write(chunk, () => callback());
      },
      final(callback) {
        tlsSocket.end();
        callback();
      },
      destroy(err, callback) {
        tlsSocket.destroy();
        callback(err);
      },
    });
    tlsSocket.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      if (!duplex.push(chunk)) tlsSocket.pause();
    });
    tlsSocket.on('end', () => duplex.push(null));
    tlsSocket.on('close', () => duplex.destroy());
    duplex.on('error', () => undefined);
    pendingH2State = state;
    try {
      h2Server.emit('connection', duplex);
    } finally {
      pendingH2State = null;
    }
  }

  function onSecure(tlsSocket: tls.TLSSocket, state: ConnState): void {
    const cipher = tlsSocket.getCipher();
    state.tls.negotiated = {
      protocol: tlsSocket.getProtocol() ?? null,
      cipher: cipher ? (cipher.standardName ?? cipher.name) : null,
      alpn: typeof tlsSocket.alpnProtocol === 'string' ? tlsSocket.alpnProtocol : null,
      resumed: tlsSocket.isSessionReused(),
    };
    tlsSocket.once('close', () => {
      if (state.requests === 0) {
        emit({
          time: new Date().toISOString(),
          type: 'connection_without_request',
          connection: state.id,
          ip: state.ip,
          ja3_hash: state.tls.ja3_hash,
          ja4: state.tls.ja4,
          tls: state.tls,
          client_hello_hex: state.hello.raw.toString('hex'),
        });
      }
    });
    if (state.tls.negotiated.alpn === 'h2') {
      serveH2(tlsSocket, state);
    } else {
      h1States.set(tlsSocket, state);
      h1Server.emit('connection', tlsSocket);
    }
  }

  function onConnection(socket: net.Socket): void {
    if (closing) {
      socket.destroy();
      return;
    }
    rawSockets.add(socket);
    socket.on('close', () => rawSockets.delete(socket));
    socket.on('error', () => undefined);
    const id = ++connectionSeq;
    const ip = addressOf(socket);
    let buffered: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), handshakeTimeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));

    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const scan = scanClientHello(buffered);
      if (scan.status === 'incomplete') return;
      socket.removeListener('data', onData);
      if (scan.status === 'invalid') {
        if (looksLikePlainHttp(buffered)) {
          const msg = 'This is a TLS-only fingerprint echo server: use https://\n';
          socket.end(
            'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n' +
              `Content-Length: ${msg.length}\r\nConnection: close\r\n\r\n${msg}`,
          );
        } else {
          socket.destroy();
        }
        return;
      }
      let hello: ClientHello;
      try {
        hello = parseClientHello(buffered.subarray(0, scan.length));
      } catch {
        socket.destroy();
        return;
      }
      socket.pause();
      socket.unshift(buffered);
      const state: ConnState = {
        id,
        ip,
        hello,
        tls: {
          ...computeJa(hello),
          ...summarizeClientHello(hello),
          negotiated: { protocol: null, cipher: null, alpn: null, resumed: false },
        },
        requests: 0,
        h2: null,
      };
      const tlsSocket = new tls.TLSSocket(socket, {
        isServer: true,
        secureContext,
        ALPNProtocols: alpn,
        requestCert: false,
        rejectUnauthorized: false,
      });
      tlsSockets.add(tlsSocket);
      tlsSocket.on('close', () => tlsSockets.delete(tlsSocket));
      tlsSocket.on('error', () => tlsSocket.destroy());
      tlsSocket.once('secure', () => {
        clearTimeout(timer);
        if (idleTimeoutMs > 0) tlsSocket.setTimeout(idleTimeoutMs, () => tlsSocket.destroy());
        onSecure(tlsSocket, state);
      });
    };
    socket.on('data', onData);
  }

  const onDatagram = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    onFirstFlightDatagram(
      msg,
      rinfo.family === 'IPv6' ? `[${rinfo.address}]:${rinfo.port}` : `${rinfo.address}:${rinfo.port}`,
    );
  };

  function onFirstFlightDatagram(msg: Buffer, client: string): void {
    if (!quicViews) return;
    let completed: EchoQuicView | null = null;
    try {
      completed = quicViews.handle(msg, client);
    } catch {
      // The decoder turns bad bytes into coded errors; should a bug still throw, the server keeps running.
      return;
    }
    if (completed && options.onQuicView) {
      try {
        options.onQuicView(completed);
      } catch {
        // a throwing observer must not take the server down
      }
    }
  }

  /** Requests answered per QUIC connection (bounded: the oldest connections are forgotten). */
  const h3Requests = new Map<number, number>();
  const onHttp3Request = (server: NativeQuicEchoServer, event: NativeQuicRequest): void => {
    const count = (h3Requests.get(event.connection) ?? 0) + 1;
    h3Requests.delete(event.connection);
    h3Requests.set(event.connection, count);
    if (h3Requests.size > 1024) h3Requests.delete(h3Requests.keys().next().value as number);
    const method = event.fields.find(([n]) => n === ':method')?.[1] ?? '';
    const path = event.fields.find(([n]) => n === ':path')?.[1] ?? '';
    let status = 200;
    let body: string;
    try {
      const table = /^\/quic\/[0-9a-fA-F]+\/?(?:\?.*)?$/.test(path) ? quicAnswer(path) : null;
      if (table) {
        status = table.status;
        body = table.body;
      } else {
        const response = buildHttp3Response(event, decodeRecordedConnection(event), count);
        body = JSON.stringify(response, null, 2);
        if (options.onHttp3) {
          try {
            options.onHttp3(response);
          } catch {
            // a throwing observer must not take the server down
          }
        }
      }
    } catch (err) {
      status = 500;
      body = JSON.stringify({ error: `the echo could not decode this connection: ${String(err)}` });
    }
    const bytes = Buffer.from(body, 'utf8');
    server.respond(
      event.connection,
      event.stream,
      status,
      [
        ['content-type', 'application/json; charset=utf-8'],
        ['content-length', String(method === 'HEAD' ? 0 : bytes.length)],
        ['cache-control', 'no-store'],
      ],
      method === 'HEAD' ? Buffer.alloc(0) : bytes,
    );
  };

  /** The HTTP/3 endpoint on UDP `port`; null when that port is taken. */
  const startHttp3 = (port: number): NativeQuicEchoServer | null => {
    const QuicEchoServer = nativeQuicEchoServer();
    const toPem = (v: string | Buffer | undefined, fallback: string): string =>
      v === undefined ? fallback : typeof v === 'string' ? v : v.toString('utf8');
    let server: NativeQuicEchoServer | null = null;
    try {
      server = new QuicEchoServer(
        {
          host,
          port,
          cert: toPem(options.cert, ECHO_CERT_PEM),
          key: toPem(options.key, ECHO_KEY_PEM),
          maxConnections: options.quicMaxConnections ?? 64,
          qpackMaxTableCapacity: options.quicQpackMaxTableCapacity ?? 4096,
          handshakeTimeoutMs,
          idleTimeoutMs: idleTimeoutMs > 0 ? Math.min(idleTimeoutMs, 3_600_000) : 3_600_000,
        },
        (event) => {
          try {
            if (event.type === 'long-header') onFirstFlightDatagram(event.bytes, event.client);
            else if (server) onHttp3Request(server, event);
          } catch {
            // the server keeps running whatever one event does
          }
        },
      );
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_CONNECT') return null;
      throw err;
    }
    return server;
  };

  // No Nagle: a response's HEADERS and DATA go out at once (else a delayed ACK adds ~40 ms).
  let netServer!: net.Server;
  let udpSocket: dgram.Socket | null = null;
  let http3Server: NativeQuicEchoServer | null = null;
  const requestedPort = options.port ?? 0;
  for (let attempt = 1; ; attempt++) {
    const server = net.createServer({ noDelay: true }, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(requestedPort, host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    if (!quicViews) {
      netServer = server;
      break;
    }
    const tcpPort = (server.address() as net.AddressInfo).port;
    if (options.quicAnswer !== false) {
      let h3: NativeQuicEchoServer | null;
      try {
        h3 = startHttp3(tcpPort);
      } catch (err) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        throw err;
      }
      if (!h3) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (requestedPort !== 0 || attempt >= QUIC_PORT_ATTEMPTS) {
          throw Object.assign(new Error(`UDP port ${tcpPort} is taken`), { code: 'EADDRINUSE' });
        }
        continue;
      }
      netServer = server;
      http3Server = h3;
      break;
    }
    const udp = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    try {
      await bindUdp(udp, tcpPort, host);
    } catch (err) {
      udp.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (requestedPort !== 0 || attempt >= QUIC_PORT_ATTEMPTS) throw err;
      continue;
    }
    udp.on('message', onDatagram);
    udp.on('error', () => undefined);
    netServer = server;
    udpSocket = udp;
    break;
  }
  const address = netServer.address() as net.AddressInfo;
  const urlHost =
    host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;

  return {
    port: address.port,
    host,
    url(path = '/', hostname?: string): string {
      const h =
        hostname === undefined
          ? urlHost
          : hostname.includes(':') && !hostname.startsWith('[')
            ? `[${hostname}]`
            : hostname;
      return `https://${h}:${address.port}${path.startsWith('/') ? path : `/${path}`}`;
    },
    quicViews(): EchoQuicView[] {
      return quicViews ? quicViews.list() : [];
    },
    close(): Promise<void> {
      closing = true;
      if (udpSocket) {
        udpSocket.close();
        udpSocket = null;
      }
      if (http3Server) {
        http3Server.close();
        http3Server = null;
      }
      return new Promise<void>((resolve) => {
        netServer.close(() => resolve());
        for (const s of sessions) s.destroy();
        for (const s of tlsSockets) s.destroy();
        for (const s of rawSockets) s.destroy();
      });
    },
  };
}
