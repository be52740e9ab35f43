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

const WORKLOADS = {
  small: { path: '/small.txt', size: 1024, concurrency: 32 },
  large: { path: '/large.txt', size: 1024 * 1024, concurrency: 8 },
};

module.exports = { makeBody, WORKLOADS };
