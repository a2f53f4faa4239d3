// The comparison methods as library calls (ts/optimizer/baselines.ts), on the shipped tiny reasoning model:
// each is the GReaTer loop with one part swapped, random search spends exactly the budget it is given, and the
// initial prompt is the one the optimizer would start from.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../ts/engine/model.js";
import {
  evaluationsOf,
  gcgSearch,
  greaterWithoutFluency,
  initialPrompt,
  METHOD_CONFIG,
  METHODS,
  randomSearch,
  runMethod,
  type Method,
} from "../../ts/optimizer/baselines.js";
import { loadCustomTask } from "../../ts/tasks/loaders.js";
import type { Task } from "../../ts/tasks/types.js";
import { loadTokenizer, type HfModelTokenizer } from "../../ts/text/index.js";

const modelDir = new URL("../../models/tiny-reasoner", import.meta.url).pathname;
const spec = JSON.parse(readFileSync(join(modelDir, "task", "task.json"), "utf8"));
const config = { initialPrompt: spec.initialPrompt, maxNewTokens: spec.maxNewTokens, steps: 2, seed: 3 };

let model: Model;
let tokenizer: HfModelTokenizer;
let task: Task;

beforeAll(async () => {
  model = await loadModel(modelDir);
  tokenizer = await loadTokenizer(modelDir);
  const files = { train: join(modelDir, "task", "train.jsonl"), dev: join(modelDir, "task", "dev.jsonl"), test: join(modelDir, "task", "test.jsonl") };
  task = loadCustomTask({ name: spec.name, files, extractor: spec.extractor, seed: 1, sizes: { train: 6, dev: 6 } });
});
afterAll(() => model?.dispose());

describe("the comparison methods", () => {
  it("lists every method with its change to the configuration", () => {
    expect(METHODS).toEqual(["initial-prompt", "greater", "random-search", "gcg", "greater-no-fluency"]);
    expect(METHOD_CONFIG).toEqual({
      greater: {},
      "random-search": { ranking: "random" },
      gcg: { reasoning: false },
      "greater-no-fluency": { controlWeight: 0 },
    });
  });

  it("the initial prompt is the optimizer's starting prompt, with no search", async () => {
    const run = await runMethod("initial-prompt", model, tokenizer, task, config);
    expect(run).toMatchObject({ method: "initial-prompt", result: null, evaluations: 0, seconds: 0 });
    expect(run.prompt).toEqual(initialPrompt(tokenizer, config));
    expect(run.prompt.text).toBe(spec.initialPrompt);
    const greater = await runMethod("greater", model, tokenizer, task, { ...config, steps: 1 }, { evaluate: false });
    expect(greater.result!.history[0].prompt.ids.length).toBe(run.prompt.ids.length);
  });

  it("random search ranks nothing by gradient and stops at its evaluation budget", async () => {
    const run = await randomSearch(model, tokenizer, task, { ...config, steps: 5 }, { evaluate: false, evaluationBudget: 3 });
    expect(run.method).toBe("random-search");
    expect(run.result!.stepsDone).toBe(1);
    expect(run.evaluations).toBe(3);
    expect(run.evaluations).toBe(evaluationsOf(run.result!));
    for (const record of run.result!.history) {
      expect(record.gradientLoss).toBeNull();
      expect(record.candidates.every((c) => c.gradient === null)).toBe(true);
    }
    expect(run.result!.state.config.ranking).toBe("random");
    const unbounded = await randomSearch(model, tokenizer, task, config, { evaluate: false });
    expect(unbounded.evaluations).toBe(evaluationsOf(unbounded.result!));
    expect(unbounded.result!.stepsDone).toBeGreaterThanOrEqual(1);
  });

  it("GCG-style search and GReaTer without fluency run the loop with their one change", async () => {
    const gcg = await gcgSearch(model, tokenizer, task, config, { evaluate: false });
    expect(gcg.result!.state.config).toMatchObject({ reasoning: false, ranking: "gradient", controlWeight: 0.2 });
    expect(gcg.result!.history[0].candidates.every((c) => typeof c.gradient === "number")).toBe(true);
    const plain = await greaterWithoutFluency(model, tokenizer, task, config, { evaluate: false });
    expect(plain.result!.state.config).toMatchObject({ reasoning: true, controlWeight: 0 });
    // Without the fluency term the selection score is the mistake rate alone.
    for (const record of plain.result!.history) for (const scored of record.rescored) expect(scored.score).toBeCloseTo(scored.mistakeRate, 12);
    expect(gcg.seconds).toBeGreaterThan(0);
  });

  it("refuses an unknown method and a bad budget", async () => {
    await expect(runMethod("beam" as Method, model, tokenizer, task, config)).rejects.toThrow(/unknown method "beam"/);
    await expect(runMethod("random-search", model, tokenizer, task, config, { evaluationBudget: -1 })).rejects.toThrow(/evaluationBudget/);
    await expect(runMethod("random-search", model, tokenizer, task, config, { evaluationBudget: 0 })).rejects.toThrow(/evaluationBudget must be a positive integer, got 0/);
  });
});
