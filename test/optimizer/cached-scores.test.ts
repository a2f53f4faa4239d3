// Selection with the answers scored from the generation's KV caches (reasoning.ts) measures exactly what plain
// generation followed by a forward over each whole row (scoreAnswers) measures: the same scores, the same choice.
// Rows whose full layout does not split after the reasoning are scored by scoreAnswers, and only they.
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../ts/engine/model.js";
import { EngineError, type LanguageModel } from "../../ts/engine/types.js";
import type { GreaterConfig } from "../../ts/optimizer/config.js";
import { GreaterOptimizer } from "../../ts/optimizer/greater.js";
import { splitAfterReasoning } from "../../ts/optimizer/reasoning.js";
import { chooseCandidate, selectionScore } from "../../ts/optimizer/selection.js";
import type { StepEvent } from "../../ts/optimizer/events.js";
import { buildExampleLayout, loadTokenizer, type HfModelTokenizer } from "../../ts/text/index.js";
import type { ExampleInput, ExampleLayout } from "../../ts/text/types.js";

const fixtures = new URL("./fixtures/", import.meta.url).pathname;
const modelDir = new URL("../../models/tiny-reasoner", import.meta.url).pathname;

type Call = { kind: string; rows: number };

/** The model behind a log of its calls. */
function observed(model: Model, calls: Call[]): LanguageModel {
  const log = <T>(kind: string, rows: number, result: Promise<T>) => {
    calls.push({ kind, rows });
    return result;
  };
  const wrapper: LanguageModel = {
    info: model.info,
    generate: (prompts, options) => log("generate", prompts.length, model.generate(prompts, options)),
    topCandidates: (sequences, options) => log("topCandidates", sequences.length, model.topCandidates(sequences, options)),
    oneHotGradient: (args) => log("oneHotGradient", args.sequences.length, model.oneHotGradient(args)),
    scoreAnswers: (args) => log("scoreAnswers", args.sequences.length, model.scoreAnswers(args)),
    generateForScoring: (prompts, options) => log("generateForScoring", prompts.length, model.generateForScoring(prompts, options)),
    dispose: () => undefined,
  };
  return wrapper;
}

describe("splitAfterReasoning", () => {
  const span = (start: number, end: number) => ({ start, end });
  const layout = (ids: number[], prompt = span(1, 3), answer = span(ids.length, ids.length)): ExampleLayout => ({
    ids,
    spans: { question: span(0, 1), prompt, header: span(3, 4), reasoning: span(4, 4), extractor: span(4, 4), answer },
  });
  const prefix = layout([1, 2, 3, 4]);

  it("takes the tokens after prefix and reasoning, with the answer span inside them", () => {
    const full = layout([1, 2, 3, 4, 7, 8, 9, 10, 11], span(1, 3), span(8, 9));
    expect(splitAfterReasoning(prefix, [7, 8], full)).toEqual({ continuation: [9, 10, 11], answerSpan: span(2, 3) });
    expect(splitAfterReasoning(prefix, [], layout([1, 2, 3, 4, 5], span(1, 3), span(4, 5)))).toEqual({
      continuation: [5],
      answerSpan: span(0, 1),
    });
  });

  it("refuses layouts that do not begin with the prefix and the reasoning, or whose answer is not after them", () => {
    expect(splitAfterReasoning(prefix, [7, 8], layout([1, 2, 3, 5, 7, 8, 9], span(1, 3), span(6, 7)))).toBeNull();
    expect(splitAfterReasoning(prefix, [7, 8], layout([1, 2, 3, 4, 7, 6, 9], span(1, 3), span(6, 7)))).toBeNull();
    expect(splitAfterReasoning(prefix, [7, 8], layout([1, 2, 3, 4, 7, 8, 9], span(1, 2), span(6, 7)))).toBeNull();
    expect(splitAfterReasoning(prefix, [7, 8], layout([1, 2, 3, 4, 7, 8, 9], span(1, 3), span(5, 7)))).toBeNull();
    expect(splitAfterReasoning(prefix, [7, 8], layout([1, 2, 3, 4, 7], span(1, 3), span(5, 5)))).toBeNull();
  });
});

describe.skipIf(!existsSync(`${modelDir}/config.json`))("selection scored from the generation's caches (tiny-reasoner)", () => {
  let model: Model;
  let tokenizer: HfModelTokenizer;
  const reference = JSON.parse(readFileSync(`${fixtures}tiny-reasoner-step-position3.json`, "utf8")) as {
    seed: number;
    config: Partial<GreaterConfig>;
    extractor: string;
    position: number;
  };
  const train = readFileSync(`${fixtures}tiny-reasoner-train.jsonl`, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { id: string; question: string; answer: string });
  const task = { extractor: reference.extractor, train };
  const config = { ...reference.config, seed: reference.seed, steps: 1 };

  beforeAll(async () => {
    model = await loadModel(modelDir);
    tokenizer = await loadTokenizer(modelDir);
  });
  afterAll(() => model?.dispose());

  const authorsLayout = (input: ExampleInput) => buildExampleLayout(tokenizer, input, { userTurnTemplate: "authors" });

  /** One step at the reference's position; `layout` replaces the text layer's layout when given. */
  async function step(languageModel: LanguageModel, layout?: (input: ExampleInput) => ExampleLayout) {
    const options = { evaluate: false as const, text: layout ? { layout } : undefined };
    const fresh = new GreaterOptimizer(languageModel, tokenizer, task, config, options);
    const optimizer = new GreaterOptimizer(languageModel, tokenizer, task, config, {
      ...options,
      resumeFrom: { ...fresh.state, position: reference.position },
    });
    return { prompt: fresh.state.prompt, event: await optimizer.step() };
  }

  /**
   * The step's selection the long way: plain generate (the current token's rows in one batch, as the refresh
   * makes them, the other candidates' rows in another, as the regeneration does), then scoreAnswers over every
   * full layout.
   */
  async function selectionByFullForwards(
    prompt: number[],
    event: StepEvent,
    layout: (input: ExampleInput) => ExampleLayout = authorsLayout,
  ): Promise<ReferenceScore[]> {
    const candidatePrompt = (token: number) => prompt.map((id, i) => (i === reference.position ? token : id));
    const batches = [
      event.rescored.filter((r) => r.token === prompt[reference.position]),
      event.rescored.filter((r) => r.token !== prompt[reference.position]),
    ];
    const scores = new Map<number, { mistakeRate: number; promptNll: number }>();
    for (const batch of batches.filter((b) => b.length > 0)) {
      const rows = batch.flatMap((r) => train.map((example) => ({ token: r.token, example, prompt: candidatePrompt(r.token) })));
      const prefixes = rows.map((row) => layout({ question: row.example.question, prompt: row.prompt }));
      const generated = await model.generate(
        prefixes.map((prefix) => prefix.ids),
        { maxNewTokens: config.maxNewTokens as number, stopTokenIds: [...model.info.eosTokenIds, ...tokenizer.stopTokenIds] },
      );
      const full = rows.map((row, r) =>
        layout({ question: row.example.question, prompt: row.prompt, reasoning: generated.tokens[r], extractor: task.extractor, answer: row.example.answer }),
      );
      const scored = await model.scoreAnswers({
        sequences: full.map((l) => l.ids),
        answerSpans: full.map((l) => l.spans.answer),
        promptSpans: full.map((l) => l.spans.prompt),
      });
      batch.forEach((r, b) => {
        const range = [b * train.length, (b + 1) * train.length];
        const exact = Array.from(scored.exactMatch.subarray(range[0], range[1]));
        const nll = Array.from(scored.promptNll.subarray(range[0], range[1]));
        scores.set(r.token, {
          mistakeRate: exact.reduce((sum, m) => sum + 1 - m, 0) / train.length,
          promptNll: nll.reduce((sum, v) => sum + v, 0) / train.length,
        });
      });
    }
    return event.rescored.map((r) => {
      const { mistakeRate, promptNll } = scores.get(r.token)!;
      return { token: r.token, mistakeRate, promptNll, score: selectionScore(mistakeRate, promptNll, config.controlWeight as number), endsSentenceEarly: r.endsSentenceEarly };
    });
  }

  type ReferenceScore = { token: number; mistakeRate: number; promptNll: number; score: number; endsSentenceEarly: boolean };

  function expectSelection(event: StepEvent, reference: ReferenceScore[]) {
    expect(event.rescored.map((r) => r.token)).toEqual(reference.map((r) => r.token));
    event.rescored.forEach((r, i) => {
      expect(r.mistakeRate).toBe(reference[i].mistakeRate);
      expect(Math.abs(r.promptNll - reference[i].promptNll)).toBeLessThan(1e-5);
      expect(Math.abs(r.score - reference[i].score)).toBeLessThan(1e-5);
    });
    expect(event.chosen.token).toBe(chooseCandidate(reference).chosen.token);
  }

  it("gives the scores and choice of generate + scoreAnswers, without any scoreAnswers call", async () => {
    const calls: Call[] = [];
    const { prompt, event } = await step(observed(model, calls));
    expectSelection(event, await selectionByFullForwards(prompt, event));
    // Not a trivial case: answers are partly right.
    expect(event.rescored.some((r) => r.mistakeRate > 0 && r.mistakeRate < 1)).toBe(true);

    const rows = (kind: string) => calls.filter((c) => c.kind === kind).map((c) => c.rows);
    const examples = train.length;
    // The refresh and the selection's regeneration each in one call.
    const [refresh, regenerated] = rows("generateForScoring");
    expect(rows("generateForScoring")).toHaveLength(2);
    expect(refresh).toBe(examples);
    // The current token's reasoning is reused from the refresh, and so are its scores, read from the refresh's caches.
    const measured = event.rescored.filter((r) => !r.cached).length * examples;
    expect([regenerated, regenerated + examples]).toContain(measured);
    expect(rows("scoreAnswers")).toEqual([]);
    expect(rows("generate")).toEqual([]);
  });

  it("splits the generation and its scoring together on out-of-memory, with the same result", async () => {
    const wholeCalls: Call[] = [];
    const whole = (await step(observed(model, wholeCalls))).event;
    const calls: Call[] = [];
    const limited = observed(model, calls);
    let released = 0;
    // Scoring more than 15 rows "runs out of memory" after the generation: the chunk is generated again, smaller.
    limited.generateForScoring = async (prompts, options) => {
      calls.push({ kind: "generateForScoring", rows: prompts.length });
      const generation = await model.generateForScoring(prompts, options);
      return {
        ...generation,
        scoreContinuations: async (args) => {
          if (prompts.length > 15) throw new EngineError("CUDA out of memory (test)", "OUT_OF_MEMORY");
          return generation.scoreContinuations(args);
        },
        release: () => {
          released += 1;
          generation.release();
        },
      };
    };
    const split = (await step(limited)).event;
    expectSelection(split, whole.rescored);
    const sizes = calls.filter((c) => c.kind === "generateForScoring").map((c) => c.rows);
    expect(sizes[0]).toBeGreaterThan(15);
    // Halved until it fits; the chunks that fit cover every row of the refresh and the regeneration once.
    const unsplit = wholeCalls.filter((c) => c.kind === "generateForScoring").reduce((sum, c) => sum + c.rows, 0);
    expect(sizes.filter((rows) => rows <= 15).reduce((sum, rows) => sum + rows, 0)).toBe(unsplit);
    expect(released).toBe(sizes.length); // every generation's caches freed, the failed ones too
    expect(split.splitSizes.generate).toBeLessThanOrEqual(15);
  });

  it("leaves rows whose layout does not split after the reasoning to scoreAnswers, with the same result", async () => {
    // A layout in which the reasoning's last token changes when the tail follows it (as a merge across the
    // boundary would), for every other question.
    const bent = new Set(train.filter((_, i) => i % 2 === 1).map((e) => e.question));
    const layout = (input: ExampleInput): ExampleLayout => {
      const built = authorsLayout(input);
      const reasoning = built.spans.reasoning;
      if (input.answer === undefined || !bent.has(input.question) || reasoning.end === reasoning.start) return built;
      const ids = built.ids.slice();
      ids[reasoning.end - 1] = (ids[reasoning.end - 1] + 1) % tokenizer.vocabSize;
      return { ids, spans: built.spans };
    };
    const calls: Call[] = [];
    const { prompt, event } = await step(observed(model, calls), layout);
    expectSelection(event, await selectionByFullForwards(prompt, event, layout));
    const scored = calls.filter((c) => c.kind === "scoreAnswers").reduce((sum, c) => sum + c.rows, 0);
    // The rows of bent questions (half of them; the tiny reasoner always reasons), among the refresh's reused
    // rows and the regenerated ones alike.
    const measured = event.rescored.filter((r) => !r.cached).length * train.length;
    expect(scored).toBe(measured / 2);
  });
});
