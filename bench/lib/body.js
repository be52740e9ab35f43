'use strict';
// Deterministic printable bodies: 64-byte lines "<offset> <filler>\n", so a body that is cut,
// doubled or mixed with another response is detected by a byte comparison, not only by length.
function makeBody(size) {
  const b = Buffer.alloc(size);
  const filler = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';
  for (let off = 0; off < size; off += 64) {
    const line = (off.toString(16).padStart(8, '0') + ' ' + filler).slice(0, 63) + '\n';
    b.write(line.slice(0, Math.min(64, size - off)), off, 'latin1');
  }
  return b;
}

// `server`: which listener of the target server the workload uses — 'h1' offers only http/1.1 in
// ALPN, 'h2' offers h2 and http/1.1; 'h1cold' / 'h2cold' close the connection after every request
// (see lib/server.js); 'caddy': caddy serving the same files on one port, h3 on UDP and h1/h2 on TCP
// (lib/caddy.js). `http3`: the clients are asked for HTTP/3 (no TCP). `size` selects the request count (the `--n-<size>` flag, e.g. --n-small).
// `proto`: the protocol the server is expected to report ($server_protocol). `optIn`: not in the
// default set (heavy; `--workloads` or `--issue16` selects it). `proxy`: through the local proxy of
// that kind (own process). `clients` / `skip`: which clients run it (others get a "skipped" cell
// that says why). `warmup`: a fixed warm-up count instead of the default rule. `sweep`: a row of the
// concurrency sweep (CPU per request compared with h2-small's).
const small = { path: '/small.txt', bytes: 1024 };
const large = { path: '/large.txt', bytes: 1024 * 1024 };
const H1 = { server: 'h1', proto: 'HTTP/1.1' };
const H2 = { server: 'h2', proto: 'HTTP/2.0' };
// cycletls 2.0.5 fails most requests at 10 000 in flight already (a connection per request; see
// h2-c10k), undici too (TLS sockets disconnected): at 50 000 they would only burn the cell timeout
const NOT_AT_50K = 'fails most requests at 10 000 in flight already (h2-c10k)';
// cycletls 2.0.5 is slow here (~600 req/s with a connection per request, ~2 000 with reuse): rows of
// 10 000 requests at 100 and 1 000 in flight would add minutes per round; its h2-c10k row stays
const CONN_PER_REQUEST = 'slow on 10 000 requests (cycletls 2.0.5): its h2-c10k row shows the burst';
const notCycletls = { cycletls: CONN_PER_REQUEST, 'cycletls-reuse': CONN_PER_REQUEST };
// HTTP/3 against Debian's caddy (quic-go), beside HTTP/2 on the same caddy (its TCP port): ours and
// impit, the peer that speaks HTTP/3 (cycletls 2.0.5's h3 has no connection reuse here, wreq-js none
// released, undici none).
const CADDY_CLIENTS = ['cycletls-native', 'impit'];
const CADDY = {
  clients: CADDY_CLIENTS,
  clientsWhy: 'the HTTP/3 rows compare ours with impit (the other client here that speaks HTTP/3)',
};
const H3 = { server: 'caddy', proto: 'HTTP/3.0', http3: true, ...CADDY };
const CADDY_H2 = { server: 'caddy', proto: 'HTTP/2.0', ...CADDY };
const WORKLOADS = {
  small: { ...small, ...H1, concurrency: 32, size: 'small' },
  large: { ...large, ...H1, concurrency: 8, size: 'large' },
  'h2-small': { ...small, ...H2, concurrency: 32, size: 'small' },
  'h2-large': { ...large, ...H2, concurrency: 8, size: 'large' },
  'h3-small': { ...small, ...H3, concurrency: 32, size: 'small' },
  'h3-large': { ...large, ...H3, concurrency: 8, size: 'large' },
  'caddy-h2-small': { ...small, ...CADDY_H2, concurrency: 32, size: 'small' },
  'caddy-h2-large': { ...large, ...CADDY_H2, concurrency: 8, size: 'large' },
  // the concurrency sweep: all issued at once, queueing, limits and memory under a burst (nginx
  // allows 128 streams per connection: the rest wait in the client)
  'h2-c100': { ...small, ...H2, concurrency: 100, size: 'sweep', sweep: true, skip: notCycletls },
  'h2-c1k': { ...small, ...H2, concurrency: 1000, size: 'sweep', sweep: true, skip: notCycletls },
  'h2-c10k': { ...small, ...H2, concurrency: 10000, size: 'c10k', sweep: true },
  'h2-c50k': {
    ...small,
    ...H2,
    concurrency: 50000,
    size: 'c50k',
    sweep: true,
    optIn: true,
    skip: { cycletls: NOT_AT_50K, 'cycletls-reuse': NOT_AT_50K, undici: NOT_AT_50K },
  },
  // a new TLS connection per request (the server closes after each response), 16 in flight
  'cold-h1': { ...small, server: 'h1cold', proto: 'HTTP/1.1', concurrency: 16, size: 'cold' },
  'cold-h2': { ...small, server: 'h2cold', proto: 'HTTP/2.0', concurrency: 16, size: 'cold' },
  // through a local proxy in its own process, to the h2 port: compare with h2-small (direct)
  'proxy-connect': { ...small, ...H2, concurrency: 32, size: 'small', proxy: 'connect' },
  'proxy-socks5': { ...small, ...H2, concurrency: 32, size: 'small', proxy: 'socks5' },
  // memory and descriptors over a long run: RSS and open fds at the start and end of the timed phase
  long: {
    ...small,
    ...H2,
    concurrency: 32,
    size: 'long',
    warmup: 2000,
    optIn: true,
    clients: ['cycletls-native', 'cycletls-native-remote', 'cycletls-native-baseline', 'wreq-js'],
    clientsWhy: 'the long run is for ours and wreq-js',
  },
};
// the static files served (one per distinct path)
const FILES = [...new Map(Object.values(WORKLOADS).map((w) => [w.path, w.bytes])).entries()].map(
  ([p, bytes]) => ({ path: p, bytes }),
);

module.exports = { makeBody, WORKLOADS, FILES };
