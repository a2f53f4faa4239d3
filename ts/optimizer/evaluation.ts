// Dev accuracy of the best prompt (docs/algorithm.md, step 7), by the tasks layer's evaluation: greedy reasoning,
// the extractor, a short answer, normalised and compared with the gold answer.
import type { LanguageModel } from "../engine/types.js";
import { evaluate } from "../tasks/evaluate.js";
import type { Task } from "../tasks/types.js";
import type { ModelTokenizer } from "../text/types.js";
import type { GreaterConfig } from "./config.js";
import type { LayoutExample, OptimizationTask } from "./context.js";
import type { PromptText } from "./events.js";

/** Measures a prompt's accuracy (0..1) on held-out examples. */
export type PromptEvaluator = (prompt: PromptText, signal?: AbortSignal) => Promise<number>;

/** True for a full tasks-layer Task (it carries the normaliser the evaluation compares answers with). */
function isFullTask(task: OptimizationTask): task is OptimizationTask & Task {
  const candidate = task as Partial<Task>;
  return typeof candidate.normalise === "function" && Array.isArray(candidate.dev) && typeof candidate.name === "string";
}

/**
 * The tasks layer's `evaluate` on the task's dev split, with the run's user-turn template, reasoning
 * budget and example layout; undefined when the task has no dev examples or is not a full Task (no answer normaliser).
 */
export function devEvaluator(
  model: LanguageModel,
  tokenizer: ModelTokenizer,
  task: OptimizationTask,
  config: Pick<GreaterConfig, "userTurnTemplate" | "maxNewTokens">,
  layout?: LayoutExample,
): PromptEvaluator | undefined {
  if (!isFullTask(task) || task.dev.length === 0) return undefined;
  return async (prompt, signal) => {
    const result = await evaluate(model, tokenizer, task, prompt.ids, "dev", {
      template: config.userTurnTemplate,
      maxNewTokens: config.maxNewTokens,
      layout,
      signal,
    });
    return result.accuracy;
  };
}
