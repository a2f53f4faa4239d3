// Seeded, reproducible shuffles for the train/dev/test splits. The generator is our own few lines (not a
// library) so that a recorded seed gives the same split in every version of every dependency.

/**
 * A 32-bit seeded pseudo-random generator (the "mulberry32" construction: a Weyl sequence passed through
 * an integer mixing function). Returns floats in [0, 1). Plenty for shuffling a few thousand examples.
 */
export function seededRandom(seed: number): () => number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`split seed must be an integer in [0, 2^32), got ${seed}`);
  }
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/** A copy of `items` in a seeded random order (Fisher–Yates); the same seed gives the same order. */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const random = seededRandom(seed);
  const shuffled = [...items];
  for (let last = shuffled.length - 1; last > 0; last--) {
    const pick = Math.floor(random() * (last + 1));
    [shuffled[last], shuffled[pick]] = [shuffled[pick], shuffled[last]];
  }
  return shuffled;
}

/** The split seed used when the caller gives none. */
export const DEFAULT_SPLIT_SEED = 0;
