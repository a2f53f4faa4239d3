// What a run reports: one start event with the projected work of a step, then one event per step.
// A step's record (without the live fields) is also what the state's history keeps.
import type { ScoredPrompt, StopReason } from "./bookkeeping.js";
import type { SplitSizes } from "./row-splitter.js";
import type { ScoredCandidate } from "./selection.js";
import type { StepWork } from "./workload.js";

/** A token id with its text. */
export interface TokenText {
  token: number;
  text: string;
}

/** A prompt as token ids and text. */
export interface PromptText {
  ids: number[];
  text: string;
}

/** One proposed candidate with its summed one-hot gradient (null under the random-ranking ablation). */
export interface CandidateGradient extends TokenText {
  gradient: number | null;
}

/** Wall-clock milliseconds of each phase of a step. */
export interface StepTimings {
  /** Step 0: reasoning of every train example under the current prompt. */
  refresh: number;
  /** Step 1: top-k sets and their intersections. */
  proposal: number;
  /** Step 2: the one-hot gradient over reasoning. */
  gradient: number;
  /** Step 3: ranking (negligible; random draws under the ablation). */
  ranking: number;
  /** Step 4: regenerated reasoning and scoring of the ranked candidates. */
  selection: number;
  /** The whole step. */
  total: number;
}

/** Everything one step did. */
export interface StepRecord {
  /** 0-based index of the step in the run. */
  step: number;
  /** The prompt position optimized. */
  position: number;
  /** The per-example top-k in effect (config.topK plus any raises). */
  k: number;
  /** How many times k was raised because the candidate set was too small. */
  kRaises: number;
  /** The candidate set (union of intersections, then the current token) with gradient scores. */
  candidates: CandidateGradient[];
  /** The candidates passed to selection, best first. */
  ranked: TokenText[];
  /** The candidates tried with regenerated reasoning, in ranked order, with mistake rate, NLL and score. */
  rescored: ScoredCandidate[];
  /** The token now at `position`. */
  chosen: TokenText;
  /** True when the choice was an early exit on a sentence end. */
  earlyExit: boolean;
  /** The step's loss: the chosen candidate's selection score. */
  loss: number;
  /** Mean gradient-pass loss L at the step's starting prompt (null under the random-ranking ablation). */
  gradientLoss: number | null;
  /** The prompt with the chosen token in place (the prompt the loss belongs to). */
  prompt: PromptText;
  /**
   * Where the next step works: `wrapped` to position 0 after a sentence end, or `grew` by a filler token;
   * `retokenized` when the grown prompt's text tokenizes differently (the next step works on that).
   */
  next: { position: number; wrapped: boolean; grew: boolean; retokenized: boolean };
  timingsMs: StepTimings;
  /** Rows per engine call in effect at the end of the step (null = unsplit). */
  splitSizes: SplitSizes;
}

/** Time spent and expected, over the whole run (resumed runs included). */
export interface Eta {
  elapsedMs: number;
  meanStepMs: number;
  /** Steps left before the step budget; the run may stop earlier on the threshold or patience. */
  remainingSteps: number;
  remainingMs: number;
}

/** Emitted once, before the first step of a run (or of a resumed run). */
export interface StartEvent {
  type: "start";
  resumed: boolean;
  /** Steps already done (0 for a new run). */
  stepsDone: number;
  position: number;
  prompt: PromptText;
  trainExamples: number;
  /** The work of one step, projected from the current prompt and the configuration. */
  projected: StepWork;
}

/** Emitted after every step. */
export interface StepEvent extends StepRecord {
  type: "step";
  best: ScoredPrompt;
  stepsSinceImprovement: number;
  eta: Eta;
  /** Set on the run's last step. */
  stop: StopReason | null;
}

export type GreaterEvent = StartEvent | StepEvent;
