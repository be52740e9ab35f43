'use strict';
// Shared by the property-based parser tests (test/unit/*.fuzz.test.js, fast-check).

/** Cuts `bytes` at the given points (any numbers: taken modulo length + 1, sorted, deduplicated). */
function split(bytes, cuts) {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces = [];
  let from = 0;
  for (const c of at) {
    pieces.push(bytes.subarray(from, c));
    from = c;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

module.exports = { split };
