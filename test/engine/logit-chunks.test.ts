// oneHotGradient and scoreAnswers run lm_head and the cross-entropy over chunks of positions
// (native/engine/greater_ops.cpp), so that a step never holds full-vocabulary logits for all its positions at
// once. GREATER_LOGIT_CHUNK_BYTES forces small chunks: on a tiny model, many chunks (some mixing rows, some
// crossing from answer to prompt positions) must give what one chunk gives and what one row at a time gives.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadModel, setEngineSettings, settingsFromEnvironment, type Model, type OneHotGradientArgs, type ScoreAnswersArgs, type Span } from "../../ts/engine/index.js";
import { maxAbsDifference, modelPath, readReference, relativeError, spans, type Reference } from "./helpers/fixtures.js";

const chunkVariable = "GREATER_LOGIT_CHUNK_BYTES";

/** Runs `call` with chunks of `rows` positions (undefined: the default, one chunk on a tiny model). */
async function withChunkRows<T>(model: Model, rows: number | undefined, call: () => Promise<T>): Promise<T> {
  setEngineSettings({ logitChunkBytes: rows === undefined ? undefined : rows * model.info.vocabSize * 4 });
  try {
    return await call();
  } finally {
    setEngineSettings({ logitChunkBytes: undefined });
  }
}

/** The fixture's rows, plus each again with a longer answer span and no prompt span: six rows, ~40 read positions. */
function gradientBatch(ref: Reference, controlWeight: number): OneHotGradientArgs {
  const g = ref.gradient;
  const answerSpans: Span[] = [...spans(g.answerSpans), ...g.answerSpans.map(([, end]) => ({ start: end - 5, end }))];
  const promptSpans: Span[] = [...spans(g.promptSpans), ...g.promptSpans.map(() => ({ start: 0, end: 0 }))];
  return {
    sequences: [...g.sequences, ...g.sequences],
    positions: [...g.positions, ...g.positions],
    candidates: g.candidates,
    answerSpans,
    promptSpans,
    temperature: g.temperature,
    controlWeight,
  };
}

function scoreBatch(ref: Reference): ScoreAnswersArgs {
  const s = ref.scores;
  return {
    sequences: [...s.sequences, ...s.sequences],
    answerSpans: [...spans(s.answerSpans), ...s.answerSpans.map(([start, end]) => ({ start: Math.max(1, start - 3), end }))],
    promptSpans: [...spans(s.promptSpans), ...s.promptSpans.map(() => ({ start: 1, end: 4 }))],
  };
}

function scoreRow(args: ScoreAnswersArgs, b: number): ScoreAnswersArgs {
  return { sequences: [args.sequences[b]], answerSpans: [args.answerSpans[b]], promptSpans: [args.promptSpans[b]] };
}

function gradientRow(args: OneHotGradientArgs, b: number): OneHotGradientArgs {
  return { ...args, ...scoreRow(args, b), positions: [args.positions[b]] };
}

/** One call per row, one after another (the chunk size is process-wide, so calls must not overlap). */
async function eachRow<T>(rows: number, call: (b: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let b = 0; b < rows; b++) out.push(await call(b));
  return out;
}

describe.each(["llama-gqa-rope3-tied", "llama-untied", "gemma2"])("%s: chunked lm_head", (name) => {
  let model: Model;
  let ref: Reference;
  beforeAll(async () => {
    ref = readReference(name);
    model = await loadModel(modelPath(name), { device: "cpu", dtype: "float32" });
  });
  afterAll(() => model?.dispose());
  afterEach(() => {
    setEngineSettings({ logitChunkBytes: undefined });
  });

  for (const controlWeight of [0.2, 0]) {
    it(`gives the same one-hot gradients and losses in 1- and 3-position chunks as in one (controlWeight ${controlWeight})`, async () => {
      const args = gradientBatch(ref, controlWeight);
      const whole = await withChunkRows(model, undefined, () => model.oneHotGradient(args));
      // The unchunked result is the right one: the fixture's rows match transformers' reference.
      if (controlWeight === ref.gradient.controlWeight)
        expect(relativeError(whole.losses.slice(0, 3), ref.gradient.losses)).toBeLessThanOrEqual(1e-4);
      const perRow = await eachRow(args.sequences.length, (b) => withChunkRows(model, 1, () => model.oneHotGradient(gradientRow(args, b))));
      for (const rows of [1, 3]) {
        const chunked = await withChunkRows(model, rows, () => model.oneHotGradient(args));
        for (const other of [chunked, { ...chunked, ...joinRows(perRow) }]) {
          expect(relativeError(other.losses, whole.losses)).toBeLessThanOrEqual(1e-5);
          expect(relativeError(other.answerLosses, whole.answerLosses)).toBeLessThanOrEqual(1e-5);
          expect(maxAbsDifference(other.promptNll, whole.promptNll)).toBeLessThanOrEqual(1e-5 * Math.max(1, ...whole.promptNll));
          whole.gradients.forEach((expected, b) => expect(relativeError(other.gradients[b], expected)).toBeLessThanOrEqual(1e-4));
        }
      }
    });
  }

  it("gives the same answer losses, exact matches and prompt NLL in 1- and 4-position chunks as in one", async () => {
    const args = scoreBatch(ref);
    const whole = await withChunkRows(model, undefined, () => model.scoreAnswers(args));
    expect(Array.from(whole.exactMatch.slice(0, 3))).toEqual(ref.scores.exactMatch);
    for (const rows of [1, 4]) {
      const chunked = await withChunkRows(model, rows, () => model.scoreAnswers(args));
      const single = await eachRow(args.sequences.length, (b) => withChunkRows(model, rows, () => model.scoreAnswers(scoreRow(args, b))));
      for (const other of [chunked, joinScores(single)]) {
        expect(Array.from(other.exactMatch)).toEqual(Array.from(whole.exactMatch));
        expect(relativeError(other.answerLoss, whole.answerLoss)).toBeLessThanOrEqual(1e-5);
        expect(relativeError(other.promptNll, whole.promptNll)).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  it("refuses a chunk size that is not a positive byte count, naming the setting or the variable", () => {
    expect(() => setEngineSettings({ logitChunkBytes: 0 })).toThrow(/setEngineSettings: logitChunkBytes must be a positive number of bytes, got 0/);
    expect(() => settingsFromEnvironment({ [chunkVariable]: "lots" })).toThrow(/GREATER_LOGIT_CHUNK_BYTES="lots" is not a positive number of bytes/);
  });
});

function joinRows(results: Awaited<ReturnType<Model["oneHotGradient"]>>[]) {
  return {
    gradients: results.map((r) => r.gradients[0]),
    losses: Float32Array.from(results.map((r) => r.losses[0])),
    answerLosses: Float32Array.from(results.map((r) => r.answerLosses[0])),
    promptNll: Float32Array.from(results.map((r) => r.promptNll[0])),
  };
}

function joinScores(results: Awaited<ReturnType<Model["scoreAnswers"]>>[]) {
  return {
    answerLoss: Float32Array.from(results.map((r) => r.answerLoss[0])),
    exactMatch: Uint8Array.from(results.map((r) => r.exactMatch[0])),
    promptNll: Float32Array.from(results.map((r) => r.promptNll[0])),
  };
}

// Model.logits (native/engine/forward_ops.cpp) reads its log-softmax rows through the same chunks.
describe("logits over chunks of positions", () => {
  let model: Model;
  let ref: Reference;
  beforeAll(async () => {
    ref = readReference("llama-untied");
    model = await loadModel(modelPath("llama-untied"), { device: "cpu", dtype: "float32" });
  });
  afterAll(() => model?.dispose());
  afterEach(() => delete process.env[chunkVariable]);

  it("gives the full rows, arg-max and target log-probabilities of one chunk, with 1- and 3-position chunks", async () => {
    const padded = ref.logits.left;
    const columns = padded.attentionMask.map((row) => row.flatMap((m, c) => (m === 1 ? [c] : [])));
    const targets = columns.map((row, b) => row.map((_, j) => (b * 31 + j * 7) % model.info.vocabSize));
    const input = { inputIds: padded.inputIds, attentionMask: padded.attentionMask };
    const options = { positions: columns, targets, full: true };
    const whole = await withChunkRows(model, undefined, () => model.logits(input, options));
    expect(columns.flat().length).toBeGreaterThan(6); // several chunks of 3 positions, and a ragged last one
    for (const rows of [1, 3]) {
      const chunked = await withChunkRows(model, rows, () => model.logits(input, options));
      expect(chunked.positions).toEqual(whole.positions);
      expect(chunked.topTokens).toEqual(whole.topTokens);
      whole.logProbs!.forEach((row, b) => expect(maxAbsDifference(chunked.logProbs![b], row)).toBeLessThanOrEqual(1e-6));
      whole.targetLogProbs!.forEach((row, b) => expect(maxAbsDifference(chunked.targetLogProbs![b], row)).toBeLessThanOrEqual(1e-6));
      whole.topLogProbs.forEach((row, b) => expect(maxAbsDifference(chunked.topLogProbs[b], row)).toBeLessThanOrEqual(1e-6));
      // And both are transformers' (the reference's full rows).
      padded.logProbs.forEach((expected, b) => expect(maxAbsDifference(chunked.logProbs![b], expected.flat())).toBeLessThanOrEqual(1e-4 * padded.maxAbsLogit));
    }
  });
});
