// Step 4, selection by regenerated reasoning: the gradient is a first-order guess, so each of the top-ranked
// candidates is tried for real. With p_i set to the candidate, the reasoning of every train example is
// generated again, the extractor and gold answer are appended, and a forward pass gives, per example, a
// mistake (1 when the arg-max at any answer position differs from the gold token) and the prompt's NLL
// (read through each row's generation KV cache: reasoning.ts).
//   score = mean(mistake) + (λ / 10) · mean(prompt NLL)
// The lowest score wins; ties go to the later candidate (the code compares with `<=`). A candidate that
// ends a sentence at a position i ≥ 0.5 × the initial prompt length is taken at once (early exit), so the
// candidates ranked after it are never tried. Scores are cached by prompt text within a position.
import type { GreaterConfig } from "./config.js";
import { layoutFull, type StepContext } from "./context.js";
import { scoreAnswerRows } from "./engine-calls.js";
import { generateReasoning, type ReasoningSet, type RowScore } from "./reasoning.js";

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

/**
 * Step 4 against the model: regenerates the reasoning for every candidate prompt (each prompt text once: scores
 * are cached by prompt text within the position) in one generation of candidates × examples rows, each row's
 * answer scored through its own generation's cache (reasoning.ts), then chooses. Rows whose layout does not
 * split after the reasoning are scored in one scoreAnswers call over their full layouts. The current token's
 * prompt is the prompt of the step's reasoning refresh, so where the step refreshed its reasoning, that
 * reasoning and its scores are reused rather than generated again (greedy decoding would reproduce them).
 */
export async function selectByRegeneratedReasoning(
  context: StepContext,
  reasoning: ReasoningSet,
  position: number,
  ranked: readonly number[],
): Promise<Selection> {
  const { tokenizer, config } = context;
  const tries = candidatesWorthTrying(
    ranked.map((token) => {
      const text = tokenizer.decode([token]);
      const prompt = reasoning.prompt.slice();
      prompt[position] = token;
      return {
        token,
        text,
        prompt,
        promptText: tokenizer.decode(prompt),
        endsSentenceEarly: endsSentenceEarly(text, position, context.initialPromptLength, config),
      };
    }),
    (candidate) => candidate.endsSentenceEarly,
  );

  // Prompts to measure: each prompt text once.
  const toMeasure = new Map<string, number[]>();
  for (const candidate of tries) {
    if (!toMeasure.has(candidate.promptText)) toMeasure.set(candidate.promptText, candidate.prompt);
  }
  const measured = [...toMeasure.entries()];
  // Without the refresh (the no-reasoning ablation) the step's set holds no reasoning to reuse.
  const reusable = (prompt: number[]) => config.reasoning && prompt[position] === reasoning.prompt[position];
  const regenerated = await generateReasoning(
    context,
    measured.map(([, prompt]) => prompt).filter((prompt) => !reusable(prompt)),
  );
  const reasoningSets = measured.map(([, prompt]) => (reusable(prompt) ? reasoning : (regenerated.shift() as ReasoningSet)));
  const rowScores = await completeRowScores(context, reasoningSets);

  const perPrompt = context.examples.length;
  const promptScores = new Map<string, PromptScore>();
  measured.forEach(([promptText], p) => {
    let mistakes = 0;
    let nll = 0;
    for (const score of rowScores[p]) {
      mistakes += 1 - score.exactMatch;
      nll += score.promptNll;
    }
    const mistakeRate = mistakes / perPrompt;
    const promptNll = nll / perPrompt;
    promptScores.set(promptText, { mistakeRate, promptNll, score: selectionScore(mistakeRate, promptNll, config.controlWeight) });
  });

  const measuredNow = new Set(toMeasure.keys());
  const scored: ScoredCandidate[] = tries.map(({ token, text, promptText, endsSentenceEarly }) => {
    const score = promptScores.get(promptText) as PromptScore;
    // The first candidate with a prompt text paid for its measurement; any later one with the same text reused it.
    const cached = !measuredNow.delete(promptText);
    return { token, text, promptText, cached, endsSentenceEarly, ...score };
  });
  const { chosen, earlyExit } = chooseCandidate(scored);
  return { scored, chosen, earlyExit };
}

/**
 * Every row's score per set: the one read from its generation's cache, or, for rows that have none (their
 * layout does not split after the reasoning), from one scoreAnswers call over their full layouts.
 */
async function completeRowScores(context: StepContext, sets: readonly ReasoningSet[]): Promise<RowScore[][]> {
  context.signal?.throwIfAborted();
  const unscored = sets.flatMap((set, setIndex) =>
    set.scores.flatMap((score, index) => (score === null ? [{ setIndex, index }] : [])),
  );
  const scores = sets.map((set) => set.scores.slice());
  if (unscored.length > 0) {
    const layouts = unscored.map(({ setIndex, index }) =>
      layoutFull(context, context.examples[index], sets[setIndex].prompt, sets[setIndex].reasoning[index]),
    );
    const rows = await scoreAnswerRows(context.model, context.splitter, {
      sequences: layouts.map((layout) => layout.ids),
      answerSpans: layouts.map((layout) => layout.spans.answer),
      promptSpans: layouts.map((layout) => layout.spans.prompt),
      signal: context.signal,
    });
    unscored.forEach(({ setIndex, index }, row) => {
      scores[setIndex][index] = { exactMatch: rows.exactMatch[row], promptNll: rows.promptNll[row] };
    });
  }
  return scores as RowScore[][];
}
