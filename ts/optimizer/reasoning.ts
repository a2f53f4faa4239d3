// Step 0 (reasoning refresh) and the regeneration of step 4: greedy reasoning for every train example under
// one or more prompts, all rows in one generate batch (prompts × examples).
import type { ExampleLayout } from "../text/types.js";
import { layoutPrefix, type StepContext } from "./context.js";
import { generateRows } from "./engine-calls.js";

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
   * Per example: its selection score, where it was read from the generation's KV cache right after generating
   * (reasoning-scores.ts); null or absent where scoreAnswers must measure it.
   */
  scores?: (RowScore | null)[];
}

/**
 * Generates the reasoning of every train example under each prompt, as one batch of
 * prompts.length × examples.length rows (split only if it runs out of memory).
 */
export async function generateReasoning(context: StepContext, prompts: number[][]): Promise<ReasoningSet[]> {
  const prefixes = prompts.map((prompt) => context.examples.map((example) => layoutPrefix(context, example, prompt)));
  const rows = prefixes.flat().map((layout) => layout.ids);
  const generated = await generateRows(context.model, context.splitter, rows, {
    maxNewTokens: context.config.maxNewTokens,
    stopTokenIds: context.stopTokenIds,
    signal: context.signal,
  });
  const perPrompt = context.examples.length;
  return prompts.map((prompt, p) => ({
    prompt,
    prefixes: prefixes[p],
    reasoning: generated.tokens.slice(p * perPrompt, (p + 1) * perPrompt),
  }));
}

/** The generation prefixes alone (no generation), for the no-reasoning ablation. */
export function prefixesOnly(context: StepContext, prompt: number[]): ReasoningSet {
  const prefixes = context.examples.map((example) => layoutPrefix(context, example, prompt));
  return { prompt, prefixes, reasoning: prefixes.map(() => []) };
}
