// Selection with the answers scored from the generation's KV caches (reasoning-scores.ts) measures exactly what
// the scoreAnswers path measures: the same step, the same scores, the same choice. Rows whose full layout does
// not split after the reasoning fall back to scoreAnswers, and only they.
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../ts/engine/model.js";
import { EngineError, type LanguageModel } from "../../ts/engine/types.js";
import type { GreaterConfig } from "../../ts/optimizer/config.js";
import { GreaterOptimizer } from "../../ts/optimizer/greater.js";
import { splitAfterReasoning } from "../../ts/optimizer/reasoning-scores.js";
import { buildExampleLayout, loadTokenizer, type HfModelTokenizer } from "../../ts/text/index.js";
import type { ExampleInput, ExampleLayout } from "../../ts/text/types.js";

const fixtures = new URL("./fixtures/", import.meta.url).pathname;
const modelDir = new URL("../../models/tiny-reasoner", import.meta.url).pathname;

type Call = { kind: string; rows: number };

/** The model behind a log of its calls; with `cached: false` it lacks generateForScoring (the scoreAnswers path). */
function observed(model: Model, calls: Call[], cached: boolean): LanguageModel {
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
    dispose: () => undefined,
  };
  if (cached) wrapper.generateForScoring = (prompts, options) => log("generateForScoring", prompts.length, model.generateForScoring(prompts, options));
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

  /** One step at the reference's position; `layout` replaces the text layer's layout when given. */
  async function step(languageModel: LanguageModel, layout?: (input: ExampleInput) => ExampleLayout) {
    const options = { evaluate: false as const, text: layout ? { layout } : undefined };
    const fresh = new GreaterOptimizer(languageModel, tokenizer, task, config, options);
    const optimizer = new GreaterOptimizer(languageModel, tokenizer, task, config, {
      ...options,
      resumeFrom: { ...fresh.state, position: reference.position },
    });
    return optimizer.step();
  }

  function expectSameSelection(ours: Awaited<ReturnType<typeof step>>, theirs: Awaited<ReturnType<typeof step>>) {
    expect(ours.rescored.map((r) => r.token)).toEqual(theirs.rescored.map((r) => r.token));
    ours.rescored.forEach((r, i) => {
      expect(r.mistakeRate).toBe(theirs.rescored[i].mistakeRate);
      expect(Math.abs(r.promptNll - theirs.rescored[i].promptNll)).toBeLessThan(1e-5);
      expect(Math.abs(r.score - theirs.rescored[i].score)).toBeLessThan(1e-5);
    });
    expect(ours.chosen).toEqual(theirs.chosen);
    expect(ours.loss).toBeCloseTo(theirs.loss, 6);
  }

  it("gives the scores and choice of generate + scoreAnswers, without any scoreAnswers call", async () => {
    const cachedCalls: Call[] = [];
    const plainCalls: Call[] = [];
    const cached = await step(observed(model, cachedCalls, true));
    const plain = await step(observed(model, plainCalls, false));
    expectSameSelection(cached, plain);
    // Not a trivial case: answers are partly right.
    expect(cached.rescored.some((r) => r.mistakeRate > 0 && r.mistakeRate < 1)).toBe(true);

    const rows = (calls: Call[], kind: string) => calls.filter((c) => c.kind === kind).map((c) => c.rows);
    const examples = train.length;
    // The refresh and the selection's regeneration each in one call, as plain generate makes them.
    expect(rows(cachedCalls, "generateForScoring")).toEqual(rows(plainCalls, "generate"));
    const [refresh, regenerated] = rows(cachedCalls, "generateForScoring");
    expect(refresh).toBe(examples);
    // The current token's reasoning is reused from the refresh, and so are its scores, read from the refresh's caches.
    const measured = cached.rescored.filter((r) => !r.cached).length * examples;
    expect([regenerated, regenerated + examples]).toContain(measured);
    expect(rows(cachedCalls, "scoreAnswers")).toEqual([]);
    expect(rows(plainCalls, "scoreAnswers")).toEqual([measured]);
  });

  it("splits the generation and its scoring together on out-of-memory, with the same result", async () => {
    const wholeCalls: Call[] = [];
    const whole = await step(observed(model, wholeCalls, true));
    const calls: Call[] = [];
    const limited = observed(model, calls, true);
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
    const split = await step(limited);
    expectSameSelection(split, whole);
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
      const built = buildExampleLayout(tokenizer, input, { userTurnTemplate: "authors" });
      const reasoning = built.spans.reasoning;
      if (input.answer === undefined || !bent.has(input.question) || reasoning.end === reasoning.start) return built;
      const ids = built.ids.slice();
      ids[reasoning.end - 1] = (ids[reasoning.end - 1] + 1) % tokenizer.vocabSize;
      return { ids, spans: built.spans };
    };
    const cachedCalls: Call[] = [];
    const cached = await step(observed(model, cachedCalls, true), layout);
    const plain = await step(observed(model, [], false), layout);
    expectSameSelection(cached, plain);
    const scored = cachedCalls.filter((c) => c.kind === "scoreAnswers").reduce((sum, c) => sum + c.rows, 0);
    // The rows of bent questions (half of them; the tiny reasoner always reasons), among the refresh's reused
    // rows and the regenerated ones alike.
    const measured = cached.rescored.filter((r) => !r.cached).length * train.length;
    expect(scored).toBe(measured / 2);
  });
});
