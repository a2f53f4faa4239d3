// One GReaTer step of the TypeScript optimizer against tools/reference/greater_step.py, an independent
// transformers implementation written the way the authors' code works (model.generate in batches of 9, a
// forward/backward per example for the gradients, a second full forward for the selection). Same model
// folder, examples and seed: the same candidate set, ranking, scores and chosen token.
// Fixtures: python3 tools/reference/make_step_fixtures.py. The tiny-reasoner cases run when models/tiny-reasoner is
// present (it ships with the package).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../ts/engine/model.js";
import type { GreaterConfig } from "../../ts/optimizer/config.js";
import { GreaterOptimizer } from "../../ts/optimizer/greater.js";
import { loadTokenizer, type HfModelTokenizer } from "../../ts/text/index.js";

const fixtures = new URL("./fixtures/", import.meta.url).pathname;
const repository = new URL("../../", import.meta.url).pathname;

interface ReferenceStep {
  seed: number;
  config: Partial<GreaterConfig>;
  extractor: string;
  trainIds: string[];
  prompt: number[];
  position: number;
  proposal: { k: number; raises: number; candidates: number[] };
  gradients: number[] | null;
  ranked: number[];
  rescored: { token: number; mistakeRate: number; promptNll: number; score: number; cached: boolean; endsSentenceEarly: boolean }[];
  chosen: { token: number; text: string };
  earlyExit: boolean;
  loss: number;
  rngStateAfter: number;
}

const MODELS = [
  { name: "random-llama", dir: `${fixtures}random-llama`, note: "a random tiny Llama with the tiny-bytelevel tokenizer" },
  { name: "tiny-reasoner", dir: `${repository}models/tiny-reasoner`, note: "the shipped tiny reasoning model" },
];

for (const { name: modelName, dir, note } of MODELS) {
  const cases = readdirSync(fixtures)
    .filter((file) => file.startsWith(`${modelName}-step-`) && file.endsWith(".json"))
    .sort();
  const present = existsSync(join(dir, "config.json"));

  describe.skipIf(!present)(`one step against the Python reference: ${modelName} (${note})`, () => {
    let model: Model;
    let tokenizer: HfModelTokenizer;
    const train = () =>
      readFileSync(`${fixtures}${modelName}-train.jsonl`, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { id: string; question: string; answer: string });

    beforeAll(async () => {
      model = await loadModel(dir);
      tokenizer = await loadTokenizer(dir);
    });
    afterAll(() => model?.dispose());

    it("has fixtures (python3 tools/reference/make_step_fixtures.py)", () => expect(cases.length).toBeGreaterThanOrEqual(4));

    it.each(cases)("%s", async (file) => {
      const reference = JSON.parse(readFileSync(`${fixtures}${file}`, "utf8")) as ReferenceStep;
      const task = { extractor: reference.extractor, train: train() };
      expect(task.train.map((e) => e.id)).toEqual(reference.trainIds);
      const config = { ...reference.config, seed: reference.seed, steps: 1 };
      let optimizer = new GreaterOptimizer(model, tokenizer, task, config, { evaluate: false });
      expect(optimizer.state.prompt).toEqual(reference.prompt);
      if (reference.position !== 0) {
        // Start the step where the reference did: the same state, another position.
        optimizer = new GreaterOptimizer(model, tokenizer, task, config, {
          evaluate: false,
          resumeFrom: { ...optimizer.state, position: reference.position },
        });
      }

      const step = await optimizer.step();

      expect({ k: step.k, raises: step.kRaises, candidates: step.candidates.map((c) => c.token) }).toEqual(reference.proposal);
      if (reference.gradients === null) {
        expect(step.candidates.every((c) => c.gradient === null)).toBe(true);
      } else {
        step.candidates.forEach((candidate, i) => {
          expect(candidate.gradient).toBeCloseTo(reference.gradients![i], 4);
        });
      }
      expect(step.ranked.map((r) => r.token)).toEqual(reference.ranked);
      expect(step.rescored.map((r) => r.token)).toEqual(reference.rescored.map((r) => r.token));
      step.rescored.forEach((ours, i) => {
        const theirs = reference.rescored[i];
        expect(ours.mistakeRate).toBe(theirs.mistakeRate);
        expect(ours.promptNll).toBeCloseTo(theirs.promptNll, 3);
        expect(ours.score).toBeCloseTo(theirs.score, 4);
        expect(ours.cached).toBe(theirs.cached);
        expect(ours.endsSentenceEarly).toBe(theirs.endsSentenceEarly);
      });
      expect(step.chosen).toEqual(reference.chosen);
      expect(step.earlyExit).toBe(reference.earlyExit);
      expect(step.loss).toBeCloseTo(reference.loss, 4);
      expect(optimizer.state.rngState).toBe(reference.rngStateAfter);
    });
  });
}
