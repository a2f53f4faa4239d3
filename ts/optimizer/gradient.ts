// Step 2, gradient over reasoning: how the loss of the gold answer, read after the model's own reasoning,
// changes when the token at prompt position i moves toward each candidate.
//
// For every train example the full sequence chat(user: x ⊕ p) ⊕ r ⊕ " " ⊕ e ⊕ y is built with the reasoning r
// fixed; the engine replaces the embedding at position i by onehot · E[candidates] (the one-hot selecting
// the current token) and back-propagates L = CE(answer logits / τ, y) + λ · mean_j(−log P(p_j | prefix)) to
// the one-hot. All examples go in one oneHotGradient call; their gradients are summed (the code normalises
// the sum per model worker, which does not change the ranking).
import { absolutePromptPosition, layoutFull, type StepContext } from "./context.js";
import { oneHotGradientRows } from "./engine-calls.js";
import type { ReasoningSet } from "./reasoning.js";

export interface CandidateGradients {
  /** Per candidate (same order as the candidates): dL/d(onehot) summed over the train examples. */
  summed: Float64Array;
  /** Mean over examples of the loss L at the current prompt. */
  meanLoss: number;
}

/** Sums per-example gradient rows, entry by entry, in float64. */
export function sumGradients(rows: readonly Float32Array[], candidateCount: number): Float64Array {
  const summed = new Float64Array(candidateCount);
  rows.forEach((row, index) => {
    if (row.length !== candidateCount) {
      throw new Error(`gradient row ${index} has ${row.length} entries for ${candidateCount} candidates`);
    }
    for (let c = 0; c < candidateCount; c++) summed[c] += row[c];
  });
  return summed;
}

/**
 * Step 2 against the model. With `config.reasoning === false` (ablation) the reasoning in `current` is
 * empty, so the answer follows the prompt directly.
 */
export async function gradientOverReasoning(
  context: StepContext,
  current: ReasoningSet,
  position: number,
  candidates: number[],
): Promise<CandidateGradients> {
  const layouts = context.examples.map((example, index) =>
    layoutFull(context, example, current.prompt, current.reasoning[index]),
  );
  const result = await oneHotGradientRows(context.model, context.splitter, {
    sequences: layouts.map((layout) => layout.ids),
    positions: layouts.map((layout) => absolutePromptPosition(layout, position)),
    candidates,
    answerSpans: layouts.map((layout) => layout.spans.answer),
    promptSpans: layouts.map((layout) => layout.spans.prompt),
    temperature: context.config.answerTemperature,
    controlWeight: context.config.controlWeight,
    signal: context.signal,
  });
  const meanLoss = result.losses.reduce((sum, loss) => sum + loss, 0) / Math.max(1, result.losses.length);
  return { summed: sumGradients(result.gradients, candidates.length), meanLoss };
}
