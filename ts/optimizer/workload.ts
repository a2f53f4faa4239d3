// How much work a step is, before it runs (so a user can judge a run's cost), and how long the run has left.
import type { GreaterConfig } from "./config.js";
import type { Eta } from "./events.js";

/** The work of one step, in engine terms. Upper bounds where generation length decides. */
export interface StepWork {
  trainExamples: number;
  /** Sequences generated greedily: the refresh (examples) and the selection (candidates × examples, at most). */
  generatedSequences: { refresh: number; selection: number; total: number };
  /** Prefix tokens read before generating (question, prompt and chat header of every generated row). */
  prefixTokens: number;
  /** At most this many new tokens (generatedSequences.total × maxNewTokens). */
  maxNewTokens: number;
  /** Rows of forward passes: the proposal (one per example), the gradient pass, the selection scoring. */
  forwardRows: { proposal: number; gradient: number; scoring: number; total: number };
  /** Rows of backward passes (the gradient pass). */
  backwardRows: number;
  /**
   * Engine calls when nothing is split: topCandidates, oneHotGradient, and per generation (refresh, selection)
   * generateForScoring + scoreContinuations; one scoreAnswers more in a step where some rows' layouts do not
   * split after their reasoning.
   */
  engineCalls: number;
}

/**
 * @param prefixLengths token count of each train example's generation prefix under the current prompt
 */
export function projectStepWork(
  prefixLengths: readonly number[],
  config: Pick<GreaterConfig, "candidatesToScore" | "maxNewTokens" | "reasoning" | "ranking">,
): StepWork {
  const examples = prefixLengths.length;
  const prefixTotal = prefixLengths.reduce((sum, length) => sum + length, 0);
  const refresh = config.reasoning ? examples : 0;
  const selection = config.candidatesToScore * examples;
  const gradientRows = config.ranking === "gradient" ? examples : 0;
  const scoring = config.candidatesToScore * examples;
  return {
    trainExamples: examples,
    generatedSequences: { refresh, selection, total: refresh + selection },
    prefixTokens: prefixTotal * ((config.reasoning ? 1 : 0) + config.candidatesToScore),
    maxNewTokens: (refresh + selection) * config.maxNewTokens,
    forwardRows: { proposal: examples, gradient: gradientRows, scoring, total: examples + gradientRows + scoring },
    backwardRows: gradientRows,
    engineCalls: (config.reasoning ? 2 : 0) + 1 + (config.ranking === "gradient" ? 1 : 0) + 2,
  };
}

/** The run's ETA from the durations of the steps done so far. */
export function estimateRemaining(stepDurationsMs: readonly number[], stepsDone: number, totalSteps: number): Eta {
  const elapsedMs = stepDurationsMs.reduce((sum, ms) => sum + ms, 0);
  const meanStepMs = stepDurationsMs.length === 0 ? 0 : elapsedMs / stepDurationsMs.length;
  const remainingSteps = Math.max(0, totalSteps - stepsDone);
  return { elapsedMs, meanStepMs, remainingSteps, remainingMs: meanStepMs * remainingSteps };
}
