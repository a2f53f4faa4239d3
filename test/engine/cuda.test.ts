// The engine on a CUDA device, against the same transformers references as the CPU parity tests and against the
// engine's own CPU results. Skipped where the addon or the machine has no usable GPU (CI has none; the GPU
// machines the project is lent run it).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineError, engineInfo, loadModel, type Model } from "../../ts/engine/index.js";
import { maxAbsDifference, modelPath, readReference, referenceModels, relativeError, gradientArgs, spans, type Reference } from "./helpers/fixtures.js";

const cuda = engineInfo().cudaAvailable;

describe.skipIf(!cuda).each(referenceModels.map((name) => ({ name })))("$name on cuda in float32", ({ name }) => {
  let gpu: Model;
  let cpu: Model;
  let ref: Reference;
  beforeAll(async () => {
    ref = readReference(name);
    gpu = await loadModel(modelPath(name), { device: "cuda", dtype: "float32" });
    cpu = await loadModel(modelPath(name), { device: "cpu", dtype: "float32" });
  });
  afterAll(() => {
    gpu?.dispose();
    cpu?.dispose();
  });

  it("reports the device and gives transformers' log-probabilities for a left-padded batch", async () => {
    expect(gpu.info.device).toBe("cuda:0");
    const padded = ref.logits.left;
    const columns = padded.attentionMask.map((row) => row.flatMap((m, c) => (m === 1 ? [c] : [])));
    const out = await gpu.logits({ inputIds: padded.inputIds, attentionMask: padded.attentionMask }, { positions: columns, full: true });
    // GPU kernels sum in other orders than the CPU's: a looser bound than the CPU test's 1e-4.
    padded.logProbs.forEach((expected, b) => expect(maxAbsDifference(out.logProbs![b], expected.flat())).toBeLessThanOrEqual(1e-3 * padded.maxAbsLogit));
  });

  it("generates transformers' greedy continuations", async () => {
    const { prompts, maxNewTokens, tokens, stopped, freeRun } = ref.generate;
    const out = await gpu.generate(prompts, { maxNewTokens });
    expect(out.tokens).toEqual(tokens);
    expect(out.stopped).toEqual(stopped);
    expect((await gpu.generate(prompts, { maxNewTokens, ignoreEos: true })).tokens).toEqual(freeRun);
  });

  it("proposes the same top-k candidates", async () => {
    const { sequences, positions, k, disallowed, exclude, candidates } = ref.topCandidates;
    expect(await gpu.topCandidates(sequences, { positions, k, disallowed, exclude })).toEqual(candidates);
  });

  it("computes the one-hot gradients and losses of transformers and of the CPU engine", async () => {
    const g = ref.gradient;
    const request = gradientArgs(ref);
    const [onGpu, onCpu] = [await gpu.oneHotGradient(request), await cpu.oneHotGradient(request)];
    g.gradients.forEach((expected, b) => {
      expect(relativeError(onGpu.gradients[b], expected)).toBeLessThanOrEqual(1e-2);
      expect(relativeError(onGpu.gradients[b], onCpu.gradients[b])).toBeLessThanOrEqual(1e-2);
    });
    expect(relativeError(onGpu.losses, g.losses)).toBeLessThanOrEqual(1e-3);
    expect(relativeError(onGpu.answerLosses, g.answerLosses)).toBeLessThanOrEqual(1e-3);
    expect(relativeError(onGpu.promptNll, g.promptNll)).toBeLessThanOrEqual(1e-3);
  });

  it("scores answers as transformers does", async () => {
    const s = ref.scores;
    const out = await gpu.scoreAnswers({ sequences: s.sequences, answerSpans: spans(s.answerSpans), promptSpans: spans(s.promptSpans) });
    expect(Array.from(out.exactMatch)).toEqual(s.exactMatch);
    expect(maxAbsDifference(out.answerLoss, s.answerLoss)).toBeLessThanOrEqual(1e-3 * Math.max(1, ...s.answerLoss));
    expect(maxAbsDifference(out.promptNll, s.promptNll)).toBeLessThanOrEqual(1e-3 * Math.max(1, ...s.promptNll));
  });
});

describe.skipIf(!cuda)("cuda in bfloat16 and out of memory", () => {
  it("computes in bfloat16 by default, within 5% of the largest logit of transformers' float32", async () => {
    const ref = readReference("llama-gqa-rope3-tied");
    const model = await loadModel(modelPath("llama-gqa-rope3-tied"), { device: "cuda" });
    try {
      expect(model.info.dtype).toBe("bfloat16");
      const padded = ref.logits.right;
      const columns = padded.attentionMask.map((row) => row.flatMap((m, c) => (m === 1 ? [c] : [])));
      const out = await model.logits({ inputIds: padded.inputIds, attentionMask: padded.attentionMask }, { positions: columns, full: true });
      padded.logProbs.forEach((expected, b) => expect(maxAbsDifference(out.logProbs![b], expected.flat())).toBeLessThanOrEqual(0.05 * padded.maxAbsLogit));
    } finally {
      model.dispose();
    }
  });

  it("rejects a call that does not fit with OUT_OF_MEMORY, and the model keeps working", async () => {
    const ref = readReference("llama-untied");
    const model = await loadModel(modelPath("llama-untied"), { device: "cuda", dtype: "float32" });
    try {
      // A KV cache for two billion new tokens cannot be allocated on any GPU.
      const error = await model.generate(ref.generate.prompts, { maxNewTokens: 2_000_000_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).code).toBe("OUT_OF_MEMORY");
      const { prompts, maxNewTokens, tokens } = ref.generate;
      expect((await model.generate(prompts, { maxNewTokens })).tokens).toEqual(tokens);
    } finally {
      model.dispose();
    }
  });
});
