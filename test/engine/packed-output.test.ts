// lm_head on a packed copy of its weight (LoadOptions.packOutputLayer, native/engine/packed_projection.cpp) and
// the greedy arg-max over the vocabulary (rowArgmax in native/engine/row_argmax.cpp, and the int8 screen of
// argmax_screen.cpp in front of it, which argmax-screen.test.ts tests on its own). The packed path is the
// default on the CPU in float32, so parity.test.ts already checks it against transformers; here it is checked
// against the unpacked path on every float32 tiny model, and the arg-max against torch's rules on ties and NaN.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type Model } from "../../ts/engine/index.js";
import { BrokenModels, setOutputRows } from "./helpers/broken-models.js";
import { gradientArgs, maxAbsDifference, modelPath, readReference, referenceModels, relativeError, type Reference } from "./helpers/fixtures.js";

const float32Models = referenceModels.filter((name) => name !== "llama-bf16");

describe.each(float32Models)("%s with and without the packed output layer", (name) => {
  let packed: Model;
  let plain: Model;
  let ref: Reference;
  beforeAll(async () => {
    ref = readReference(name);
    packed = await loadModel(modelPath(name), { device: "cpu", dtype: "float32" });
    plain = await loadModel(modelPath(name), { device: "cpu", dtype: "float32", packOutputLayer: false });
  });
  afterAll(() => {
    packed?.dispose();
    plain?.dispose();
  });

  it("packs by default on the CPU in float32, and not when told not to", () => {
    expect(packed.info.outputLayerPacked).toBe(true);
    expect(plain.info.outputLayerPacked).toBe(false);
  });

  it("gives the same log-probabilities", async () => {
    const padded = ref.logits.left;
    const columns = padded.attentionMask.map((row) => row.flatMap((m, c) => (m === 1 ? [c] : [])));
    const input = { inputIds: padded.inputIds, attentionMask: padded.attentionMask };
    const [a, b] = await Promise.all([packed.logits(input, { positions: columns, full: true }), plain.logits(input, { positions: columns, full: true })]);
    a.logProbs!.forEach((row, r) => expect(maxAbsDifference(row, b.logProbs![r])).toBeLessThanOrEqual(1e-5 * padded.maxAbsLogit));
    expect(a.topTokens).toEqual(b.topTokens);
  });

  it("generates the same greedy continuations, at batch 1 and batched", async () => {
    const { prompts, maxNewTokens } = ref.generate;
    const options = { maxNewTokens, ignoreEos: true };
    const batched = await packed.generate(prompts, options);
    expect(batched).toEqual(await plain.generate(prompts, options));
    expect(batched.tokens).toEqual(ref.generate.freeRun);
    for (const [b, prompt] of prompts.entries()) expect((await packed.generate([prompt], options)).tokens[0]).toEqual(batched.tokens[b]);
  });

  it("takes the same gradients through lm_head with autograd", async () => {
    // Only the layout of lm_head's weight differs (its rows, or the transposed view the unpacked CPU path
    // uses), so only float32 summation order separates them.
    const args = gradientArgs(ref);
    const [a, b] = await Promise.all([packed.oneHotGradient(args), plain.oneHotGradient(args)]);
    a.gradients.forEach((row, r) => expect(relativeError(row, b.gradients[r])).toBeLessThanOrEqual(1e-5));
    expect(relativeError(a.losses, b.losses)).toBeLessThanOrEqual(1e-6);
  });
});

it("does not pack (or screen) a bfloat16 model", async () => {
  const model = await loadModel(modelPath("llama-bf16"), { device: "cpu", dtype: "bfloat16" });
  try {
    expect(model.info.outputLayerPacked).toBe(false);
    expect(model.info.argmaxScreened).toBe(false);
  } finally {
    model.dispose();
  }
});

describe("greedy arg-max over the vocabulary, as torch's argmax", () => {
  const models = new BrokenModels();
  afterAll(() => models.cleanup());
  const ref = readReference("llama-untied");
  const prompts = ref.generate.prompts;

  /** llama-untied with lm_head rows set by `row(id)`: a hidden-size vector, or null for the row left as it was. */
  async function withOutputRows(row: (id: number, hidden: number) => number[] | null, packOutputLayer: boolean): Promise<number[][]> {
    const folder = models.copy("llama-untied");
    setOutputRows(folder, row);
    // Rows made on purpose (NaN rows among them): the load's finite-weight check would refuse those.
    const model = await loadModel(folder, { device: "cpu", dtype: "float32", packOutputLayer, checkFiniteWeights: false });
    try {
      return (await model.generate(prompts, { maxNewTokens: 6, ignoreEos: true })).tokens;
    } finally {
      model.dispose();
    }
  }

  for (const packOutputLayer of [true, false]) {
    describe(packOutputLayer ? "packed" : "unpacked", () => {
      it("takes the first of equal maxima", async () => {
        // Every logit 0 (±0): token 0 every time.
        const tokens = await withOutputRows((_, hidden) => new Array(hidden).fill(0), packOutputLayer);
        expect(tokens.flat().every((t) => t === 0)).toBe(true);
        // Rows 90 and 140 equal v = (1, 0, ...), every other row -v: logits are exactly ±h0, so the maximum is
        // h0 at 90 and 140 (first: 90, found past the first 64-wide block) or -h0 at every other row (first: 0).
        const v = (sign: number, hidden: number) => [sign, ...new Array(hidden - 1).fill(0)];
        const split = await withOutputRows((id, hidden) => v(id === 90 || id === 140 ? 1 : -1, hidden), packOutputLayer);
        expect(new Set(split.flat())).toEqual(new Set([0, 90]));
      });

      it("takes the first NaN as the maximum", async () => {
        const tokens = await withOutputRows((id, hidden) => (id === 100 || id === 130 ? new Array(hidden).fill(NaN) : null), packOutputLayer);
        expect(tokens.flat().every((t) => t === 100)).toBe(true);
      });
    });
  }
});
