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

/**
 * fast-check parameters: seeded (a failure names the seed and path to replay it), 2000 cases, or
 * CTN_FUZZ_RUNS cases for a longer local run (e.g. CTN_FUZZ_RUNS=200000 npx jest test/unit/sse.fuzz).
 */
function runs(seed) {
  return { numRuns: Number(process.env.CTN_FUZZ_RUNS) || 2000, seed, endOnFailure: true };
}

module.exports = { split, runs };
