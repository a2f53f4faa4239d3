import { describe, expect, it } from "vitest";
import { EngineError } from "../../ts/engine/types.js";
import { RowSplitter } from "../../ts/optimizer/row-splitter.js";

/** A call over rows [start, end) that runs out of memory above `limit` rows. */
function rowsCall(limit: number, log: [number, number][]) {
  return async (start: number, end: number) => {
    log.push([start, end]);
    if (end - start > limit) throw new EngineError("out of memory", "OUT_OF_MEMORY");
    return Array.from({ length: end - start }, (_, i) => start + i);
  };
}

describe("RowSplitter", () => {
  it("halves the batch on out-of-memory until it fits, keeping row order", async () => {
    const splitter = new RowSplitter(null);
    const log: [number, number][] = [];
    const rows = await splitter.run("generate", 10, rowsCall(3, log), (parts) => parts.flat());
    expect(rows).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // 10 → 5 → 3 rows per call
    expect(log).toEqual([[0, 10], [0, 5], [0, 3], [3, 6], [6, 9], [9, 10]]);
    expect(splitter.current().generate).toBe(3);
  });

  it("remembers the size per kind of call", async () => {
    const splitter = new RowSplitter(null);
    await splitter.run("scoreAnswers", 8, rowsCall(2, []), (parts) => parts.flat());
    const log: [number, number][] = [];
    await splitter.run("scoreAnswers", 4, rowsCall(2, log), (parts) => parts.flat());
    expect(log).toEqual([[0, 2], [2, 4]]);
    expect(splitter.current()).toEqual({ generate: null, topCandidates: null, oneHotGradient: null, scoreAnswers: 2 });
  });

  it("starts from the configured rows per call and from saved sizes", async () => {
    const log: [number, number][] = [];
    await new RowSplitter(4).run("generate", 6, rowsCall(10, log), (parts) => parts.flat());
    expect(log).toEqual([[0, 4], [4, 6]]);
    expect(new RowSplitter(4, { oneHotGradient: 1 }).current().oneHotGradient).toBe(1);
  });

  it("gives up only when a single row does not fit, and passes other errors through", async () => {
    await expect(new RowSplitter(null).run("generate", 4, rowsCall(0, []), (p) => p.flat())).rejects.toThrow("out of memory");
    const failing = async (): Promise<number[]> => {
      throw new Error("bad sequence");
    };
    await expect(new RowSplitter(null).run("generate", 4, failing, (p) => p.flat())).rejects.toThrow("bad sequence");
  });
});
