// Out of memory never ends a run: an engine call that fails with code "OUT_OF_MEMORY" is retried on half
// as many rows, until it fits (the way nanoGCG searches an executable batch size). The size that fit is
// remembered per kind of call for the rest of the run and reported in every step event.
import { isOutOfMemory } from "../engine/types.js";

/** The engine calls the optimizer makes, each with its own remembered split size. */
export type EngineCallKind = "generate" | "topCandidates" | "oneHotGradient" | "scoreAnswers";

export const ENGINE_CALL_KINDS: readonly EngineCallKind[] = ["generate", "topCandidates", "oneHotGradient", "scoreAnswers"];

/** Rows per call in effect for each kind; null means "all rows of a phase in one call". */
export type SplitSizes = Record<EngineCallKind, number | null>;

export class RowSplitter {
  private readonly sizes: SplitSizes;

  /**
   * @param initialRows rows per call before any split (config.maxBatchRows); null = all rows.
   * @param saved split sizes found earlier in this run (from a saved state), which take precedence.
   */
  constructor(initialRows: number | null, saved?: Partial<SplitSizes>) {
    this.sizes = { generate: initialRows, topCandidates: initialRows, oneHotGradient: initialRows, scoreAnswers: initialRows };
    for (const kind of ENGINE_CALL_KINDS) {
      const size = saved?.[kind];
      if (size !== undefined) this.sizes[kind] = size;
    }
  }

  /** A copy of the split sizes in effect. */
  current(): SplitSizes {
    return { ...this.sizes };
  }

  /**
   * Runs `callRows` over rows [0, rowCount) in chunks of the remembered size, halving the chunk whenever a
   * call runs out of memory, and merges the chunks' results in row order.
   * @throws the out-of-memory error itself when even a single row does not fit; any other error unchanged.
   */
  async run<R>(
    kind: EngineCallKind,
    rowCount: number,
    callRows: (start: number, end: number) => Promise<R>,
    merge: (parts: R[]) => R,
  ): Promise<R> {
    const parts: R[] = [];
    let start = 0;
    while (start < rowCount) {
      const size = this.sizes[kind] ?? rowCount;
      const end = Math.min(start + size, rowCount);
      try {
        parts.push(await callRows(start, end));
        start = end;
      } catch (error) {
        const rows = end - start;
        if (!isOutOfMemory(error) || rows <= 1) throw error;
        this.sizes[kind] = Math.ceil(rows / 2);
      }
    }
    return parts.length === 1 ? parts[0] : merge(parts);
  }
}
