#!/usr/bin/env node
// cycletls-native-echo: a local HTTPS fingerprint echo server (h2 + http/1.1). Every request is answered with JSON:
// JA3/JA3N/JA4 of the ClientHello, the parsed ClientHello, the HTTP/2 first flight and Akamai fingerprint, and the
// request headers in wire order. With --quic it is also an HTTP/3 endpoint on UDP (same port) answering with that
// connection's QUIC and HTTP/3 fingerprint, and serves every QUIC first flight at /quic. Runs until SIGINT/SIGTERM.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const USAGE = `usage: cycletls-native-echo [--port N] [--host H] [--cert FILE --key FILE] [--alpn h2,http/1.1] [--quic [--quic-silent]] [--log]

  --port N      TCP port, and UDP port with --quic (default 8443; 0 picks a free one)
  --host H      address to listen on (default 127.0.0.1)
  --cert FILE   PEM certificate (default: built-in self-signed cert for localhost, 127.0.0.1, ::1, fp.test)
  --key FILE    PEM private key for --cert
  --alpn LIST   comma-separated ALPN protocols the server accepts (default h2,http/1.1)
  --quic        also listen on UDP (same port): HTTP/3, each answer is that connection's QUIC and HTTP/3
                fingerprint (SETTINGS, GREASE, PRIORITY_UPDATE, QPACK, field order); and every QUIC
                client's first flight (QUIC JA4, transport parameters, datagrams) at /quic and /quic/<dcid>
  --quic-silent with --quic: never answer over UDP, only record first flights (a silent peer)
  --log         print one JSON line per request (and per connection without a request, and with --quic
                per QUIC view as {"quic": view} and per HTTP/3 answer as {"http3": answer}) on stdout
`;

function fail(message) {
  process.stderr.write(`cycletls-native-echo: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: 8443, host: '127.0.0.1', log: false, quic: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const takeValue = () => {
      if (eq > 0 && arg.startsWith('--')) return arg.slice(eq + 1);
      if (i + 1 >= argv.length) fail(`${name} needs a value`);
      return argv[++i];
    };
    switch (name) {
      case '-h':
      case '--help':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      case '--port': {
        const v = takeValue();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n > 65535)
          fail(`--port must be an integer 0..65535, got ${JSON.stringify(v)}`);
        opts.port = n;
        break;
      }
      case '--host':
        opts.host = takeValue();
        break;
      case '--cert':
        opts.certFile = takeValue();
        break;
      case '--key':
        opts.keyFile = takeValue();
        break;
      case '--alpn':
        opts.alpn = takeValue()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (opts.alpn.length === 0) fail('--alpn needs at least one protocol');
        break;
      case '--log':
        opts.log = true;
        break;
      case '--quic':
        opts.quic = true;
        break;
      case '--quic-silent':
        opts.quicSilent = true;
        break;
      default:
        fail(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (Boolean(opts.certFile) !== Boolean(opts.keyFile)) fail('--cert and --key go together');
  if (opts.quicSilent && !opts.quic) fail('--quic-silent goes with --quic');
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let echo;
  try {
    echo = require(path.join(__dirname, '..', 'dist', 'echo.js'));
  } catch (err) {
    process.stderr.write(
      `cycletls-native-echo: dist/echo.js is missing; build first (npm run build:ts)\n${err.message}\n`,
    );
    process.exit(1);
  }
  const server = await echo.startEchoServer({
    port: opts.port,
    host: opts.host,
    cert: opts.certFile ? fs.readFileSync(opts.certFile) : undefined,
    key: opts.keyFile ? fs.readFileSync(opts.keyFile) : undefined,
    alpn: opts.alpn,
    onRecord: opts.log ? (record) => process.stdout.write(`${JSON.stringify(record)}\n`) : undefined,
    quic: opts.quic,
    quicAnswer: !opts.quicSilent,
    onHttp3: opts.log
      ? (answer) => process.stdout.write(`${JSON.stringify({ http3: answer })}\n`)
      : undefined,
    onQuicView: opts.log ? (view) => process.stdout.write(`${JSON.stringify({ quic: view })}\n`) : undefined,
  });
  process.stdout.write(`${server.url('/')}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`cycletls-native-echo: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
