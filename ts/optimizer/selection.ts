// Step 4, selection by regenerated reasoning: the gradient is a first-order guess, so each of the top-ranked
// candidates is tried for real. With p_i set to the candidate, the reasoning of every train example is
// generated again, the extractor and gold answer are appended, and a forward pass gives, per example, a
// mistake (1 when the arg-max at any answer position differs from the gold token) and the prompt's NLL
// (through the generation's own KV cache where the engine keeps it: reasoning-scores.ts).
//   score = mean(mistake) + (λ / 10) · mean(prompt NLL)
// The lowest score wins; ties go to the later candidate (the code compares with `<=`). A candidate that
// ends a sentence at a position i ≥ 0.5 × the initial prompt length is taken at once (early exit), so the
// candidates ranked after it are never tried. Scores are cached by prompt text within a position.
import type { GreaterConfig } from "./config.js";
import { layoutFull, type StepContext } from "./context.js";
import { scoreAnswerRows } from "./engine-calls.js";
import type { ReasoningSet, RowScore } from "./reasoning.js";
import { generateReasoningWithScores, type ScoredReasoningSet } from "./reasoning-scores.js";

/** What the selection measured for one prompt (one candidate in place). */
export interface PromptScore {
  /** Fraction of train examples whose answer was not reproduced exactly. */
  mistakeRate: number;
  /** Mean over examples of the prompt tokens' mean negative log-likelihood. */
  promptNll: number;
  /** mistakeRate + (λ / 10) · promptNll. */
  score: number;
}

export interface ScoredCandidate extends PromptScore {
  token: number;
  /** The candidate token's text. */
  text: string;
  /** The whole prompt's text with the candidate in place (the cache key). */
  promptText: string;
  /** True when the score came from the cache (the same prompt text was scored before in this position). */
  cached: boolean;
  /** True when this candidate ends a sentence where the early exit applies. */
  endsSentenceEarly: boolean;
}

export interface Selection {
  /** The candidates tried, in ranked order (those after an early exit are not tried). */
  scored: ScoredCandidate[];
  chosen: ScoredCandidate;
  /** True when the choice was an early exit on a sentence end. */
  earlyExit: boolean;
}

/** Scores of prompts already measured at the current position, by prompt text. */
export class ScoreCache {
  private readonly scores = new Map<string, PromptScore>();
  get(promptText: string): PromptScore | undefined {
    return this.scores.get(promptText);
  }
  set(promptText: string, score: PromptScore): void {
    this.scores.set(promptText, score);
  }
  get size(): number {
    return this.scores.size;
  }
}

/** The selection score: mean mistake + (λ / 10) · mean prompt NLL. */
export function selectionScore(mistakeRate: number, promptNll: number, controlWeight: number): number {
  return mistakeRate + (controlWeight / 10) * promptNll;
}

/** Whether a candidate with this text, at this position, is taken at once (early exit). */
export function endsSentenceEarly(
  tokenText: string,
  position: number,
  initialLength: number,
  config: Pick<GreaterConfig, "sentenceEnd" | "earlyExitFraction">,
): boolean {
  return tokenText.includes(config.sentenceEnd) && position >= config.earlyExitFraction * initialLength;
}

/** The ranked candidates up to and including the first early-exit one: the only ones the loop ever tries. */
export function candidatesWorthTrying<T>(ranked: readonly T[], exitsEarly: (candidate: T) => boolean): T[] {
  const exit = ranked.findIndex(exitsEarly);
  return exit < 0 ? [...ranked] : ranked.slice(0, exit + 1);
}

/**
 * The code's selection loop over candidates in ranked order: keep the lowest score with `<=` (ties → the
 * later candidate); an early-exit candidate is taken at once, whatever its score.
 */
export function chooseCandidate<T extends { score: number; endsSentenceEarly: boolean }>(
  scored: readonly T[],
): { chosen: T; earlyExit: boolean } {
  let lowest = Infinity;
  let chosen: T | undefined;
  for (const candidate of scored) {
    if (candidate.score <= lowest) {
      lowest = candidate.score;
      chosen = candidate;
    }
    if (candidate.endsSentenceEarly) return { chosen: candidate, earlyExit: true };
  }
  if (chosen === undefined) {
    throw new Error(`no candidate has a comparable selection score (scores: ${scored.map((c) => c.score).join(", ")})`);
  }
  return { chosen, earlyExit: false };
}

/** The set with a scores array of its own (the scores it came with, null where it has none). */
function withOwnScores(set: ReasoningSet): ScoredReasoningSet {
  return { ...set, scores: set.reasoning.map((_, index) => set.scores?.[index] ?? null) };
}

/**
 * Step 4 against the model: regenerates the reasoning for every candidate prompt not yet scored (one
 * generate batch of candidates × examples) and scores it, then chooses. With an engine that keeps the
 * generation's KV caches, each answer is scored through its own row's cache right after the generation
 * (reasoning-scores.ts); the rest (all rows on other engines) in one scoreAnswers call over the full layouts.
 * The current token's prompt is the prompt of the step's reasoning refresh, so its reasoning is reused
 * rather than generated again (greedy decoding would reproduce it), and so are its scores where the refresh
 * read them from its caches.
 */
export async function selectByRegeneratedReasoning(
  context: StepContext,
  current: ReasoningSet,
  reasoningIsFresh: boolean,
  position: number,
  ranked: readonly number[],
  initialLength: number,
  cache: ScoreCache,
): Promise<Selection> {
  const { tokenizer, config } = context;
  const tries = candidatesWorthTrying(
    ranked.map((token) => {
      const text = tokenizer.decode([token]);
      const prompt = current.prompt.slice();
      prompt[position] = token;
      return {
        token,
        text,
        prompt,
        promptText: tokenizer.decode(prompt),
        endsSentenceEarly: endsSentenceEarly(text, position, initialLength, config),
      };
    }),
    (candidate) => candidate.endsSentenceEarly,
  );

  // Prompts to measure now: each new prompt text once.
  const toMeasure = new Map<string, number[]>();
  for (const candidate of tries) {
    if (cache.get(candidate.promptText) === undefined) toMeasure.set(candidate.promptText, candidate.prompt);
  }
  const measured = [...toMeasure.entries()];
  const currentToken = current.prompt[position];
  const reusable = (prompt: number[]) => reasoningIsFresh && prompt[position] === currentToken;
  const sets = (
    await generateReasoningWithScores(
      context,
      measured.map(([, prompt]) => prompt).filter((prompt) => !reusable(prompt)),
    )
  ).map(withOwnScores);
  const reasoningSets = measured.map(([, prompt]) => (reusable(prompt) ? withOwnScores(current) : (sets.shift() as ScoredReasoningSet)));

  // Rows without a score yet (the reused reasoning, rows scored without the cache): one forward over their full layouts.
  context.signal?.throwIfAborted();
  const unmeasured = reasoningSets.flatMap((set) => set.scores.flatMap((score, index) => (score === null ? [{ set, index }] : [])));
  if (unmeasured.length > 0) {
    const layouts = unmeasured.map(({ set, index }) => layoutFull(context, context.examples[index], set.prompt, set.reasoning[index]));
    const rows = await scoreAnswerRows(context.model, context.splitter, {
      sequences: layouts.map((layout) => layout.ids),
      answerSpans: layouts.map((layout) => layout.spans.answer),
      promptSpans: layouts.map((layout) => layout.spans.prompt),
      signal: context.signal,
    });
    unmeasured.forEach(({ set, index }, row) => {
      set.scores[index] = { exactMatch: rows.exactMatch[row], promptNll: rows.promptNll[row] };
    });
  }
  const perPrompt = context.examples.length;
  measured.forEach(([promptText], p) => {
    let mistakes = 0;
    let nll = 0;
    for (const score of reasoningSets[p].scores as RowScore[]) {
      mistakes += 1 - score.exactMatch;
      nll += score.promptNll;
    }
    const mistakeRate = mistakes / perPrompt;
    const promptNll = nll / perPrompt;
    cache.set(promptText, { mistakeRate, promptNll, score: selectionScore(mistakeRate, promptNll, config.controlWeight) });
  });

  const measuredNow = new Set(toMeasure.keys());
  const scored: ScoredCandidate[] = tries.map(({ token, text, promptText, endsSentenceEarly }) => {
    const score = cache.get(promptText) as PromptScore;
    // The first candidate with a newly measured text paid for it; any later one with the same text reused it.
    const cached = !measuredNow.delete(promptText);
    return { token, text, promptText, cached, endsSentenceEarly, ...score };
  });
  const { chosen, earlyExit } = chooseCandidate(scored);
  return { scored, chosen, earlyExit };
}
