// Step 3, candidate ranking: the candidates whose gradient entry is most negative are those that should
// lower the loss most when swapped in; the best few go on to the (expensive) selection by regenerated
// reasoning. The random ranking is the ablation that shows what the gradient adds.
import type { Mulberry32 } from "./prng.js";

/**
 * The `count` candidates with the most negative summed gradient, most negative first. Equal gradients keep
 * the candidates' order (the earlier candidate first).
 */
export function rankByGradient(candidates: readonly number[], gradient: ArrayLike<number>, count: number): number[] {
  if (gradient.length !== candidates.length) {
    throw new Error(`ranking needs one gradient entry per candidate (${gradient.length} for ${candidates.length})`);
  }
  for (let index = 0; index < gradient.length; index++) {
    if (Number.isNaN(gradient[index])) throw new Error(`the gradient of candidate ${candidates[index]} is NaN`);
  }
  return candidates
    .map((token, index) => ({ token, index, value: gradient[index] }))
    .sort((a, b) => a.value - b.value || a.index - b.index)
    .slice(0, count)
    .map((entry) => entry.token);
}

/** Ablation: `count` candidates drawn at random without replacement, in draw order. */
export function rankRandomly(candidates: readonly number[], count: number, rng: Mulberry32): number[] {
  return rng
    .sampleWithoutReplacement(candidates.length, Math.min(count, candidates.length))
    .map((index) => candidates[index]);
}
