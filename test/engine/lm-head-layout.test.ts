// On the CPU without the packed output layer (packOutputLayer: false) the output projection is stored as a
// contiguous [hidden, vocab] matrix and used through its transposed view (native/engine/model.cpp), which with
// tied embeddings is also the embedding matrix. (With it, the default, lm_head keeps its rows: parity.test.ts.) Every
// vocabulary column of the logits, and every embedding row gathered from the strided view, must still be
// transformers' (tools/make_tiny_models.py recorded the references).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../ts/engine/index.js";
import { maxAbsDifference, modelPath, readReference, relativeError, gradientArgs, type Reference } from "./helpers/fixtures.js";

// Tied (one shared matrix), untied (lm_head transposed, embedding kept by rows), sharded, Gemma2 (tied, scaled
// embeddings, final soft-capping) and bf16 weights converted to float32 on the way into the view.
const cases = [
  { name: "llama-gqa-rope3-tied", reference: "llama-gqa-rope3-tied" },
  { name: "llama-untied", reference: "llama-untied" },
  { name: "llama-sharded", reference: "llama-gqa-rope3-tied" },
  { name: "gemma2", reference: "gemma2" },
  { name: "llama-bf16", reference: "llama-bf16" },
];

describe.each(cases)("$name: transposed lm_head on the CPU", ({ name, reference }) => {
  let model: Model;
  let ref: Reference;
  beforeAll(async () => {
    ref = readReference(reference);
    model = await loadModel(modelPath(name), { device: "cpu", dtype: "float32", packOutputLayer: false });
  });
  afterAll(() => model?.dispose());

  it("gives transformers' log-probabilities over the whole vocabulary at every position", async () => {
    const padded = ref.logits.right;
    const columns = padded.attentionMask.map((row) => row.flatMap((m, c) => (m === 1 ? [c] : [])));
    const out = await model.logits({ inputIds: padded.inputIds, attentionMask: padded.attentionMask }, { positions: columns, full: true });
    padded.logProbs.forEach((expected, b) =>
      expect(maxAbsDifference(out.logProbs![b], expected.flat())).toBeLessThanOrEqual(1e-4 * padded.maxAbsLogit),
    );
  });

  it("gathers every token's embedding row: one-hot gradients over the whole vocabulary agree with the reference's candidates", async () => {
    const g = ref.gradient;
    const vocabulary = Array.from({ length: model.info.vocabSize }, (_, id) => id);
    const out = await model.oneHotGradient({ ...gradientArgs(ref), candidates: vocabulary });
    // d L / d onehot[c] = (d L / d embedding) . E[c]: the reference's candidates read the same entries.
    g.gradients.forEach((expected, b) => {
      expect(out.gradients[b]).toHaveLength(vocabulary.length);
      expect(relativeError(g.candidates.map((id) => out.gradients[b][id]), expected)).toBeLessThanOrEqual(1e-3);
    });
    expect(relativeError(out.losses, g.losses)).toBeLessThanOrEqual(1e-4);
  });
});
