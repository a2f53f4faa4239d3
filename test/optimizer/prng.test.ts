import { describe, expect, it } from "vitest";
import { Mulberry32 } from "../../ts/optimizer/prng.js";

// Values from tools/reference/mulberry32.py, the Python port the reference step draws with.
describe("Mulberry32", () => {
  it("draws the same floats as the Python port", () => {
    const rng = new Mulberry32(42);
    expect([rng.next(), rng.next(), rng.next()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    expect(rng.getState()).toBe(1199730185);
  });

  it("samples without replacement by a partial Fisher-Yates shuffle, as the Python port", () => {
    const rng = new Mulberry32(7);
    expect(rng.sampleWithoutReplacement(10, 5)).toEqual([0, 1, 9, 7, 3]);
    expect(rng.getState()).toBe(567894480);
  });

  it("continues identically from a saved state", () => {
    const a = new Mulberry32(123);
    a.next();
    const b = Mulberry32.fromState(a.getState());
    expect([a.next(), a.next()]).toEqual([b.next(), b.next()]);
  });

  it("derives the sample from the floats: item j swaps with j + floor(value × (n − j))", () => {
    const floats = new Mulberry32(5);
    const values = [floats.next(), floats.next()];
    const items = [0, 1, 2, 3];
    const r0 = Math.floor(values[0] * 4);
    [items[0], items[r0]] = [items[r0], items[0]];
    const r1 = 1 + Math.floor(values[1] * 3);
    [items[1], items[r1]] = [items[r1], items[1]];
    expect(new Mulberry32(5).sampleWithoutReplacement(4, 2)).toEqual(items.slice(0, 2));
  });

  it("rejects impossible draws and bad states", () => {
    expect(() => new Mulberry32(1).sampleWithoutReplacement(3, 4)).toThrow(/4 distinct items out of 3/);
    expect(() => Mulberry32.fromState(-1)).toThrow(/32-bit/);
  });
});
