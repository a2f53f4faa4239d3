// Step 0 (reasoning refresh) and the regeneration of step 4: greedy reasoning for every train example under
// one or more prompts, all rows in one batch (prompts × examples), each row's answer scored right after its
// generation from the KV cache the engine keeps (generateForScoring). The full layout
// (prefix ⊕ reasoning ⊕ " " ⊕ extractor ⊕ answer) is built from the reasoning and only what follows the
// reasoning runs through the cache: that is scoreAnswers over the full layout without its second forward over
// prefix and reasoning (the prompt's NLL comes from the prefill). A row whose full layout does not begin with
// its generation prefix and reasoning token for token gets no score here; selection measures it with
// scoreAnswers over the layout as it is.
import type { ContinuationArgs, Span } from "../engine/types.js";
import type { ExampleLayout } from "../text/types.js";
import { layoutFull, layoutPrefix, type StepContext, type TrainingExample } from "./context.js";

/** What selection reads for one example under one prompt. */
export interface RowScore {
  /** 1 when the arg-max at every answer position is the gold token. */
  exactMatch: number;
  /** Mean NLL of the prompt tokens. */
  promptNll: number;
}

/** Reasoning of every example under one prompt, with the generation prefixes it was generated from. */
export interface ReasoningSet {
  prompt: number[];
  /** Per example: `chat(user: question ⊕ prompt)`. */
  prefixes: ExampleLayout[];
  /** Per example: the generated reasoning, without its stop token. */
  reasoning: number[][];
  /**
   * Per example: its selection score, read from the generation's cache; null where the full layout does not
   * split after the reasoning (scoreAnswers must measure it) or where no reasoning was generated.
   */
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

/** One generated row: which example, under which prompt, from which prefix. */
interface ReasoningRow {
  example: TrainingExample;
  prompt: number[];
  prefix: ExampleLayout;
}

/**
 * Generates the reasoning of every train example under each prompt, as one batch of
 * prompts.length × examples.length rows (split only if it runs out of memory), and scores each row's answer
 * from its generation's cache. A chunk that runs out of memory while scoring is generated again, smaller.
 */
export async function generateReasoning(context: StepContext, prompts: number[][]): Promise<ReasoningSet[]> {
  const { examples } = context;
  const rows = prompts.flatMap((prompt) => examples.map((example) => ({ example, prompt, prefix: layoutPrefix(context, example, prompt) })));
  const generated = await context.splitter.run(
    "generate",
    rows.length,
    (start, end) => generateAndScoreRows(context, rows.slice(start, end)),
    (parts) => ({ reasoning: parts.flatMap((p) => p.reasoning), scores: parts.flatMap((p) => p.scores) }),
  );
  const perPrompt = examples.length;
  return prompts.map((prompt, p) => {
    const [from, to] = [p * perPrompt, (p + 1) * perPrompt];
    return {
      prompt,
      prefixes: rows.slice(from, to).map((row) => row.prefix),
      reasoning: generated.reasoning.slice(from, to),
      scores: generated.scores.slice(from, to),
    };
  });
}

/** One engine generation over `rows`, scored through its caches, which are freed whatever happens. */
async function generateAndScoreRows(
  context: StepContext,
  rows: readonly ReasoningRow[],
): Promise<{ reasoning: number[][]; scores: (RowScore | null)[] }> {
  const generation = await context.model.generateForScoring(
    rows.map((row) => row.prefix.ids),
    {
      maxNewTokens: context.config.maxNewTokens,
      stopTokenIds: context.stopTokenIds,
      promptSpans: rows.map((row) => row.prefix.spans.prompt),
      signal: context.signal,
    },
  );
  try {
    const splits = rows.map((row, r) =>
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
}

/** The generation prefixes alone (no generation, so no scores), for the no-reasoning ablation. */
export function prefixesOnly(context: StepContext, prompt: number[]): ReasoningSet {
  const prefixes = context.examples.map((example) => layoutPrefix(context, example, prompt));
  return { prompt, prefixes, reasoning: prefixes.map(() => []), scores: prefixes.map(() => null) };
}
