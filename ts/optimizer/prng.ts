// The one seeded generator behind every random draw of a run (the intersections' example draws and the
// random-ranking ablation). Its whole state is one 32-bit integer, so it saves into the optimizer state
// and a resumed run continues the exact same sequence.
//
// The algorithm is spelled out so that tools/reference/greater_step.py draws identically:
//   mulberry32 (Tommy Ettinger, public domain):
//     state = (state + 0x6D2B79F5) mod 2^32
//     t = (state ^ (state >>> 15)) * (state | 1)            mod 2^32
//     t = t ^ (t + (t ^ (t >>> 7)) * (t | 61))              mod 2^32
//     value = (t ^ (t >>> 14)) / 2^32                        in [0, 1)
//   uniform integer in [0, n): floor(value * n)
//   k of n without replacement: a partial Fisher-Yates shuffle of [0, 1, ..., n-1]: for j = 0 .. k-1,
//     swap item j with item j + uniformInt(n - j); the sample is items 0 .. k-1 in that order.

export class Mulberry32 {
  private state: number;

  /** @param seed any integer; only its low 32 bits matter. */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The generator's complete state (an unsigned 32-bit integer), for saving. */
  getState(): number {
    return this.state;
  }

  /** Restores a state from getState(). */
  static fromState(state: number): Mulberry32 {
    if (!Number.isInteger(state) || state < 0 || state > 0xffffffff) {
      throw new Error(`random generator state must be an unsigned 32-bit integer (got ${state})`);
    }
    return new Mulberry32(state);
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), this.state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  uniformInt(n: number): number {
    if (!Number.isInteger(n) || n < 1) throw new Error(`uniformInt needs a positive integer bound (got ${n})`);
    return Math.floor(this.next() * n);
  }

  /** `count` distinct integers of [0, n), in draw order (partial Fisher-Yates). */
  sampleWithoutReplacement(n: number, count: number): number[] {
    if (!Number.isInteger(count) || count < 0 || count > n) {
      throw new Error(`cannot draw ${count} distinct items out of ${n}`);
    }
    const items = Array.from({ length: n }, (_, index) => index);
    for (let j = 0; j < count; j++) {
      const r = j + this.uniformInt(n - j);
      [items[j], items[r]] = [items[r], items[j]];
    }
    return items.slice(0, count);
  }
}
