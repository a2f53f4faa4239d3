import { describe, expect, it } from "vitest";
import { sumGradients } from "../../ts/optimizer/gradient.js";
import { Mulberry32 } from "../../ts/optimizer/prng.js";
import { rankByGradient, rankRandomly } from "../../ts/optimizer/ranking.js";

describe("gradient ranking", () => {
  it("sums the examples' gradients entry by entry", () => {
    const summed = sumGradients([Float32Array.from([0.5, -1, 0]), Float32Array.from([0.25, 2, -3])], 3);
    expect(Array.from(summed)).toEqual([0.75, 1, -3]);
  });

  it("takes the 3 candidates with the most negative summed gradient, most negative first", () => {
    const candidates = [10, 11, 12, 13, 14];
    const gradient = [0.5, -1, -3, 2, -0.5];
    expect(rankByGradient(candidates, gradient, 3)).toEqual([12, 11, 14]);
  });

  it("keeps the earlier candidate first among equal gradients", () => {
    expect(rankByGradient([10, 11, 12, 13], [0, -1, 0, -1], 3)).toEqual([11, 13, 10]);
  });

  it("returns all candidates when there are fewer than asked", () => {
    expect(rankByGradient([7, 8], [1, -1], 3)).toEqual([8, 7]);
  });

  it("rejects a gradient of the wrong length or with NaN", () => {
    expect(() => rankByGradient([1, 2], [0], 3)).toThrow(/one gradient entry per candidate/);
    expect(() => rankByGradient([1, 2], [0, Number.NaN], 3)).toThrow(/candidate 2 is NaN/);
    expect(() => sumGradients([Float32Array.from([1])], 2)).toThrow(/row 0 has 1 entries for 2/);
  });

  it("the random ablation draws distinct candidates with the run's generator", () => {
    // Mulberry32(9).sample_without_replacement(5, 3) = [0, 4, 2] (tools/reference/mulberry32.py)
    expect(rankRandomly([10, 11, 12, 13, 14], 3, new Mulberry32(9))).toEqual([10, 14, 12]);
  });
});
