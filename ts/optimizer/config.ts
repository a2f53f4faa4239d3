// The optimizer's configuration: one flat object, every default beside its reason.
// Defaults follow the authors' code (psunlpgroup/GreaTer) where it differs from the paper's text, because
// the code produced the published numbers; see docs/algorithm.md.
import type { UserTurnTemplate } from "../text/types.js";

/** How the candidates re-scored by regenerated reasoning are picked from the proposal. */
export type CandidateRanking = "gradient" | "random";

/** Which tokens the proposal may never offer (see the text layer's candidate filter). */
export type CandidateFilterRule = "strict" | "punctuation" | "ascii";

export interface GreaterConfig {
  /** The prompt the search starts from (text; tokenized once, then edited as token ids). */
  initialPrompt: string;
  /** Per-example top-k of the proposal distribution. */
  topK: number;
  /** How many random intersections are unioned into the candidate set. */
  topQ: number;
  /** How many train examples' top-k sets each intersection spans. */
  examplesPerIntersection: number;
  /** Below this many candidates, k is raised and the intersections are drawn again. */
  minCandidates: number;
  /** How much k grows each time the candidate set is too small. */
  kIncrement: number;
  /** How many top-ranked candidates are re-scored with regenerated reasoning. */
  candidatesToScore: number;
  /** τ: the answer logits are divided by it in the gradient loss. */
  answerTemperature: number;
  /** λ: weight of the prompt's fluency (mean NLL) in the gradient loss; λ/10 in the selection score. */
  controlWeight: number;
  /** Longest reasoning generated per example. */
  maxNewTokens: number;
  /** Most optimization steps (one prompt position each). */
  steps: number;
  /** Stop when this many steps passed since the best loss last improved. */
  patience: number;
  /** Stop as soon as a step's loss falls under this. */
  lossThreshold: number;
  /** Seed of the one generator behind every random draw. */
  seed: number;
  /** How question and prompt form the user turn (also decides whether the prompt comes first). */
  userTurnTemplate: UserTurnTemplate;
  /** Which tokens may be proposed. */
  candidateFilter: CandidateFilterRule;
  /** Text whose (last) token is appended when the prompt grows. */
  fillerText: string;
  /** A token whose text contains this ends a sentence (early exit in selection, wrap-around in advance). */
  sentenceEnd: string;
  /** Early exit on a sentence end is allowed at positions i ≥ fraction × initial prompt length. */
  earlyExitFraction: number;
  /** How many best prompts are kept in the result. */
  topPromptsKept: number;
  /** Ablation: false computes the gradient with the answer right after the prompt (no reasoning). */
  reasoning: boolean;
  /** Ablation: "random" picks the re-scored candidates at random from the proposal instead of by gradient. */
  ranking: CandidateRanking;
  /** Rows per engine call before any out-of-memory split; null sends all rows of a phase at once. */
  maxBatchRows: number | null;
}

/** The defaults, each with its reason. */
export const DEFAULT_CONFIG: Readonly<GreaterConfig> = Object.freeze({
  // The initial prompt of the paper's runs (its README and launch scripts).
  initialPrompt: " proper logical reasoning and think step by step. Finally give the actual correct answer.",
  // The README's example run uses 11; launch scripts pass 40 and the logs show runs from 5-7 raised by 2.
  topK: 11,
  // The code's `topq` (num_intersections) in the published runs.
  topQ: 6,
  // The code's `intersection_across_examples`.
  examplesPerIntersection: 5,
  // The code keeps a set of at least 2 × minimum_keep_for_selection (3) = 6 tokens.
  minCandidates: 6,
  // The code's `topk += 2` when the set is too small.
  kIncrement: 2,
  // The code's `minimum_keep_for_selection` candidates go to the selection step.
  candidatesToScore: 3,
  // `temperature=0.2` in the code's token_gradients: sharpens the answer loss.
  answerTemperature: 0.2,
  // `control_weight=0.2` in the code (and λ/10 = 0.02 in its selection score).
  controlWeight: 0.2,
  // The code generates up to 1024 new tokens; BBH reasoning rarely needs half of it, greedy decoding
  // stops at end of turn anyway, so the cap only bounds rambling.
  maxNewTokens: 1024,
  // The paper's runs: up to 100 steps (launch scripts 106-125).
  steps: 100,
  // `early_stopping_steps=150` in the code: with 100 steps it never triggers, as in the paper.
  patience: 150,
  // `loss_threshold=0.12` in the code.
  lossThreshold: 0.12,
  // Any fixed seed makes a run reproducible; 0 is as good as any.
  seed: 0,
  // The authors' `"{question}. Use" {prompt}`.
  userTurnTemplate: "authors",
  // The code allows letters and spaces only, plus ".", "," and " " as whole tokens.
  candidateFilter: "strict",
  // The code appends `tokenizer.encode("_")[-1]` when the prompt grows.
  fillerText: "_",
  // The code tests `"." in decode([token])`.
  sentenceEnd: ".",
  // The code allows the early exit when `pos >= 0.5 * initial_length`.
  earlyExitFraction: 0.5,
  // The code keeps `top_controls` of length 10.
  topPromptsKept: 10,
  // Gradients over reasoning are the method; false is the paper's ablation.
  reasoning: true,
  // Ranking by gradient is the method; random is the ablation that shows the gradient matters.
  ranking: "gradient",
  // One call per phase is fastest; out-of-memory errors halve the rows automatically.
  maxBatchRows: null,
});

/** A configuration error; the message names the field. */
export class GreaterConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`config.${field} ${message}`);
    this.name = "GreaterConfigError";
  }
}

type Check = (value: unknown, field: string) => void;

const positiveInteger: Check = (value, field) => {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new GreaterConfigError(field, `must be a positive integer (got ${describe(value)})`);
  }
};
const nonNegativeInteger: Check = (value, field) => {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new GreaterConfigError(field, `must be a non-negative integer (got ${describe(value)})`);
  }
};
const positiveNumber: Check = (value, field) => {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new GreaterConfigError(field, `must be a positive finite number (got ${describe(value)})`);
  }
};
const nonNegativeNumber: Check = (value, field) => {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new GreaterConfigError(field, `must be a non-negative finite number (got ${describe(value)})`);
  }
};
const fraction: Check = (value, field) => {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new GreaterConfigError(field, `must be a number in [0, 1] (got ${describe(value)})`);
  }
};
const nonEmptyString: Check = (value, field) => {
  if (typeof value !== "string" || value.length === 0) {
    throw new GreaterConfigError(field, `must be a non-empty string (got ${describe(value)})`);
  }
};
const boolean: Check = (value, field) => {
  if (typeof value !== "boolean") throw new GreaterConfigError(field, `must be true or false (got ${describe(value)})`);
};
const oneOf =
  (...allowed: string[]): Check =>
  (value, field) => {
    if (typeof value !== "string" || !allowed.includes(value)) {
      throw new GreaterConfigError(field, `must be one of ${allowed.map((a) => `"${a}"`).join(", ")} (got ${describe(value)})`);
    }
  };
const seed: Check = (value, field) => {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new GreaterConfigError(field, `must be an integer in [0, 2^32) (got ${describe(value)})`);
  }
};
const optionalPositiveInteger: Check = (value, field) => {
  if (value !== null) positiveInteger(value, field);
};

const CHECKS: { [K in keyof GreaterConfig]: Check } = {
  initialPrompt: nonEmptyString,
  topK: positiveInteger,
  topQ: positiveInteger,
  examplesPerIntersection: positiveInteger,
  minCandidates: positiveInteger,
  kIncrement: positiveInteger,
  candidatesToScore: positiveInteger,
  answerTemperature: positiveNumber,
  controlWeight: nonNegativeNumber,
  maxNewTokens: positiveInteger,
  steps: positiveInteger,
  patience: nonNegativeInteger,
  lossThreshold: nonNegativeNumber,
  seed,
  userTurnTemplate: oneOf("authors", "plain", "prompt-first"),
  candidateFilter: oneOf("strict", "punctuation", "ascii"),
  fillerText: nonEmptyString,
  sentenceEnd: nonEmptyString,
  earlyExitFraction: fraction,
  topPromptsKept: positiveInteger,
  reasoning: boolean,
  ranking: oneOf("gradient", "random"),
  maxBatchRows: optionalPositiveInteger,
};

/**
 * Fills the defaults into a partial configuration and validates every field.
 * @throws GreaterConfigError naming the first field at fault (unknown fields included, to catch typos).
 */
export function resolveConfig(partial: Partial<GreaterConfig> = {}): GreaterConfig {
  if (partial === null || typeof partial !== "object" || Array.isArray(partial)) {
    throw new GreaterConfigError("", `must be an object (got ${describe(partial)})`);
  }
  for (const key of Object.keys(partial)) {
    if (!(key in CHECKS)) {
      throw new GreaterConfigError(key, `is not a GReaTer option (known: ${Object.keys(CHECKS).join(", ")})`);
    }
  }
  const defined = Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined));
  const config = { ...DEFAULT_CONFIG, ...defined } as GreaterConfig;
  for (const [field, check] of Object.entries(CHECKS) as [keyof GreaterConfig, Check][]) {
    check(config[field], field);
  }
  return config;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) {
    return String(value);
  }
  return Array.isArray(value) ? "an array" : typeof value;
}
