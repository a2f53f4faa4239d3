// The optimizer on the real engine (a random tiny Llama): abort inside generation, then go on with the same
// model; a short run resumed from saved JSON equals the uninterrupted run.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { loadModel, type Model } from "../../ts/engine/model.js";
import { GreaterOptimizer, OptimizationAbortedError } from "../../ts/optimizer/greater.js";
import { parseState, type OptimizerState } from "../../ts/optimizer/state.js";
import { loadTokenizer, type HfModelTokenizer } from "../../ts/text/index.js";

const fixtures = new URL("./fixtures/", import.meta.url).pathname;
const modelDir = `${fixtures}random-llama`;
const train = readFileSync(`${fixtures}random-llama-train.jsonl`, "utf8")
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line) as { id: string; question: string; answer: string });
const task = { extractor: "Therefore, the final answer is $", train };

let model: Model;
let tokenizer: HfModelTokenizer;
beforeAll(async () => {
  model = await loadModel(modelDir);
  tokenizer = await loadTokenizer(modelDir);
});
afterAll(() => model?.dispose());

const withoutTimings = (state: OptimizerState) => ({
  ...state,
  history: state.history.map(({ timingsMs, ...rest }) => rest),
});

describe("the optimizer on the engine", () => {
  it("stops within a second when aborted during generation, and the model stays usable", async () => {
    const controller = new AbortController();
    // The random model never ends its reasoning: 12 rows × 400 tokens take most of a second, so the abort
    // comes inside the first generation.
    const optimizer = new GreaterOptimizer(model, tokenizer, task, { maxNewTokens: 400, seed: 1 }, { signal: controller.signal, evaluate: false });
    const before = optimizer.state;
    const started = performance.now();
    setTimeout(() => controller.abort(), 150);
    const error = await optimizer.step().catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(OptimizationAbortedError);
    expect((error as Error).cause).toMatchObject({ code: "ABORTED", message: expect.stringMatching(/^generate/) });
    expect(elapsed).toBeLessThan(1150);
    expect(optimizer.state).toEqual(before);

    const generated = await model.generate([before.prompt], { maxNewTokens: 3 });
    expect(generated.tokens[0]).toHaveLength(3);
  });

  it("resumes a saved run with exactly the steps of an uninterrupted one", async () => {
    const config = { maxNewTokens: 6, seed: 9, steps: 4, topK: 6 };
    const whole = new GreaterOptimizer(model, tokenizer, task, config, { evaluate: false });
    for await (const _ of whole) void _;

    const first = new GreaterOptimizer(model, tokenizer, task, config, { evaluate: false });
    await first.step();
    await first.step();
    const saved = parseState(JSON.parse(JSON.stringify(first.state)));
    const resumed = new GreaterOptimizer(model, tokenizer, task, config, { evaluate: false, resumeFrom: saved });
    for await (const _ of resumed) void _;
    expect(withoutTimings(resumed.state)).toEqual(withoutTimings(whole.state));
    expect(resumed.state.stepsDone).toBe(4);
  });
});
