// GReaTer steps through an [INST] chat template: a tiny random Mistral (made here by tools/make_tiny_mistral_chat.py in
// the tests' Python environment) with the real Mistral-7B tokenizer and Mistral-Instruct's template. Before [INST]
// layouts worked, the first step threw the layout's error; now the steps run, every candidate and choice is a token the
// prompt can hold verbatim, and the prompt's text keeps its leading space.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadModel, type Model } from "../../ts/engine/model.js";
import { GreaterOptimizer } from "../../ts/optimizer/greater.js";
import { buildExampleLayout, decodeContinuation, loadTokenizer, type HfModelTokenizer } from "../../ts/text/index.js";

const root = resolve(import.meta.dirname, "..", "..");
const work = mkdtempSync(join(tmpdir(), "greater-inst-"));
const modelDir = join(work, "tiny-mistral-chat");
let model: Model;
let tokenizer: HfModelTokenizer;

beforeAll(async () => {
  execFileSync(inject("testPython"), [join(root, "tools", "make_tiny_mistral_chat.py"), modelDir], { stdio: "pipe" });
  model = await loadModel(modelDir, { device: "cpu" });
  tokenizer = await loadTokenizer(modelDir);
}, 300_000);
afterAll(() => {
  model?.dispose();
  rmSync(work, { recursive: true, force: true });
});

const train = [
  { id: "a", question: "If you take 3 steps forward and 3 steps back, are you where you started?", answer: "Yes" },
  { id: "b", question: "Is 7 greater than 9?", answer: "No" },
  { id: "c", question: "Does 2 plus 2 make 4?", answer: "Yes" },
  { id: "d", question: "Is a week longer than a month?", answer: "No" },
];

describe("GReaTer through Mistral-Instruct's [INST] template", () => {
  it("runs two steps; the prompt stays verbatim in every example's layout", async () => {
    expect(tokenizer.renderUserTurn("x")).toBe("<s>[INST] x [/INST]");
    const task = { extractor: "Therefore, the final answer is $", train };
    const optimizer = new GreaterOptimizer(model, tokenizer, task,
      { initialPrompt: " Let's think step by step.", steps: 2, maxNewTokens: 8, seed: 3, topK: 40, topQ: 3, examplesPerIntersection: 2 },
      { evaluate: false });
    const steps = [];
    for await (const event of optimizer) if (event.type === "step") steps.push(event);
    expect(optimizer.state.stepsDone).toBe(2);
    expect(optimizer.state.history).toHaveLength(2);
    for (const record of optimizer.state.history) {
      expect(record.candidates.length).toBeGreaterThan(0);
      expect(record.candidates.map((c) => c.token)).toContain(record.chosen.token);
      expect(Number.isFinite(record.loss)).toBe(true);
      const prompt = record.prompt.ids;
      for (const example of train) {
        const layout = buildExampleLayout(tokenizer, { question: example.question, prompt, reasoning: [], extractor: task.extractor, answer: example.answer });
        expect(layout.promptVerbatim).toBe(true);
        expect(layout.ids.slice(layout.spans.prompt.start, layout.spans.prompt.end)).toEqual(prompt);
      }
      expect(decodeContinuation(tokenizer, prompt).startsWith(" ")).toBe(true);
    }
    expect(steps.length).toBeGreaterThan(0);
  }, 300_000);
});
