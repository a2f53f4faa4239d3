// evaluate() end to end with the real text layer (the tiny byte-level tokenizer fixture and its chat
// template) and a scripted LanguageModel: it generates reasoning and answers from a script keyed by the
// question, and behaves like the engine on stop ids, maxNewTokens and out-of-memory.
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { EngineError, type GenerateOptions, type GenerateResult, type LanguageModel, type ModelInfo } from "../../ts/engine/types.js";
import { normaliserFor } from "../../ts/tasks/answers.js";
import { evaluate, evaluateText } from "../../ts/tasks/evaluate.js";
import { extractorFor } from "../../ts/tasks/formats.js";
import type { AnswerFormat, Example, Task } from "../../ts/tasks/types.js";
import { encodePrompt } from "../../ts/text/layout.js";
import { loadTokenizer, type HfModelTokenizer } from "../../ts/text/tokenizer.js";

const TOKENIZER_DIR = join(resolve(import.meta.dirname, "../.."), "test", "fixtures", "tokenizers", "tiny-bytelevel");

interface Script {
  reasoning: string;
  answer: string;
}

/** Generates the script's text for whichever example a row belongs to, like the engine would. */
class ScriptedModel implements LanguageModel {
  readonly info: ModelInfo;
  readonly calls: { rows: string[]; options: GenerateOptions }[] = [];

  constructor(
    private readonly tokenizer: HfModelTokenizer,
    private readonly scripts: Map<string, Script>,
    private readonly extractor: string,
    private readonly maxRowsBeforeOom = Infinity,
  ) {
    this.info = {
      architecture: "ScriptedForCausalLM",
      modelType: "scripted",
      vocabSize: tokenizer.vocabSize,
      hiddenSize: 1,
      numLayers: 1,
      numHeads: 1,
      numKvHeads: 1,
      headDim: 1,
      maxPositionEmbeddings: 4096,
      dtype: "float32",
      device: "cpu",
      parameterCount: 0,
      eosTokenIds: [1],
      bosTokenId: 0,
      padTokenId: 5,
      path: "(scripted)",
    };
  }

  async generate(prompts: number[][], options: GenerateOptions): Promise<GenerateResult> {
    options.signal?.throwIfAborted();
    if (prompts.length > this.maxRowsBeforeOom) throw new EngineError("CUDA out of memory (scripted)", "OUT_OF_MEMORY");
    const texts = prompts.map((ids) => this.tokenizer.decode(ids));
    this.calls.push({ rows: texts, options });
    const stops = new Set([...this.info.eosTokenIds, ...(options.stopTokenIds ?? [])]);
    const tokens: number[][] = [];
    const stopped: boolean[] = [];
    for (const text of texts) {
      const script = [...this.scripts.entries()].find(([question]) => text.includes(`"${question}. Use"`))?.[1];
      if (script === undefined) throw new Error(`no script for row ${JSON.stringify(text)}`);
      const answering = text.endsWith(" " + this.extractor);
      const output = answering ? script.answer : script.reasoning + "<|eot_id|>";
      const ids = this.tokenizer.encode(output);
      const stopAt = ids.findIndex((id) => stops.has(id));
      const cut = stopAt >= 0 && stopAt < options.maxNewTokens ? stopAt : Math.min(ids.length, options.maxNewTokens);
      tokens.push(ids.slice(0, cut));
      stopped.push(stopAt >= 0 && stopAt < options.maxNewTokens);
    }
    return { tokens, stopped };
  }

  async topCandidates(): Promise<number[][]> {
    throw new Error("not used by evaluate");
  }
  async oneHotGradient(): Promise<never> {
    throw new Error("not used by evaluate");
  }
  async scoreAnswers(): Promise<never> {
    throw new Error("not used by evaluate");
  }
  dispose(): void {}
}

function makeTask(format: AnswerFormat, examples: { question: string; answer: string }[]): Task {
  const dev: Example[] = examples.map((example, index) => ({
    ...example,
    id: `dev.csv:${index + 2}`,
    source: { file: "dev.csv", line: index + 2 },
  }));
  return {
    name: "scripted",
    extractor: extractorFor(format),
    normalise: normaliserFor(format),
    format,
    formatOrigin: "custom",
    formatNote: "test",
    train: [],
    dev,
    test: [],
    split: { seed: 0, sizes: { train: 0, dev: dev.length, test: 0 }, files: [], method: "test" },
    issues: [],
  };
}

let tokenizer: HfModelTokenizer;
beforeAll(async () => {
  tokenizer = await loadTokenizer(TOKENIZER_DIR);
});

describe("evaluate", () => {
  const letters: AnswerFormat = { kind: "letters", letters: ["A", "B", "C"] };
  const letterExamples = [
    { question: "Pick one: first", answer: "B", reasoning: "Option B fits best.", generated: "B$. Because B fits.\nMore" },
    { question: "Pick one: second", answer: "C", reasoning: "It must be C.", generated: "(C)" },
    { question: "Pick one: third", answer: "A", reasoning: "I think it is B.", generated: "B$" },
    { question: "Pick one: fourth", answer: "A", reasoning: "Unsure.", generated: "\nA" },
    { question: "Pick one: fifth", answer: "C", reasoning: "Clearly c.", generated: " c" },
  ];
  const scripts = new Map(letterExamples.map((example) => [example.question, { reasoning: example.reasoning, answer: example.generated }]));

  it("generates reasoning, then the answer after the extractor, and scores it against the gold", async () => {
    const task = makeTask(letters, letterExamples);
    const model = new ScriptedModel(tokenizer, scripts, task.extractor);
    const prompt = encodePrompt(tokenizer, " think step by step.");
    const progress: number[] = [];
    const result = await evaluate(model, tokenizer, task, prompt, "dev", { batchSize: 2, onProgress: (p) => progress.push(p.done) });

    expect(result.records.map((record) => record.id)).toEqual(task.dev.map((example) => example.id));
    // The answer is cut at 8 tokens (answerTokens) and at the first newline.
    expect(result.records.map((record) => record.extracted)).toEqual(["B$. Because B fits", "(C)", "B$", "", " c"]);
    expect(result.records.map((record) => record.normalised)).toEqual(["b", "c", "b", "", "c"]);
    expect(result.records.map((record) => record.correct)).toEqual([true, true, false, false, true]);
    expect(result.records[0]).toMatchObject({ reasoning: "Option B fits best.", reasoningTruncated: false, gold: "B" });
    expect(result).toMatchObject({ correct: 3, total: 5, accuracy: 0.6, split: "dev", task: "scripted" });
    expect(result.prompt.text).toBe(" think step by step.");
    expect(progress).toEqual([2, 4, 5]);

    // Reasoning rows: the chat turn with the authors' user message; answer rows: reasoning + " " + extractor.
    const rowOf = (call: { rows: string[] }, question: string) => call.rows.find((row) => row.includes(question))!;
    const reasoningCall = model.calls.find((call) => call.rows.some((row) => row.includes("Pick one: first")))!;
    expect(rowOf(reasoningCall, "Pick one: first")).toContain('"Pick one: first. Use" think step by step.<|eot_id|>');
    expect(rowOf(reasoningCall, "Pick one: first").endsWith("<|start_header_id|>assistant<|end_header_id|>\n\n")).toBe(true);
    expect(reasoningCall.options.maxNewTokens).toBe(512);
    const answerCall = model.calls[model.calls.indexOf(reasoningCall) + 1];
    expect(rowOf(answerCall, "Pick one: first").endsWith(`<|end_header_id|>\n\nOption B fits best. ${task.extractor}`)).toBe(true);
    expect(answerCall.options.maxNewTokens).toBe(8);
    // The answer stops at a newline; the reasoning does not.
    const newline = tokenizer.encode("\n");
    expect(newline).toHaveLength(1);
    expect(answerCall.options.stopTokenIds).toContain(newline[0]);
    expect(reasoningCall.options.stopTokenIds).not.toContain(newline[0]);
    expect(model.calls.every((call) => call.rows.length <= 2)).toBe(true);
  });

  it("marks reasoning cut by maxNewTokens and evaluates only `limit` examples", async () => {
    const task = makeTask(letters, letterExamples);
    const model = new ScriptedModel(tokenizer, scripts, task.extractor);
    const result = await evaluate(model, tokenizer, task, encodePrompt(tokenizer, " go"), "dev", { maxNewTokens: 3, limit: 2 });
    expect(result.total).toBe(2);
    expect(result.records.every((record) => record.reasoningTruncated)).toBe(true);
    expect(tokenizer.encode(result.records[0].reasoning)).toHaveLength(3);
  });

  it("compares numbers as numbers and words case-insensitively", async () => {
    const numbers = [
      { question: "How many: a", answer: "24", generated: "24.0$" },
      { question: "How many: b", answer: "1000", generated: "1,000$ dollars" },
      { question: "How many: c", answer: "-3", generated: "3$" },
    ];
    const numberTask = makeTask({ kind: "integer", signed: true }, numbers);
    const numberModel = new ScriptedModel(
      tokenizer,
      new Map(numbers.map((example) => [example.question, { reasoning: "Counting.", answer: example.generated }])),
      numberTask.extractor,
    );
    const numberResult = await evaluate(numberModel, tokenizer, numberTask, encodePrompt(tokenizer, " count"), "dev");
    expect(numberResult.records.map((record) => record.correct)).toEqual([true, true, false]);

    const words = [
      { question: "Is it: a", answer: "Yes", generated: "yes." },
      { question: "Is it: b", answer: "No", generated: "Yes" },
    ];
    const wordTask = makeTask({ kind: "choices", choices: ["Yes", "No"] }, words);
    const wordModel = new ScriptedModel(
      tokenizer,
      new Map(words.map((example) => [example.question, { reasoning: "Thinking.", answer: example.generated }])),
      wordTask.extractor,
    );
    const wordResult = await evaluate(wordModel, tokenizer, wordTask, encodePrompt(tokenizer, " decide"), "dev");
    expect(wordResult.records.map((record) => record.correct)).toEqual([true, false]);
    // The "$ "-style extractor ends with its space, and the answer row ends with it.
    expect(wordModel.calls[1].rows[0].endsWith("is $ ")).toBe(true);
  });

  it("halves the batch when the engine runs out of memory, and keeps going", async () => {
    const task = makeTask(letters, letterExamples);
    const model = new ScriptedModel(tokenizer, scripts, task.extractor, 2);
    const result = await evaluate(model, tokenizer, task, encodePrompt(tokenizer, " go"), "dev", { batchSize: 5 });
    expect(result.correct).toBe(3);
    expect(result.records.map((record) => record.id)).toEqual(task.dev.map((example) => example.id));
    // 5 rows fail, 3 rows fail, then pairs: reasoning in 3 calls, answers in 3 more.
    expect(model.calls).toHaveLength(6);
    expect(Math.max(...model.calls.map((call) => call.rows.length))).toBe(2);
  });

  it("stops on abort and refuses an empty split", async () => {
    const task = makeTask(letters, letterExamples);
    const model = new ScriptedModel(tokenizer, scripts, task.extractor);
    const controller = new AbortController();
    controller.abort();
    await expect(evaluate(model, tokenizer, task, [], "dev", { signal: controller.signal })).rejects.toThrow();
    await expect(evaluate(model, tokenizer, task, [], "test")).rejects.toThrow(/has no test examples/);
  });

  it("evaluateText re-encodes a prompt text with this tokenizer (transfer)", async () => {
    const task = makeTask(letters, letterExamples);
    const model = new ScriptedModel(tokenizer, scripts, task.extractor);
    const result = await evaluateText(model, tokenizer, task, "think step by step.", "dev");
    expect(result.prompt.ids).toEqual(tokenizer.encode(" think step by step."));
    expect(result.prompt.text).toBe(" think step by step.");
    expect(result.correct).toBe(3);
  });
});
