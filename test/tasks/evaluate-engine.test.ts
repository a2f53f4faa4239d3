// evaluate() on the real engine and tokenizer (the optimizer's random tiny Llama fixture). A random model
// answers nonsense, so the gold answers are made from its own greedy answers, computed here one example
// at a time straight from the engine: where the gold is the model's answer the record must be correct,
// elsewhere wrong, whatever batching evaluate() uses.
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../ts/engine/model.js";
import { normaliserFor } from "../../ts/tasks/answers.js";
import { evaluate, evaluateText } from "../../ts/tasks/evaluate.js";
import type { Example, Task } from "../../ts/tasks/types.js";
import { buildExampleLayout, encodePrompt } from "../../ts/text/layout.js";
import { loadTokenizer, type HfModelTokenizer } from "../../ts/text/tokenizer.js";

const modelDir = resolve(import.meta.dirname, "../optimizer/fixtures/random-llama");
// This random model answers only white space after "… is $ "; after "So" it writes letters.
const EXTRACTOR = "So";
const MAX_NEW_TOKENS = 10;
const ANSWER_TOKENS = 4;
const QUESTIONS = [
  "What is the last digit of 2 + 5",
  "What is the last digit of 8 + 8",
  "What is the last digit of 7 + 4 + 2",
  "Is a cat larger than a mouse",
  "Name the colour of the sky",
  "How many legs does a spider have",
];

let model: Model;
let tokenizer: HfModelTokenizer;
beforeAll(async () => {
  model = await loadModel(modelDir);
  tokenizer = await loadTokenizer(modelDir);
});
afterAll(() => model?.dispose());

/** The model's answer text to one question, from single-row engine calls (no batching). */
async function answerAlone(question: string, prompt: number[]): Promise<{ reasoning: string; extracted: string }> {
  const prefix = buildExampleLayout(tokenizer, { question, prompt }).ids;
  const reasoning = await model.generate([prefix], { maxNewTokens: MAX_NEW_TOKENS, stopTokenIds: tokenizer.stopTokenIds });
  const withExtractor = buildExampleLayout(tokenizer, { question, prompt, reasoning: reasoning.tokens[0], extractor: EXTRACTOR }).ids;
  const answer = await model.generate([withExtractor], { maxNewTokens: ANSWER_TOKENS, stopTokenIds: tokenizer.stopTokenIds });
  return {
    reasoning: tokenizer.decode(reasoning.tokens[0], { skipSpecialTokens: true }),
    extracted: tokenizer.decode(answer.tokens[0], { skipSpecialTokens: true }).split(/\r?\n/, 1)[0],
  };
}

function taskWithGolds(golds: string[]): Task {
  const dev: Example[] = QUESTIONS.map((question, index) => ({
    id: `dev:${index}`,
    question,
    answer: golds[index],
    source: { file: "dev.jsonl", line: index + 1 },
  }));
  return {
    name: "engine-check",
    extractor: EXTRACTOR,
    normalise: normaliserFor({ kind: "text" }),
    format: { kind: "text" },
    formatOrigin: "custom",
    formatNote: "test",
    train: [],
    dev,
    test: [],
    split: { seed: 0, sizes: { train: 0, dev: dev.length, test: 0 }, files: [], method: "test" },
    issues: [],
  };
}

describe("evaluate on the engine", () => {
  it("scores exactly the examples whose gold is the model's own answer, batched or not", async () => {
    const prompt = encodePrompt(tokenizer, " think step by step.");
    const alone = [];
    for (const question of QUESTIONS) alone.push(await answerAlone(question, prompt));
    const normalise = normaliserFor({ kind: "text" });
    // Answers that normalise to nothing can never be correct; the random model must give some text.
    expect(alone.filter((answer) => normalise(answer.extracted) !== "").length).toBeGreaterThanOrEqual(3);

    const golds = alone.map((answer, index) => (index % 2 === 0 ? answer.extracted : "certainly not this"));
    const task = taskWithGolds(golds);
    const expected = alone.map((answer, index) => index % 2 === 0 && normalise(answer.extracted) !== "");
    for (const batchSize of [1, 4, 6]) {
      const result = await evaluate(model, tokenizer, task, prompt, "dev", { maxNewTokens: MAX_NEW_TOKENS, answerTokens: ANSWER_TOKENS, batchSize });
      expect(result.records.map((record) => record.reasoning), `batch ${batchSize}`).toEqual(alone.map((answer) => answer.reasoning));
      expect(result.records.map((record) => record.extracted), `batch ${batchSize}`).toEqual(alone.map((answer) => answer.extracted));
      expect(result.records.map((record) => record.correct), `batch ${batchSize}`).toEqual(expected);
      expect(result.correct).toBe(expected.filter(Boolean).length);
      expect(result.accuracy).toBeCloseTo(result.correct / QUESTIONS.length, 12);
    }

    const fromText = await evaluateText(model, tokenizer, task, "think step by step.", "dev", {
      maxNewTokens: MAX_NEW_TOKENS,
      answerTokens: ANSWER_TOKENS,
    });
    expect(fromText.prompt.ids).toEqual(prompt);
    expect(fromText.records.map((record) => record.extracted)).toEqual(alone.map((answer) => answer.extracted));
  });
});
