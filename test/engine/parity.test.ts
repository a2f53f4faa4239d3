// Parity with transformers: every tiny model's outputs against the float32 eager references recorded by
// tools/make_tiny_models.py (fp32 on the CPU here).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../ts/engine/index.js";
import { maxAbsDifference, modelPath, readReference, referenceModels, relativeError, gradientArgs, spans, type Reference } from "./helpers/fixtures.js";

// The sharded copy has the weights of llama-gqa-rope3-tied (and a pre-v5 style config.json).
const cases: { name: string; reference: string }[] = [
  ...referenceModels.map((name) => ({ name, reference: name })),
  { name: "llama-sharded", reference: "llama-gqa-rope3-tied" },
];

describe.each(cases)("$name matches transformers", ({ name, reference: referenceName }) => {
  let model: Model;
  let ref: Reference;
  beforeAll(async () => {
    ref = readReference(referenceName);
    model = await loadModel(modelPath(name), { device: "cpu", dtype: "float32" });
  });
  afterAll(() => model?.dispose());

  it("reports the architecture and the parameter count", () => {
    expect(model.info.architecture).toBe(ref.architecture);
    expect(model.info.parameterCount).toBe(ref.parameterCount);
    expect(model.info.dtype).toBe("float32");
    expect(model.info.device).toBe("cpu");
    expect(model.info.eosTokenIds).toEqual(ref.generate.eosTokenIds);
  });

  for (const side of ["left", "right"] as const) {
    it(`gives transformers' log-probabilities for a ${side}-padded batch`, async () => {
      const padded = ref.logits[side];
      const columns = padded.attentionMask.map((row) => row.flatMap((m, c) => (m === 1 ? [c] : [])));
      const out = await model.logits({ inputIds: padded.inputIds, attentionMask: padded.attentionMask }, { positions: columns, full: true });
      const vocab = model.info.vocabSize;
      const tolerance = 1e-4 * padded.maxAbsLogit;
      padded.logProbs.forEach((expectedRows, b) => {
        expect(out.positions[b]).toEqual(columns[b]);
        expect(out.logProbs![b].length).toBe(expectedRows.length * vocab);
        expect(maxAbsDifference(out.logProbs![b], expectedRows.flat())).toBeLessThanOrEqual(tolerance);
        // The arg-max and target read-outs agree with the full rows.
        expectedRows.forEach((expected, j) => {
          const best = expected.indexOf(Math.max(...expected));
          expect(out.topTokens[b][j]).toBe(best);
          expect(Math.abs(out.topLogProbs[b][j] - expected[best])).toBeLessThanOrEqual(tolerance);
        });
      });
    });
  }

  it('reads the last real token of left- and right-padded rows with positions "last", and target log-probabilities', async () => {
    for (const side of ["left", "right"] as const) {
      const padded = ref.logits[side];
      const targets = padded.logProbs.map((_, b) => [(b * 37 + 11) % model.info.vocabSize]);
      const out = await model.logits({ inputIds: padded.inputIds, attentionMask: padded.attentionMask }, { positions: "last", targets });
      expect(out.logProbs).toBeUndefined();
      padded.logProbs.forEach((rows, b) => {
        const last = rows[rows.length - 1];
        expect(out.positions[b]).toEqual([padded.attentionMask[b].lastIndexOf(1)]);
        expect(Math.abs(out.targetLogProbs![b][0] - last[targets[b][0]])).toBeLessThanOrEqual(1e-4 * padded.maxAbsLogit);
        expect(Math.abs(out.topLogProbs[b][0] - Math.max(...last))).toBeLessThanOrEqual(1e-4 * padded.maxAbsLogit);
      });
    }
  });

  it("reads each padded row exactly as the row alone", async () => {
    const padded = ref.logits.left;
    const columns = padded.attentionMask.map((row) => row.flatMap((m, c) => (m === 1 ? [c] : [])));
    const batch = await model.logits({ inputIds: padded.inputIds, attentionMask: padded.attentionMask }, { positions: columns, full: true });
    for (const [b, sequence] of ref.logits.sequences.entries()) {
      const alone = await model.logits({ inputIds: [sequence] }, { positions: [sequence.map((_, j) => j)], full: true });
      expect(maxAbsDifference(alone.logProbs![0], batch.logProbs![b])).toBeLessThanOrEqual(1e-5 * padded.maxAbsLogit);
    }
  });

  it("generates transformers' greedy continuations, stopping on generation_config's eos", async () => {
    const { prompts, maxNewTokens, tokens, stopped } = ref.generate;
    const out = await model.generate(prompts, { maxNewTokens });
    expect(out.tokens).toEqual(tokens);
    expect(out.stopped).toEqual(stopped);
    expect(stopped).toContain(true); // the fixture really exercises the stop
  });

  it("proposes transformers' top-k candidates after masking", async () => {
    const { sequences, positions, k, disallowed, exclude, candidates } = ref.topCandidates;
    expect(await model.topCandidates(sequences, { positions, k, disallowed, exclude })).toEqual(candidates);
    // The same ban list as a per-id mask gives the same answer.
    const mask = new Uint8Array(model.info.vocabSize);
    for (const id of disallowed) mask[id] = 1;
    expect(await model.topCandidates(sequences, { positions, k, disallowed: mask, exclude })).toEqual(candidates);
  });

  it("computes transformers' one-hot gradients and losses, per row, in one batched call", async () => {
    const g = ref.gradient;
    const out = await model.oneHotGradient(gradientArgs(ref));
    expect(out.gradients).toHaveLength(g.sequences.length);
    g.gradients.forEach((expected, b) => {
      expect(out.gradients[b]).toHaveLength(g.candidates.length);
      expect(relativeError(out.gradients[b], expected)).toBeLessThanOrEqual(1e-3);
    });
    expect(relativeError(out.losses, g.losses)).toBeLessThanOrEqual(1e-4);
    expect(relativeError(out.answerLosses, g.answerLosses)).toBeLessThanOrEqual(1e-4);
    expect(relativeError(out.promptNll, g.promptNll)).toBeLessThanOrEqual(1e-4);
  });

  it("scores answers as transformers does", async () => {
    const s = ref.scores;
    const out = await model.scoreAnswers({ sequences: s.sequences, answerSpans: spans(s.answerSpans), promptSpans: spans(s.promptSpans) });
    expect(Array.from(out.exactMatch)).toEqual(s.exactMatch);
    expect(maxAbsDifference(out.answerLoss, s.answerLoss)).toBeLessThanOrEqual(1e-4 * Math.max(1, ...s.answerLoss));
    expect(maxAbsDifference(out.promptNll, s.promptNll)).toBeLessThanOrEqual(1e-4 * Math.max(1, ...s.promptNll));
  });
});

// Reduced-precision compute can only be close, not equal: bf16 keeps ~3 significant digits.
describe.each([
  { name: "llama-bf16", dtype: "bfloat16" as const },
  { name: "gemma2", dtype: "bfloat16" as const },
  { name: "llama-untied", dtype: "float16" as const },
])("$name computing in $dtype", ({ name, dtype }) => {
  it("stays within 5% of the largest logit of transformers' float32 log-probabilities", async () => {
    const ref = readReference(name);
    const model = await loadModel(modelPath(name), { dtype });
    expect(model.info.dtype).toBe(dtype);
    const padded = ref.logits.right;
    const columns = padded.attentionMask.map((row) => row.flatMap((m, c) => (m === 1 ? [c] : [])));
    const out = await model.logits({ inputIds: padded.inputIds, attentionMask: padded.attentionMask }, { positions: columns, full: true });
    padded.logProbs.forEach((expected, b) => expect(maxAbsDifference(out.logProbs![b], expected.flat())).toBeLessThanOrEqual(0.05 * padded.maxAbsLogit));
    model.dispose();
  });
});
