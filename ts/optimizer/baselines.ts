// The methods GReaTer is compared with in the paper, as library calls, so that a user can check on their own
// task and model that GReaTer is worth its cost: the initial prompt alone (zero-shot chain of thought, no
// search), random search over the same proposal with the same number of regenerated-reasoning evaluations,
// GCG-style gradient search without reasoning, and GReaTer without its fluency term. Each is the GReaTer
// loop with one part swapped, so the comparison isolates that part.
import type { LanguageModel } from "../engine/types.js";
import { encodePrompt } from "../text/index.js";
import type { ModelTokenizer } from "../text/types.js";
import { resolveConfig, type GreaterConfig } from "./config.js";
import type { OptimizationTask } from "./context.js";
import type { PromptText, StepRecord } from "./events.js";
import { GreaterOptimizer, type GreaterResult, type OptimizeOptions } from "./greater.js";

/** The searching methods: each is the GReaTer loop with the configuration below over the caller's. */
export type SearchMethod = "greater" | "random-search" | "gcg" | "greater-no-fluency";
/** Every method of the comparison: the searching ones and the initial prompt left as it is. */
export type Method = "initial-prompt" | SearchMethod;

export const METHODS: readonly Method[] = ["initial-prompt", "greater", "random-search", "gcg", "greater-no-fluency"];

/** How each method is named in tables. */
export const METHOD_LABELS: Readonly<Record<Method, string>> = {
  "initial-prompt": "initial prompt (zero-shot CoT)",
  greater: "GReaTer",
  "random-search": "random search",
  gcg: "GCG-style (no reasoning)",
  "greater-no-fluency": "GReaTer without fluency",
};

/** What each searching method changes in the caller's configuration. */
export const METHOD_CONFIG: Readonly<Record<SearchMethod, Readonly<Partial<GreaterConfig>>>> = {
  greater: {},
  // The re-scored candidates are drawn at random from the same proposal instead of ranked by gradient.
  "random-search": { ranking: "random" },
  // The gradient is taken with the answer right after the prompt: GCG's objective, no reasoning.
  gcg: { reasoning: false },
  // The prompt's perplexity no longer counts, in the gradient or in the selection score.
  "greater-no-fluency": { controlWeight: 0 },
};

/** One method's outcome. */
export interface MethodRun {
  method: Method;
  /** The prompt the method offers: the run's best prompt, or the initial prompt itself. */
  prompt: PromptText;
  /** The search's full result; null for the initial prompt. */
  result: GreaterResult | null;
  /** Candidate prompts scored with regenerated reasoning on the train examples (the search's costly unit). */
  evaluations: number;
  /** Wall time of the search (0 for the initial prompt). */
  seconds: number;
}

export interface MethodOptions extends OptimizeOptions {
  /**
   * Stop once this many (at least 1) regenerated-reasoning evaluations are spent, e.g. the number GReaTer used on the same
   * task and seed, so that random search gets the same budget (it also stops at the loop's own rules).
   */
  evaluationBudget?: number;
}

/** Candidates of one step scored with newly regenerated reasoning (a cached score cost nothing). */
function evaluationsIn(record: StepRecord): number {
  return record.rescored.filter((candidate) => !candidate.cached).length;
}

/** Regenerated-reasoning evaluations spent by a result's steps. */
export function evaluationsOf(result: GreaterResult): number {
  return result.history.reduce((sum, record) => sum + evaluationsIn(record), 0);
}

/** The initial prompt as the optimizer would start from it (no search): zero-shot chain of thought. */
export function initialPrompt(tokenizer: ModelTokenizer, config: Partial<GreaterConfig> = {}): PromptText {
  const resolved = resolveConfig(config);
  const ids = encodePrompt(tokenizer, resolved.initialPrompt, resolved.userTurnTemplate);
  return { ids, text: tokenizer.decode(ids) };
}

/** Runs one method of the comparison on a task with the caller's configuration underneath. */
export async function runMethod(
  method: Method,
  model: LanguageModel,
  tokenizer: ModelTokenizer,
  task: OptimizationTask,
  config: Partial<GreaterConfig>,
  options: MethodOptions = {},
): Promise<MethodRun> {
  if (method === "initial-prompt") {
    return { method, prompt: initialPrompt(tokenizer, config), result: null, evaluations: 0, seconds: 0 };
  }
  if (!(method in METHOD_CONFIG)) throw new RangeError(`unknown method ${JSON.stringify(method)}; one of ${METHODS.join(", ")}`);
  const budget = options.evaluationBudget;
  // A search returns its best prompt after at least one step, so a budget below one step's worth is no budget.
  if (budget !== undefined && (!Number.isInteger(budget) || budget < 1)) {
    throw new RangeError(`evaluationBudget must be a positive integer, got ${budget}`);
  }
  const started = performance.now();
  const optimizer = new GreaterOptimizer(model, tokenizer, task, { ...config, ...METHOD_CONFIG[method] }, options);
  let spent = 0;
  for await (const event of optimizer) {
    options.onProgress?.(event);
    if (event.type === "step") spent += evaluationsIn(event);
    if (budget !== undefined && spent >= budget) break;
  }
  const result = await optimizer.result();
  return { method, prompt: result.bestPrompt, result, evaluations: evaluationsOf(result), seconds: (performance.now() - started) / 1000 };
}

type SearchCall = (
  model: LanguageModel,
  tokenizer: ModelTokenizer,
  task: OptimizationTask,
  config: Partial<GreaterConfig>,
  options?: MethodOptions,
) => Promise<MethodRun>;

const searchWith =
  (method: SearchMethod): SearchCall =>
  (model, tokenizer, task, config, options = {}) =>
    runMethod(method, model, tokenizer, task, config, options);

/** Random search: GReaTer's proposal and selection, with the re-scored candidates drawn at random. */
export const randomSearch: SearchCall = searchWith("random-search");

/** GCG-style search: the gradient with the answer right after the prompt, no reasoning in between. */
export const gcgSearch: SearchCall = searchWith("gcg");

/** GReaTer without the fluency (prompt perplexity) term. */
export const greaterWithoutFluency: SearchCall = searchWith("greater-no-fluency");
