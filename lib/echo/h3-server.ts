// Part of the fingerprint echo server (lib/echo.ts): its HTTP/3 side. The addon's QuicEchoServer
// (native/quic_server: ngtcp2 + nghttp3 + BoringSSL) answers QUIC on the UDP port and hands each complete
// request over with the record of its connection (every datagram both ways, the TLS key log); here that
// record is decoded like a captured browser connection (decodeQuicConnection) and the request is answered
// with what the server saw of that very connection: its QUIC first flight and its HTTP/3 (SETTINGS, GREASE,
// PRIORITY_UPDATE, QPACK, field order).
import { decodeQuicConnection } from './quic-conn';
import type { QuicConnectionError, QuicConnectionView } from './quic-conn';
import type { Http3Request, Http3View } from './h3';
import type { QuicView } from './quic';

/** One request as the native endpoint hands it over (native/binding/quic_echo_server.h). */
export interface NativeQuicRequest {
  type: 'request';
  connection: number;
  stream: number;
  client: string;
  fields: [string, string][];
  body: Buffer;
  datagrams: { sent: boolean; bytes: Buffer }[];
  keyLog: string;
  recordingTruncated: boolean;
}

export interface NativeQuicLongHeader {
  type: 'long-header';
  client: string;
  bytes: Buffer;
}

export interface NativeQuicEchoServer {
  port(): number;
  respond(
    connection: number,
    stream: number,
    status: number,
    headers: [string, string][],
    body: Buffer,
  ): void;
  close(): void;
}

type NativeQuicEchoServerClass = new (
  options: {
    host: string;
    port: number;
    cert: string;
    key: string;
    maxConnections?: number;
    maxStreams?: number;
    qpackMaxTableCapacity?: number;
    handshakeTimeoutMs?: number;
    idleTimeoutMs?: number;
  },
  onEvent: (event: NativeQuicRequest | NativeQuicLongHeader) => void,
) => NativeQuicEchoServer;

/**
 * The addon's QuicEchoServer; loaded only when the echo is asked for HTTP/3 (the echo is plain JS
 * otherwise).
 */
export function nativeQuicEchoServer(): NativeQuicEchoServerClass {
  const { loadAddon } = require('../native') as typeof import('../native');
  const cls = (loadAddon() as unknown as { QuicEchoServer?: NativeQuicEchoServerClass }).QuicEchoServer;
  if (!cls) throw new Error('this build of the addon has no HTTP/3 echo endpoint (QuicEchoServer)');
  return cls;
}

/**
 * What the echo answers over HTTP/3: the request, and that connection's QUIC and HTTP/3 as the server saw
 * them.
 */
export interface EchoHttp3Response {
  time: string;
  ip: string;
  /** The server's number for the QUIC connection ("quic-3"). */
  connection: string;
  request_on_connection: number;
  http_version: 'HTTP/3';
  method: string;
  path: string;
  /** Regular header fields in wire order. */
  headers: [string, string][];
  /** The pseudo-header names in wire order. */
  pseudo_header_order: string[];
  user_agent: string | null;
  body_length: number;
  /** QUIC JA4 of this connection's first flight. */
  ja4: string | null;
  /** The connection's first flight: Initials, ClientHello, transport parameters (null: not decodable). */
  quic: QuicView | null;
  /**
   * The connection's client HTTP/3 up to this request: SETTINGS, GREASE, PRIORITY_UPDATE, QPACK, requests.
   */
  http3: Http3View;
  /** This request as decoded from the connection's packets (null when it could not be found there). */
  http3_request: Http3Request | null;
  /** What the decoder could not read (empty for a clean connection). */
  quic_errors: QuicConnectionError[];
  /** The server's record hit its bound: later datagrams are missing from the view. */
  recording_truncated: boolean;
}

/** Decodes a request's connection record (datagrams both ways + key log) into the whole-connection view. */
export function decodeRecordedConnection(event: NativeQuicRequest): QuicConnectionView {
  return decodeQuicConnection(
    event.datagrams.map((d) => ({ from: d.sent ? 'server' : 'client', data: d.bytes })),
    event.keyLog,
  );
}

export function buildHttp3Response(
  event: NativeQuicRequest,
  view: QuicConnectionView,
  requestOnConnection: number,
): EchoHttp3Response {
  const pseudo = event.fields.filter(([n]) => n.startsWith(':'));
  const headers = event.fields.filter(([n]) => !n.startsWith(':'));
  const field = (name: string): string => pseudo.find(([n]) => n === name)?.[1] ?? '';
  const ua = headers.find(([n]) => n.toLowerCase() === 'user-agent');
  return {
    time: new Date().toISOString(),
    ip: event.client,
    connection: `quic-${event.connection}`,
    request_on_connection: requestOnConnection,
    http_version: 'HTTP/3',
    method: field(':method'),
    path: field(':path'),
    headers,
    pseudo_header_order: pseudo.map(([n]) => n),
    user_agent: ua ? ua[1] : null,
    body_length: event.body.length,
    ja4: view.first_flight?.ja4 ?? null,
    quic: view.first_flight,
    http3: view.http3,
    http3_request: view.http3.requests.find((r) => r.stream_id === event.stream) ?? null,
    quic_errors: view.errors,
    recording_truncated: event.recordingTruncated,
  };
}
