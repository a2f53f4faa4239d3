// Selection's regeneration with the answer scored from the generation's own KV caches: the engine keeps each
// row's cache after its greedy reasoning, the full layout (prefix ⊕ reasoning ⊕ " " ⊕ extractor ⊕ answer) is
// built from the reasoning, and only what follows the reasoning runs through the cache. That is scoreAnswers
// over the full layout without its second forward over prefix and reasoning (the prompt's NLL comes from the
// prefill). A row whose full layout does not begin with its generation prefix and reasoning token for token
// is left to scoreAnswers (null score), which reads the layout as it is.
import type { ContinuationArgs, LanguageModel, RetainedGeneration, Span } from "../engine/types.js";
import type { ExampleLayout } from "../text/types.js";
import { layoutFull, layoutPrefix, type StepContext } from "./context.js";
import { generateReasoning, type ReasoningSet, type RowScore } from "./reasoning.js";

/** A reasoning set whose scores array is always there (null where scoreAnswers must still measure a row). */
export interface ScoredReasoningSet extends ReasoningSet {
  scores: (RowScore | null)[];
}

/** Where the tokens after the reasoning start in a full layout, and the answer inside them. */
export interface ContinuationSplit {
  continuation: number[];
  answerSpan: Span;
}

/**
 * Splits a full layout as prefix ⊕ reasoning ⊕ continuation, or returns null where it does not split that way:
 * its ids must start with the prefix's ids and then the reasoning, its prompt span must be the prefix's, and
 * the answer must lie after the reasoning.
 */
export function splitAfterReasoning(prefix: ExampleLayout, reasoning: number[], full: ExampleLayout): ContinuationSplit | null {
  const cut = prefix.ids.length + reasoning.length;
  if (full.ids.length < cut) return null;
  if (prefix.ids.some((id, j) => full.ids[j] !== id)) return null;
  if (reasoning.some((id, j) => full.ids[prefix.ids.length + j] !== id)) return null;
  const { prompt, answer } = full.spans;
  if (prompt.start !== prefix.spans.prompt.start || prompt.end !== prefix.spans.prompt.end) return null;
  if (answer.start < cut || answer.end <= answer.start) return null;
  return { continuation: full.ids.slice(cut), answerSpan: { start: answer.start - cut, end: answer.end - cut } };
}

/** The engine's generateForScoring, when the model has it. */
export function scoresFromCache(model: LanguageModel): model is LanguageModel & Required<Pick<LanguageModel, "generateForScoring">> {
  return typeof model.generateForScoring === "function";
}

/**
 * Generates the reasoning of every train example under each prompt (one batch of prompts × examples rows, split
 * only on out-of-memory, like generateReasoning) and scores each row's answer from its generation's cache.
 */
export async function generateAndScoreReasoning(context: StepContext, prompts: number[][]): Promise<ScoredReasoningSet[]> {
  const { model, examples, config } = context;
  if (!scoresFromCache(model)) throw new Error("generateAndScoreReasoning: the model has no generateForScoring");
  const perPrompt = examples.length;
  const rows = prompts.flatMap((prompt) => examples.map((example) => ({ example, prompt, prefix: layoutPrefix(context, example, prompt) })));

  const scoreChunk = async (start: number, end: number) => {
    const chunk = rows.slice(start, end);
    const generation: RetainedGeneration = await model.generateForScoring(
      chunk.map((row) => row.prefix.ids),
      {
        maxNewTokens: config.maxNewTokens,
        stopTokenIds: context.stopTokenIds,
        promptSpans: chunk.map((row) => row.prefix.spans.prompt),
        signal: context.signal,
      },
    );
    try {
      const splits = chunk.map((row, r) =>
        splitAfterReasoning(row.prefix, generation.tokens[r], layoutFull(context, row.example, row.prompt, generation.tokens[r])),
      );
      // A row that does not split still needs a continuation in the engine's batch: one token, its score unused.
      const args: ContinuationArgs = {
        continuations: splits.map((split) => split?.continuation ?? [0]),
        answerSpans: splits.map((split) => split?.answerSpan ?? { start: 0, end: 1 }),
        signal: context.signal,
      };
      const scores = await generation.scoreContinuations(args);
      return {
        reasoning: generation.tokens,
        scores: splits.map((split, r): RowScore | null =>
          split === null ? null : { exactMatch: scores.exactMatch[r], promptNll: generation.promptNll[r] },
        ),
      };
    } finally {
      generation.release();
    }
  };
  const scored = await context.splitter.run("generate", rows.length, scoreChunk, (parts) => ({
    reasoning: parts.flatMap((p) => p.reasoning),
    scores: parts.flatMap((p) => p.scores),
  }));
  return prompts.map((prompt, p) => ({
    prompt,
    prefixes: rows.slice(p * perPrompt, (p + 1) * perPrompt).map((row) => row.prefix),
    reasoning: scored.reasoning.slice(p * perPrompt, (p + 1) * perPrompt),
    scores: scored.scores.slice(p * perPrompt, (p + 1) * perPrompt),
  }));
}

/**
 * The reasoning of every example under each prompt, with the selection's scores read from the generation's
 * caches where the engine can (generateForScoring); otherwise plain reasoning, without scores.
 */
export async function generateReasoningWithScores(context: StepContext, prompts: number[][]): Promise<ReasoningSet[]> {
  if (scoresFromCache(context.model)) return generateAndScoreReasoning(context, prompts);
  return generateReasoning(context, prompts);
}

/**
 * The step's reasoning refresh: the reasoning under the current prompt, scored where the engine can (selection
 * reuses this reasoning for the current token, so its answers need no forward of their own later).
 */
export async function refreshReasoning(context: StepContext, prompt: number[]): Promise<ReasoningSet> {
  return (await generateReasoningWithScores(context, [prompt]))[0];
}
