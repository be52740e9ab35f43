// Part of the fingerprint echo (lib/echo.ts): its ECH side. The addon's EchEchoServer (native/ech_server:
// TLS over TCP holding ECH keys, BoringSSL's server side) answers each connection natively with what it saw
// of the client's Encrypted ClientHello; with `quic: true` the same port number over UDP is its HTTP/3 side
// (native/quic_server holding the same keys), answering each request with the same JSON for its QUIC
// connection. Here it is started, and its answers read with the echo's own ClientHello parser (the inner
// hello's JA4 and extension list).
import * as fs from 'node:fs';

import { parseClientHello } from './clienthello';
import type { ClientHello } from './clienthello';
import { ja4 } from './ja';

/** What the server does with the ECHConfigList it gives (`echConfigList`). */
export type EchServerMode = 'accept' | 'retry' | 'disable' | 'rotate';

interface NativeEchEchoServer {
  port(): number;
  echConfigList(): Buffer;
  close(): void;
}

type NativeEchEchoServerClass = new (options: {
  host: string;
  port: number;
  cert: string;
  key: string;
  mode: EchServerMode;
  publicName?: string;
  quic?: boolean;
}) => NativeEchEchoServer;

/** The server's JSON answer (native/ech_server/ech_server.cc), over TCP and over HTTP/3 alike. */
export interface EchEchoAnswer {
  method: string;
  path: string;
  /** offered: the outer hello carried encrypted_client_hello (real or GREASE); accepted: decrypted. */
  ech: { offered: boolean; accepted: boolean };
  /** SNI of the hello on the wire: the config's public_name under real ECH. */
  outerSni: string;
  /** SNI of the decrypted inner hello (null unless ECH was accepted). */
  innerSni: string | null;
  /** The handshake messages, hex. */
  outerHello: string;
  innerHello: string | null;
}

export interface EchEchoServer {
  port: number;
  /** `https://localhost:<port><path>`. */
  url(path?: string): string;
  /** The ECHConfigList a client should offer, base64 (the `echConfigList` option). */
  echConfigList: string;
  /** HTTP/3 answers on the same port number over UDP (started with `quic: true`). */
  quic: boolean;
  close(): Promise<void>;
}

/**
 * Starts the ECH echo on 127.0.0.1 (`port` 0: any). `cert`/`key`: PEM files valid for the names asked for and
 * for `publicName` (default ech-public.test). Modes: 'accept' holds the key of `echConfigList`; 'retry' holds
 * another key and rejects with it as retry configs; 'disable' holds none and rejects without retry configs;
 * 'rotate' holds a new key for each connection, so a client's retry is rejected again. `quic`: HTTP/3 too,
 * on the same port number over UDP, with the same keys and answers (default false).
 */
export function startEchEchoServer(options: {
  mode: EchServerMode;
  cert: string;
  key: string;
  publicName?: string;
  port?: number;
  quic?: boolean;
}): EchEchoServer {
  const { loadAddon } = require('../native') as typeof import('../native');
  const Cls = (loadAddon() as unknown as { EchEchoServer?: NativeEchEchoServerClass }).EchEchoServer;
  if (!Cls) throw new Error('this build of the addon has no ECH echo endpoint (EchEchoServer)');
  const server = new Cls({
    host: '127.0.0.1',
    port: options.port ?? 0,
    cert: fs.readFileSync(options.cert, 'utf8'),
    key: fs.readFileSync(options.key, 'utf8'),
    mode: options.mode,
    publicName: options.publicName,
    quic: options.quic === true,
  });
  const port = server.port();
  return {
    port,
    url: (path = '/') => `https://localhost:${port}${path}`,
    echConfigList: server.echConfigList().toString('base64'),
    quic: options.quic === true,
    close: async () => server.close(),
  };
}

/** The inner hello of an answer, parsed by the echo's parser, with its JA4 and extension ids in order. */
export function echInnerHello(
  answer: EchEchoAnswer,
): { hello: ClientHello; ja4: string; extensions: number[] } | null {
  if (!answer.innerHello) return null;
  const hello = parseClientHello(Buffer.from(answer.innerHello, 'hex'));
  return { hello, ja4: ja4(hello), extensions: hello.extensions.map((e) => e.id) };
}
