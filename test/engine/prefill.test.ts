// The prefill of a generation (native/engine/prefill.cpp): the tokens all prompts start with run once and are
// shared, the rest runs in groups of rows of similar length. Whatever the grouping, every row must generate
// and score exactly as it does alone, and as scoreAnswers scores the full sequences; the prompt scores must
// be right for spans that start inside the shared prefix. GREATER_PREFILL_GROUP_COST sets the price of a
// group: 0 makes a group wherever it saves a padded token, a huge price keeps one group.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EngineError, loadModel, setEngineSettings, settingsFromEnvironment, type Model, type Span } from "../../ts/engine/index.js";
import { maxAbsDifference, modelPath, readReference } from "./helpers/fixtures.js";

const costVariable = "GREATER_PREFILL_GROUP_COST";
const groupings = [
  { name: "default grouping", cost: undefined },
  { name: "a group per length", cost: "0" },
  { name: "one group", cost: "1000000" },
];

/** A deterministic token stream (no Math.random: failures must reproduce). */
function pseudoTokens(seed: number, count: number, vocab: number): number[] {
  let state = seed * 2654435761 + 977;
  return Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % vocab;
  });
}

/** Nine prompts: a 7-token shared start, then 1 to 17 tokens of their own; prompt spans from inside the start. */
function sharedStartCase(vocab: number): { prompts: number[][]; promptSpans: Span[] } {
  const start = pseudoTokens(1, 7, vocab);
  const prompts = [1, 17, 4, 9, 16, 2, 12, 5, 17].map((own, b) => [...start, ...pseudoTokens(b + 10, own, vocab)]);
  const promptSpans = prompts.map((p, b) => [{ start: 3, end: p.length }, { start: 0, end: 0 }, { start: 7, end: p.length - 1 }][b % 3]);
  return { prompts, promptSpans };
}

describe.each(["llama-gqa-rope3-tied", "mistral-sliding", "gemma2", "qwen2-bias"])("prefill on %s", (name) => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(modelPath(name));
  });
  afterAll(() => model?.dispose());
  afterEach(() => {
    setEngineSettings({ prefillGroupCost: undefined });
  });

  describe.each(groupings)("with $name", ({ cost }) => {
    beforeAll(() => {
      if (cost === undefined) setEngineSettings({ prefillGroupCost: undefined });
    });
    const setCost = () => {
      if (cost !== undefined) setEngineSettings({ prefillGroupCost: Number(cost) });
    };

    it("generates every row of prompts with a shared start as it generates alone", async () => {
      const { prompts } = sharedStartCase(model.info.vocabSize);
      const alone = [];
      for (const prompt of prompts) alone.push((await model.generate([prompt], { maxNewTokens: 8, ignoreEos: true })).tokens[0]);
      setCost();
      const batch = await model.generate(prompts, { maxNewTokens: 8, ignoreEos: true });
      expect(batch.tokens).toEqual(alone);
    });

    it("generates transformers' continuations of the fixture prompts", async () => {
      const ref = readReference(name);
      setCost();
      const out = await model.generate(ref.generate.prompts, { maxNewTokens: ref.generate.maxNewTokens, ignoreEos: true });
      expect(out.tokens).toEqual(ref.generate.freeRun);
    });

    it("scores prompts and answers from the generation as scoreAnswers does over the full sequences", async () => {
      const { prompts, promptSpans } = sharedStartCase(model.info.vocabSize);
      setCost();
      const generation = await model.generateForScoring(prompts, { maxNewTokens: 6, ignoreEos: true, promptSpans });
      const continuations = prompts.map((_, b) => pseudoTokens(b + 50, 3, model.info.vocabSize));
      const answerSpans = continuations.map(() => ({ start: 1, end: 3 }));
      const scores = await generation.scoreContinuations({ continuations, answerSpans });
      const sequences = prompts.map((p, b) => [...p, ...generation.tokens[b], ...continuations[b]]);
      const offset = (b: number) => prompts[b].length + generation.tokens[b].length;
      const reference = await model.scoreAnswers({
        sequences,
        answerSpans: answerSpans.map((s, b) => ({ start: s.start + offset(b), end: s.end + offset(b) })),
        promptSpans,
      });
      expect(maxAbsDifference(generation.promptNll, reference.promptNll)).toBeLessThan(1e-4);
      expect(maxAbsDifference(scores.answerLoss, reference.answerLoss)).toBeLessThan(1e-4);
      expect(generation.promptNll.filter((v) => v > 0).length).toBe(6); // the spans that are not empty
    });
  });

  it("rejects a group cost that is not a number of tokens, naming the setting or the variable", () => {
    expect(() => setEngineSettings({ prefillGroupCost: -1 })).toThrow(/setEngineSettings: prefillGroupCost must be a number of tokens >= 0, got -1/);
    expect(() => settingsFromEnvironment({ [costVariable]: "many" })).toThrow(`${costVariable}="many"`);
  });
});
