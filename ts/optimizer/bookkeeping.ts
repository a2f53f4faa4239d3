// Step 6, bookkeeping: the step's loss is the chosen candidate's selection score. The run keeps the best
// prompt by loss and the ten best prompts, and stops when the loss falls under the threshold, when the best
// loss has not improved for more than `patience` steps, or after `steps` steps.
import type { GreaterConfig } from "./config.js";

/** A prompt with the loss it was scored at and the step (0-based) that scored it. */
export interface ScoredPrompt {
  ids: number[];
  text: string;
  loss: number;
  step: number;
}

export interface Bookkeeping {
  /** The lowest-loss prompt so far (the earliest of equal losses); null before the first step. */
  best: ScoredPrompt | null;
  /** The best distinct prompts (by text), lowest loss first; equal losses keep the earlier first. */
  topPrompts: ScoredPrompt[];
  /** Steps since the best loss last improved (0 right after an improvement). */
  stepsSinceImprovement: number;
}

/** Why a run ended. */
export type StopReason = "steps" | "threshold" | "patience";

export function emptyBookkeeping(): Bookkeeping {
  return { best: null, topPrompts: [], stepsSinceImprovement: 0 };
}

/**
 * Records one step's scored prompt. Best: strictly lower loss replaces it (the code's `loss < best_loss`).
 * Top prompts: a prompt enters while fewer than `kept` are held or when it beats the worst, which then
 * leaves (the code's `top_controls`). Unlike the code, which can hold the same prompt twice, a prompt
 * already held only updates its entry when its new loss is lower.
 */
export function recordStep(book: Bookkeeping, scored: ScoredPrompt, kept: number): Bookkeeping {
  const improved = book.best === null || scored.loss < book.best.loss;
  const best = improved ? scored : book.best;
  const stepsSinceImprovement = improved ? 0 : book.stepsSinceImprovement + 1;

  let topPrompts = book.topPrompts;
  const held = topPrompts.find((entry) => entry.text === scored.text);
  if (held !== undefined) {
    if (scored.loss < held.loss) topPrompts = insertSorted(topPrompts.filter((entry) => entry !== held), scored);
  } else if (topPrompts.length < kept || scored.loss < topPrompts[topPrompts.length - 1].loss) {
    topPrompts = insertSorted(topPrompts, scored).slice(0, kept);
  }
  return { best, topPrompts, stepsSinceImprovement };
}

/** Inserts after every entry with a loss ≤ the new one (a stable sort by loss, as the code's list.sort). */
function insertSorted(entries: ScoredPrompt[], entry: ScoredPrompt): ScoredPrompt[] {
  const at = entries.findIndex((existing) => existing.loss > entry.loss);
  return at < 0 ? [...entries, entry] : [...entries.slice(0, at), entry, ...entries.slice(at)];
}

/**
 * The code's stopping rules after step `stepsDone` (1-based count of completed steps), checked in its order:
 * the loss threshold, then the plateau (`i - best_step > early_stopping_steps`), then the step budget.
 */
export function stopReason(
  book: Bookkeeping,
  lastLoss: number,
  stepsDone: number,
  config: Pick<GreaterConfig, "lossThreshold" | "patience" | "steps">,
): StopReason | null {
  if (lastLoss < config.lossThreshold) return "threshold";
  if (book.stepsSinceImprovement > config.patience) return "patience";
  if (stepsDone >= config.steps) return "steps";
  return null;
}
