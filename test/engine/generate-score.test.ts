// generateForScoring + scoreContinuations: the answer and prompt scores read from the generation's own KV
// caches equal scoreAnswers over the full sequences, and the generated tokens equal plain generate's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineError, loadModel, setEngineSettings, type Model, type Span } from "../../ts/engine/index.js";
import { maxAbsDifference, modelPath, readReference, type Reference } from "./helpers/fixtures.js";

/** A deterministic token stream (no Math.random: failures must reproduce). */
function pseudoTokens(seed: number, count: number, vocab: number): number[] {
  let state = seed * 2654435761 + 12345;
  return Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % vocab;
  });
}

interface Case {
  prompts: number[][];
  promptSpans: Span[];
  options: { maxNewTokens: number; stopTokenIds: number[] };
  continuations: number[][];
  answerSpans: Span[];
}

/**
 * Prompts of 1 to 15 tokens, stop ids that end rows at different steps (so the running batch is compacted
 * and rows leave it at different times), prompt spans empty / from 1 / inside, and continuations that are
 * partly the model's own greedy continuation (so some answers match exactly) and partly other tokens, with
 * answer spans starting right after the generated tokens or later.
 */
async function buildCase(model: Model, ref: Reference, maxNewTokens: number): Promise<Case> {
  const vocab = model.info.vocabSize;
  const sources = [...ref.logits.sequences, ...ref.topCandidates.sequences, ...ref.gradient.sequences, ...ref.generate.prompts];
  const prompts = sources.map((s, i) => s.slice(0, 1 + ((i * 5) % 15)));
  const options = { maxNewTokens, stopTokenIds: [ref.generate.freeRun[1][2], ref.generate.freeRun[0][4]] };
  const promptSpans = prompts.map((p, b) => {
    if (b % 3 === 0 || p.length < 2) return { start: 0, end: 0 };
    return b % 3 === 1 ? { start: 1, end: p.length } : { start: Math.max(1, p.length - 3), end: p.length - 1 };
  });
  // Greedy continues each row's reasoning with the stop token (stopped rows) or its next free-run tokens.
  const generated = await model.generate(prompts, options);
  const longer = await model.generate(prompts, { maxNewTokens: maxNewTokens + 4, ignoreEos: true });
  const continuations = prompts.map((_, b) => {
    const reasoning = generated.tokens[b];
    const greedy = longer.tokens[b].slice(reasoning.length, reasoning.length + 4);
    if (generated.stopped[b]) {
      const stop = longer.tokens[b][reasoning.length];
      expect(options.stopTokenIds.concat(model.info.eosTokenIds)).toContain(stop);
    }
    return b % 2 === 0 ? greedy : [...greedy.slice(0, 1), ...pseudoTokens(b, 2 + (b % 3), vocab)];
  });
  const answerSpans = continuations.map((c, b) => (b % 4 < 2 ? { start: 0, end: Math.min(2, c.length) } : { start: 1, end: c.length }));
  return { prompts, promptSpans, options, continuations, answerSpans };
}

describe.each(["llama-gqa-rope3-tied", "mistral-sliding", "gemma2", "qwen2-bias"])("scoring from the generation's caches on %s", (name) => {
  let model: Model;
  let ref: Reference;
  beforeAll(async () => {
    ref = readReference(name);
    model = await loadModel(modelPath(name));
  });
  afterAll(() => model?.dispose());

  it.each([10, 1, 0])("equals generate + scoreAnswers over the full sequences (maxNewTokens %i)", async (maxNewTokens) => {
    const c = await buildCase(model, ref, maxNewTokens);
    const plain = await model.generate(c.prompts, c.options);
    const retained = await model.generateForScoring(c.prompts, { ...c.options, promptSpans: c.promptSpans });
    expect(retained.tokens).toEqual(plain.tokens);
    expect(retained.stopped).toEqual(plain.stopped);
    if (maxNewTokens === 10) {
      expect(plain.stopped.filter(Boolean).length).toBeGreaterThan(0);
      expect(plain.stopped.filter((s) => !s).length).toBeGreaterThan(0);
    }
    const scores = await retained.scoreContinuations({ continuations: c.continuations, answerSpans: c.answerSpans });

    const sequences = c.prompts.map((p, b) => [...p, ...plain.tokens[b], ...c.continuations[b]]);
    const offset = (b: number) => c.prompts[b].length + plain.tokens[b].length;
    const reference = await model.scoreAnswers({
      sequences,
      answerSpans: c.answerSpans.map((s, b) => ({ start: s.start + offset(b), end: s.end + offset(b) })),
      promptSpans: c.promptSpans,
    });
    expect(maxAbsDifference(scores.answerLoss, reference.answerLoss)).toBeLessThan(1e-4);
    expect(Array.from(scores.exactMatch)).toEqual(Array.from(reference.exactMatch));
    expect(maxAbsDifference(retained.promptNll, reference.promptNll)).toBeLessThan(1e-4);
    // The case is not trivial: some answers match, some do not, some prompt spans are scored.
    expect(scores.exactMatch.some((m) => m === 1)).toBe(true);
    expect(scores.exactMatch.some((m) => m === 0)).toBe(true);
    expect(retained.promptNll.some((v) => v > 0)).toBe(true);
  });

  it("gives the same scores when lm_head runs over a few positions at a time", async () => {
    const c = await buildCase(model, ref, 10);
    const score = async () => {
      const generation = await model.generateForScoring(c.prompts, { ...c.options, promptSpans: c.promptSpans });
      return { promptNll: generation.promptNll, ...(await generation.scoreContinuations({ continuations: c.continuations, answerSpans: c.answerSpans })) };
    };
    const whole = await score();
    setEngineSettings({ logitChunkBytes: 3 * model.info.vocabSize * 4 }); // 3 positions per chunk
    try {
      const chunked = await score();
      expect(maxAbsDifference(chunked.answerLoss, whole.answerLoss)).toBeLessThan(1e-5);
      expect(Array.from(chunked.exactMatch)).toEqual(Array.from(whole.exactMatch));
      expect(maxAbsDifference(chunked.promptNll, whole.promptNll)).toBeLessThan(1e-5);
    } finally {
      setEngineSettings({ logitChunkBytes: undefined });
    }
  });

  it("scores a row alone as in the batch", async () => {
    const c = await buildCase(model, ref, 10);
    const batch = await model.generateForScoring(c.prompts, { ...c.options, promptSpans: c.promptSpans });
    const batchScores = await batch.scoreContinuations({ continuations: c.continuations, answerSpans: c.answerSpans });
    for (const b of [0, 5, c.prompts.length - 1]) {
      const alone = await model.generateForScoring([c.prompts[b]], { ...c.options, promptSpans: [c.promptSpans[b]] });
      const aloneScores = await alone.scoreContinuations({ continuations: [c.continuations[b]], answerSpans: [c.answerSpans[b]] });
      expect(alone.tokens[0]).toEqual(batch.tokens[b]);
      expect(aloneScores.answerLoss[0]).toBeCloseTo(batchScores.answerLoss[b], 4);
      expect(aloneScores.exactMatch[0]).toBe(batchScores.exactMatch[b]);
      expect(alone.promptNll[0]).toBeCloseTo(batch.promptNll[b], 4);
    }
  });
});

describe("generateForScoring: errors and lifetime", () => {
  let model: Model;
  let ref: Reference;
  beforeAll(async () => {
    ref = readReference("llama-untied");
    model = await loadModel(modelPath("llama-untied"));
  });
  afterAll(() => model?.dispose());
  const prompts = () => ref.generate.prompts;
  const spans = () => prompts().map(() => ({ start: 1, end: 2 }));
  const continuations = () => prompts().map(() => [3, 4]);
  const answers = () => prompts().map(() => ({ start: 0, end: 2 }));

  it("rejects bad prompt spans, naming the row", async () => {
    const bad = spans();
    bad[1] = { start: 0, end: 2 };
    await expect(model.generateForScoring(prompts(), { maxNewTokens: 2, promptSpans: bad })).rejects.toThrow(
      "generate: promptSpans[1] = [0, 2) starts at 0",
    );
    bad[1] = { start: 1, end: 99 };
    await expect(model.generateForScoring(prompts(), { maxNewTokens: 2, promptSpans: bad })).rejects.toThrow(
      /promptSpans\[1\] = \[1, 99\) is not a range inside prompts\[1\]/,
    );
    await expect(model.generateForScoring(prompts(), { maxNewTokens: 2, promptSpans: [] })).rejects.toThrow(
      "generate: promptSpans has 0 entries but prompts has 3 rows",
    );
  });

  it("rejects bad continuations and answer spans, and stays usable", async () => {
    const generation = await model.generateForScoring(prompts(), { maxNewTokens: 3, promptSpans: spans() });
    const empty = answers();
    empty[2] = { start: 1, end: 1 };
    await expect(generation.scoreContinuations({ continuations: continuations(), answerSpans: empty })).rejects.toThrow(
      "scoreContinuations: answerSpans[2] = [1, 1) is empty",
    );
    const generation2 = await model.generateForScoring(prompts(), { maxNewTokens: 3, promptSpans: spans() });
    await expect(generation2.scoreContinuations({ continuations: [[1]], answerSpans: [{ start: 0, end: 1 }] })).rejects.toThrow(
      "scoreContinuations: continuations has 1 entries but the generation has 3 rows",
    );
    const generation3 = await model.generateForScoring(prompts(), { maxNewTokens: 3, promptSpans: spans() });
    const outside = continuations();
    outside[0] = [3, 100000];
    await expect(generation3.scoreContinuations({ continuations: outside, answerSpans: answers() })).rejects.toThrow(
      "scoreContinuations: continuations[0][1] = 100000 is not a token id of this model",
    );
  });

  it("scores once, and refuses after release", async () => {
    const generation = await model.generateForScoring(prompts(), { maxNewTokens: 3, promptSpans: spans() });
    const args = { continuations: continuations(), answerSpans: answers() };
    const scores = await generation.scoreContinuations(args);
    expect(scores.answerLoss.length).toBe(3);
    await expect(generation.scoreContinuations(args)).rejects.toThrow("already used or released");

    const released = await model.generateForScoring(prompts(), { maxNewTokens: 3, promptSpans: spans() });
    released.release();
    released.release();
    await expect(released.scoreContinuations(args)).rejects.toThrow("already used or released");
  });

  it("stops on an aborted signal", async () => {
    const controller = new AbortController();
    controller.abort();
    const generation = await model.generateForScoring(prompts(), { maxNewTokens: 3, promptSpans: spans() });
    const error = await generation
      .scoreContinuations({ continuations: continuations(), answerSpans: answers(), signal: controller.signal })
      .catch((e) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(error.code).toBe("ABORTED");
    generation.release();
  });
});
