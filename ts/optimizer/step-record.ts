// What a step reports: its phases' results as token ids with their texts (the record the state's history keeps),
// and the step event, which adds where the run stands after the step.
import type { ModelTokenizer } from "../text/types.js";
import type { ScoredPrompt } from "./bookkeeping.js";
import type { CandidateProposal } from "./candidates.js";
import type { PromptText, StepEvent, StepRecord, StepTimings } from "./events.js";
import type { CandidateGradients } from "./gradient.js";
import type { SplitSizes } from "./row-splitter.js";
import type { Selection } from "./selection.js";
import type { OptimizerState } from "./state.js";
import { estimateRemaining } from "./workload.js";

/** What the phases of one step produced. */
export interface StepOutcome {
  /** 0-based index of the step in the run. */
  step: number;
  position: number;
  proposal: CandidateProposal;
  /** Null under the random-ranking ablation. */
  gradient: CandidateGradients | null;
  ranked: readonly number[];
  selection: Selection;
  /** The prompt with the chosen token in place. */
  chosenPrompt: number[];
  next: StepRecord["next"];
  timings: StepTimings;
  splitSizes: SplitSizes;
}

/** A prompt's ids with their text. */
export function promptText(tokenizer: ModelTokenizer, ids: readonly number[]): PromptText {
  return { ids: ids.slice(), text: tokenizer.decode(ids.slice()) };
}

export function stepRecord(tokenizer: ModelTokenizer, outcome: StepOutcome): StepRecord {
  const { proposal, gradient, ranked, selection } = outcome;
  const tokenText = (token: number) => ({ token, text: tokenizer.decode([token]) });
  return {
    step: outcome.step,
    position: outcome.position,
    k: proposal.k,
    kRaises: proposal.raises,
    candidates: proposal.candidates.map((token, index) => ({
      ...tokenText(token),
      gradient: gradient ? gradient.summed[index] : null,
    })),
    ranked: ranked.map(tokenText),
    rescored: selection.scored,
    chosen: { token: selection.chosen.token, text: selection.chosen.text },
    earlyExit: selection.earlyExit,
    loss: selection.chosen.score,
    gradientLoss: gradient ? gradient.meanLoss : null,
    prompt: promptText(tokenizer, outcome.chosenPrompt),
    next: outcome.next,
    timingsMs: outcome.timings,
    splitSizes: outcome.splitSizes,
  };
}

/** The event of the step `record` describes, with `state` the run's state after it. */
export function stepEvent(state: OptimizerState, record: StepRecord): StepEvent {
  return {
    type: "step",
    ...record,
    best: state.book.best as ScoredPrompt,
    stepsSinceImprovement: state.book.stepsSinceImprovement,
    eta: estimateRemaining(
      state.history.map((entry) => entry.timingsMs.total),
      state.stepsDone,
      state.stop === null ? state.config.steps : state.stepsDone,
    ),
    stop: state.stop,
  };
}
