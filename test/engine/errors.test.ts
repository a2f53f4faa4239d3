// Bad model folders and bad arguments: every error names the file and the tensor or field, or the argument.
import { readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineError, engineInfo, loadModel, type Model } from "../../ts/engine/index.js";
import { BrokenModels, editJson, readSafetensors, removeTensor, writeSafetensors } from "./helpers/broken-models.js";
import { gradientArgs, modelPath, readReference } from "./helpers/fixtures.js";

async function loadError(folder: string, options = {}): Promise<EngineError> {
  const error = await loadModel(folder, options).then(
    (m) => {
      m.dispose();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EngineError);
  return error as EngineError;
}

describe("loading a broken model folder", () => {
  const broken = new BrokenModels();
  afterAll(() => broken.cleanup());

  it("names the file when the safetensors data is truncated, and the first tensor cut off", async () => {
    const folder = broken.copy();
    const file = join(folder, "model.safetensors");
    const { header } = readSafetensors(file);
    truncateSync(file, readFileSync(file).length - 100);
    // The tensor whose bytes run past the new end.
    const [lastName] = Object.entries(header)
      .filter(([k]) => k !== "__metadata__")
      .sort(([, a], [, b]) => (b as { data_offsets: number[] }).data_offsets[1] - (a as { data_offsets: number[] }).data_offsets[1])[0];
    const error = await loadError(folder);
    expect(error.message).toContain(file);
    expect(error.message).toContain(`tensor "${lastName}"`);
    expect(error.message).toMatch(/truncated/);
  });

  it("names the file when it is shorter than the 8-byte header length", async () => {
    const folder = broken.copy();
    const file = join(folder, "model.safetensors");
    truncateSync(file, 5);
    const error = await loadError(folder);
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/truncated safetensors file \(5 bytes/);
  });

  it("names the file when the header length overflows it", async () => {
    const folder = broken.copy();
    const file = join(folder, "model.safetensors");
    const bytes = readFileSync(file);
    bytes.writeBigUInt64LE(BigInt(bytes.length) * 4n, 0);
    writeFileSync(file, bytes);
    const error = await loadError(folder);
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/header length \d+ overflows the file \(\d+ bytes\)/);
  });

  it("names the file when the header is not valid JSON", async () => {
    const folder = broken.copy();
    const file = join(folder, "model.safetensors");
    const bytes = readFileSync(file);
    bytes.write("{not json", 8);
    writeFileSync(file, bytes);
    const error = await loadError(folder);
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/invalid JSON at byte/);
  });

  it("names the file and the tensor when a tensor is missing", async () => {
    const folder = broken.copy();
    const file = join(folder, "model.safetensors");
    writeSafetensors(file, removeTensor(readSafetensors(file), "model.layers.1.mlp.down_proj.weight"));
    const error = await loadError(folder);
    expect(error.message).toContain(file);
    expect(error.message).toContain('tensor "model.layers.1.mlp.down_proj.weight" is missing');
  });

  it("names the file and the tensor when a tensor has the wrong shape", async () => {
    const folder = broken.copy();
    const file = join(folder, "model.safetensors");
    const parts = readSafetensors(file);
    const entry = parts.header["model.layers.0.mlp.down_proj.weight"] as { shape: number[] };
    expect(entry.shape).toEqual([32, 80]);
    entry.shape = [80, 32];
    writeSafetensors(file, parts);
    const error = await loadError(folder);
    expect(error.message).toContain(file);
    expect(error.message).toContain('tensor "model.layers.0.mlp.down_proj.weight" has shape [80, 32], expected [32, 80]');
  });

  it("names the file and the tensor when a tensor has an unsupported dtype", async () => {
    const folder = broken.copy();
    const file = join(folder, "model.safetensors");
    const parts = readSafetensors(file);
    (parts.header["model.norm.weight"] as { dtype: string }).dtype = "I32";
    writeSafetensors(file, parts);
    const error = await loadError(folder);
    expect(error.message).toContain(file);
    expect(error.message).toContain('tensor "model.norm.weight": dtype I32 is not supported');
  });

  it("names the file and the field when a required config field is absent or ill-typed", async () => {
    const folder = broken.copy();
    const config = join(folder, "config.json");
    editJson(config, (c) => delete c.hidden_size);
    expect((await loadError(folder)).message).toBe(`${config}: missing field "hidden_size"`);
    editJson(config, (c) => {
      c.hidden_size = 32;
      c.num_attention_heads = "four";
    });
    expect((await loadError(folder)).message).toBe(`${config}: field "num_attention_heads" must be an integer, got a string`);
  });

  it("names the field of an unsupported rope type", async () => {
    const folder = broken.copy();
    const config = join(folder, "config.json");
    editJson(config, (c) => (c.rope_parameters = { rope_type: "yarn", rope_theta: 10000, factor: 2 }));
    const error = await loadError(folder);
    expect(error.message).toContain(config);
    expect(error.message).toContain('"rope_parameters.rope_type" is "yarn"');
  });

  it("refuses pickle checkpoints and says to convert them to safetensors", async () => {
    const folder = broken.copy();
    rmSync(join(folder, "model.safetensors"));
    writeFileSync(join(folder, "pytorch_model.bin"), Buffer.from("not loaded, ever"));
    const error = await loadError(folder);
    expect(error.message).toContain("pytorch_model.bin");
    expect(error.message).toMatch(/pickle/);
    expect(error.message).toMatch(/arbitrary code/);
    expect(error.message).toMatch(/safetensors/);
  });

  it("lists the supported architectures for any other", async () => {
    const folder = broken.copy();
    const config = join(folder, "config.json");
    editJson(config, (c) => (c.architectures = ["GPT2LMHeadModel"]));
    const error = await loadError(folder);
    expect(error.message).toContain(config);
    expect(error.message).toContain('"architectures" names "GPT2LMHeadModel", which is not supported');
    for (const a of ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Gemma2ForCausalLM"]) expect(error.message).toContain(a);
  });

  it("names the shard a sharded checkpoint lacks", async () => {
    const folder = broken.copy("llama-sharded");
    rmSync(join(folder, "model-00003-of-00011.safetensors"));
    const error = await loadError(folder);
    expect(error.message).toContain("model.safetensors.index.json");
    expect(error.message).toContain('shard "model-00003-of-00011.safetensors"');
  });

  it("names a missing folder, a missing config.json and a bad device or dtype", async () => {
    expect((await loadError("/nonexistent/model")).message).toContain("/nonexistent/model");
    const folder = broken.copy();
    rmSync(join(folder, "config.json"));
    expect((await loadError(folder)).message).toContain(join(folder, "config.json"));
    expect((await loadError(modelPath("llama-untied"), { device: "tpu" })).message).toContain('device "tpu"');
    expect((await loadError(modelPath("llama-untied"), { dtype: "int8" })).message).toContain('dtype "int8"');
    if (!engineInfo().cudaAvailable) expect((await loadError(modelPath("llama-untied"), { device: "cuda" })).message).toMatch(/CUDA is not available/);
  });
});

describe("bad arguments", () => {
  let model: Model;
  const ref = readReference("llama-untied");
  beforeAll(async () => {
    model = await loadModel(modelPath("llama-untied"));
  });
  afterAll(() => model?.dispose());

  const rejects = (p: Promise<unknown>, message: string | RegExp) => expect(p).rejects.toThrow(message);

  it("name the argument and the row in generate", async () => {
    await rejects(model.generate([[5, 6], [7, 999, 8]], { maxNewTokens: 2 }), "generate: prompts[1][1] = 999 is not a token id of this model");
    await rejects(model.generate([[5], []], { maxNewTokens: 2 }), "generate: prompts[1] has 0 tokens");
    await rejects(model.generate([], { maxNewTokens: 2 }), "generate: prompts is empty");
    await rejects(model.generate([[5, 1.5]], { maxNewTokens: 2 }), "generate: prompts[0][1] must be a non-negative integer, got 1.5");
    await rejects(model.generate([[5]], { maxNewTokens: -1 }), "generate: maxNewTokens must be a non-negative integer");
    await rejects(model.generate([[5]], { maxNewTokens: 2, stopTokenIds: [400] }), "generate: stopTokenIds[0] = 400");
  });

  it("name the argument in logits", async () => {
    await rejects(model.logits({ inputIds: [[5, 6], [7]] }, { positions: "last" }), "logits: inputIds[1] has 1 tokens but inputIds[0] has 2");
    await rejects(
      model.logits({ inputIds: [[0, 6]], attentionMask: [[0, 1]] }, { positions: [[0]] }),
      "logits: positions[0][0] = 0 points at padding",
    );
    await rejects(model.logits({ inputIds: [[5, 6]] }, { positions: [[2]] }), "logits: positions[0][0] = 2 is outside the row");
    await rejects(model.logits({ inputIds: [[5, 6]] }, { positions: [[1]], targets: [[1, 2]] }), "logits: targets[0] has 2 ids but positions[0] has 1");
  });

  it("name the argument in topCandidates", async () => {
    const sequences = ref.topCandidates.sequences;
    await rejects(model.topCandidates(sequences, { positions: [5, 0, 3], k: 4 }), "topCandidates: positions[1] = 0 must lie in [1, 9]");
    await rejects(model.topCandidates(sequences, { positions: [5, 9], k: 4 }), "topCandidates: positions has 2 entries but sequences has 3 rows");
    await rejects(model.topCandidates(sequences, { positions: [5, 9, 3], k: 0 }), "topCandidates: k must be at least 1");
    await rejects(model.topCandidates(sequences, { positions: [5, 9, 3], k: 2, exclude: [[1], [2], [170]] }), "topCandidates: exclude[2][0] = 170");
  });

  it("name the argument in oneHotGradient and scoreAnswers", async () => {
    const g = ref.gradient;
    const base = { ...gradientArgs(ref), temperature: 0.2, controlWeight: 0.2 };
    const current = g.sequences[1][g.positions[1]];
    await rejects(
      model.oneHotGradient({ ...base, candidates: g.candidates.filter((c) => c !== current) }),
      `oneHotGradient: candidates must contain each row's current token, but lack ${current} = sequences[1][positions[1]]`,
    );
    await rejects(model.oneHotGradient({ ...base, positions: [5, 40, 10] }), "oneHotGradient: positions[1] = 40 is outside sequences[1] (length 14)");
    await rejects(
      model.oneHotGradient({ ...base, answerSpans: [base.answerSpans[0], { start: 10, end: 30 }, base.answerSpans[2]] }),
      "oneHotGradient: answerSpans[1] = [10, 30) is not a range inside sequences[1] (length 14)",
    );
    await rejects(
      model.scoreAnswers({ sequences: g.sequences, answerSpans: base.answerSpans, promptSpans: [{ start: 0, end: 3 }, ...base.promptSpans.slice(1)] }),
      "scoreAnswers: promptSpans[0] = [0, 3) starts at 0",
    );
    await rejects(
      model.scoreAnswers({ sequences: g.sequences, answerSpans: [{ start: 4, end: 4 }, ...base.answerSpans.slice(1)], promptSpans: base.promptSpans }),
      "scoreAnswers: answerSpans[0] = [4, 4) is empty",
    );
  });
});
