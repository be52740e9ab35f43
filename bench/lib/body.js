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
// ALPN, 'h2' offers h2 and http/1.1. `size` ('small'|'large') selects the request count (--n-small /
// --n-large; 'c10k': --n-c10k). `proto`: the protocol the server is expected to report ($server_protocol).
const WORKLOADS = {
  small: { path: '/small.txt', bytes: 1024, concurrency: 32, server: 'h1', size: 'small', proto: 'HTTP/1.1' },
  large: {
    path: '/large.txt',
    bytes: 1024 * 1024,
    concurrency: 8,
    server: 'h1',
    size: 'large',
    proto: 'HTTP/1.1',
  },
  'h2-small': {
    path: '/small.txt',
    bytes: 1024,
    concurrency: 32,
    server: 'h2',
    size: 'small',
    proto: 'HTTP/2.0',
  },
  'h2-large': {
    path: '/large.txt',
    bytes: 1024 * 1024,
    concurrency: 8,
    server: 'h2',
    size: 'large',
    proto: 'HTTP/2.0',
  },
  // 10 000 requests all issued at once (--n-c10k): queueing, limits and memory under a burst
  'h2-c10k': {
    path: '/small.txt',
    bytes: 1024,
    concurrency: 10000,
    server: 'h2',
    size: 'c10k',
    proto: 'HTTP/2.0',
  },
};
// the static files served (one per distinct path)
const FILES = [...new Map(Object.values(WORKLOADS).map((w) => [w.path, w.bytes])).entries()].map(
  ([p, bytes]) => ({ path: p, bytes }),
);

module.exports = { makeBody, WORKLOADS, FILES };
