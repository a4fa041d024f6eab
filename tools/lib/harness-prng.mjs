// @ts-check
// The one seeded PRNG of the harnesses (tests, chaos suite, benchmarks, demo, simulator, fakes):
// mulberry32, so that a run is replayable from one uint32 seed. Plain ESM, no dependency.

/**
 * mulberry32: tiny, fast, good enough for test data and fault injection, and replayable from one
 * uint32 seed (the seed is taken modulo 2^32).
 *
 * @param {number} seed
 * @returns {() => number} a generator of floats in [0, 1)
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
