'use strict';
// node proxy-proc.js connect|socks5: one of the test suite's local proxies (test/helpers/proxies.js:
// an HTTP CONNECT proxy, a SOCKS5 server) in a process of its own on 127.0.0.1, port 0, so that
// run.js can measure its CPU apart from the client's and the server's. Forked with IPC: sends
// { type: 'listening', port, url } once it accepts connections and exits when run.js goes away.
const path = require('node:path');
const { startHttpProxy, startSocksServer } = require(
  path.join(__dirname, '..', '..', 'test', 'helpers', 'proxies.js'),
);

const kind = process.argv[2];
const starters = {
  connect: async () => {
    const p = await startHttpProxy();
    return { port: p.port, url: p.url(), log: p.log };
  },
  socks5: async () => {
    const p = await startSocksServer();
    return { port: p.port, url: p.url('socks5'), log: p.log };
  },
};
if (!starters[kind]) {
  console.error(`usage: node proxy-proc.js ${Object.keys(starters).join('|')}`);
  process.exit(2);
}
starters[kind]().then(
  (p) => {
    // the helpers keep one log entry per tunnel for the tests; a long run through a pooled client
    // makes few tunnels, but a client with a new connection per request makes one each: keep the
    // log bounded
    setInterval(() => p.log.splice(0, p.log.length), 1000).unref();
    process.send({ type: 'listening', port: p.port, url: p.url });
  },
  (err) => {
    console.error(`proxy ${kind} failed: ${err.stack || err}`);
    process.exit(1);
  },
);
process.on('disconnect', () => process.exit(0));
