// Greedy decoding's arg-max screened on an int8 copy of lm_head (native/engine/argmax_screen.cpp): the int8
// logits only rule tokens out, within a bound on their quantization error, and the rest are recomputed
// exactly. Whatever the int8 logits say, the tokens must be the float32 path's. GREATER_ARGMAX_SCREEN_CANDIDATES
// caps the candidates per row (past it, the row takes the float32 path) and 0 turns the screen off.
// The screen runs at batch 1 and from 16 rows on, so the fixture's prompts are run one by one and repeated
// into a batch of 18.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadModel, setEngineSettings, settingsFromEnvironment, type Model } from "../../ts/engine/index.js";
import { BrokenModels, setOutputRows } from "./helpers/broken-models.js";
import { modelPath, readReference, referenceModels } from "./helpers/fixtures.js";

const limitVariable = "GREATER_ARGMAX_SCREEN_CANDIDATES";
const copies = 6;

/** Greedy tokens for each prompt alone, then for all of them repeated `copies` times in one batch. */
async function screenedRuns(model: Model, prompts: number[][], maxNewTokens: number): Promise<{ alone: number[][]; batched: number[][] }> {
  const options = { maxNewTokens, ignoreEos: true };
  const alone: number[][] = [];
  for (const prompt of prompts) alone.push((await model.generate([prompt], options)).tokens[0]);
  const batched = (await model.generate(Array.from({ length: copies }, () => prompts).flat(), options)).tokens;
  return { alone, batched };
}
const repeated = (rows: number[][]) => Array.from({ length: copies }, () => rows).flat();
afterEach(() => {
  setEngineSettings({ argmaxScreenCandidates: undefined });
});

describe("which models screen", () => {
  it.each(referenceModels.filter((name) => name !== "llama-bf16" && name !== "gemma2"))("%s in float32 on the CPU does", async (name) => {
    const model = await loadModel(modelPath(name), { device: "cpu", dtype: "float32" });
    const plain = await loadModel(modelPath(name), { device: "cpu", dtype: "float32", packOutputLayer: false });
    try {
      expect(model.info.argmaxScreened).toBe(true);
      expect(plain.info.argmaxScreened).toBe(false);
    } finally {
      model.dispose();
      plain.dispose();
    }
  });

  // A bfloat16 model has no packed output layer, so no screen either (packed-output.test.ts).
  it("gemma2 (final soft-capping) does not", async () => {
    const model = await loadModel(modelPath("gemma2"), { device: "cpu", dtype: "float32" });
    try {
      expect(model.info.argmaxScreened).toBe(false);
    } finally {
      model.dispose();
    }
  });
});

describe("an output layer whose int8 logits cannot tell the tokens apart", () => {
  // Every row is a common ±1 pattern plus 2e-3 times a row of its own. Quantized per row to 127 levels, each
  // entry rounds to about ±127 whatever the small part is, so the int8 logits are nearly equal and their
  // arg-max is noise; the exact logits still differ by ~1e-2, far above float32 rounding. Only the exact
  // recomputation of the candidates, with a bound wide enough to keep the true best among them, gets the
  // float32 path's tokens.
  const models = new BrokenModels();
  const prompts = readReference("llama-untied").generate.prompts;
  let folder: string;
  const generateWith = async (packOutputLayer: boolean) => {
    const model = await loadModel(folder, { device: "cpu", dtype: "float32", packOutputLayer });
    try {
      expect(model.info.argmaxScreened).toBe(packOutputLayer);
      return await screenedRuns(model, prompts, 12);
    } finally {
      model.dispose();
    }
  };
  beforeAll(() => {
    folder = models.copy("llama-untied");
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;  // [-1, 1)
    setOutputRows(folder, (_, hidden) => Array.from({ length: hidden }, (__, k) => (k % 3 === 0 ? -1 : 1) + 2e-3 * random()));
  });
  afterAll(() => models.cleanup());

  it("generates the float32 path's tokens", async () => {
    const screened = await generateWith(true);
    const plain = await generateWith(false);
    expect(screened).toEqual(plain);
    expect(plain.batched).toEqual(repeated(plain.alone));
    expect(new Set(plain.alone.flat()).size).toBeGreaterThan(3);  // not one token over and over
  });

  it("generates the same tokens with the screen off", async () => {
    const screened = await generateWith(true);
    setEngineSettings({ argmaxScreenCandidates: 0 });
    expect(await generateWith(true)).toEqual(screened);
  });
});

describe.each(["llama-gqa-rope3-tied", "qwen2-bias", "mistral-sliding"])("%s: rows past the candidate limit", (name) => {
  const ref = readReference(name);
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(modelPath(name), { device: "cpu", dtype: "float32" });
  });
  afterAll(() => model?.dispose());

  it.each(["0", "1", "2", "4096"])("take the float32 path and give transformers' tokens (limit %s)", async (limit) => {
    // With a limit of 1 or 2, rows with more candidates fall back while the others are settled in the screen,
    // in the same batch.
    setEngineSettings({ argmaxScreenCandidates: Number(limit) });
    const { prompts, maxNewTokens, freeRun } = ref.generate;
    expect(await screenedRuns(model, prompts, maxNewTokens)).toEqual({ alone: freeRun, batched: repeated(freeRun) });
  });

  it("refuses a limit that is not a number, naming the setting or the variable", () => {
    expect(() => setEngineSettings({ argmaxScreenCandidates: -1 })).toThrow(/setEngineSettings: argmaxScreenCandidates must be a number of candidates/);
    expect(() => settingsFromEnvironment({ [limitVariable]: "many" })).toThrow(/GREATER_ARGMAX_SCREEN_CANDIDATES="many" is not/);
    expect(settingsFromEnvironment({ [limitVariable]: "12" })).toEqual({ argmaxScreenCandidates: 12 });
  });
});
