// Hostile and careless input that used to crash, hang or load silently wrong (issue "Hostile input"): each case is
// now refused with an error that names the file, field, tensor or argument.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineError, loadModel, setThreads, type Model } from "../../ts/engine/index.js";
import { BrokenModels, editJson, readSafetensors, writeSafetensors } from "./helpers/broken-models.js";
import { gradientArgs, modelPath, readReference } from "./helpers/fixtures.js";

const root = resolve(import.meta.dirname, "..", "..");

async function loadError(folder: string): Promise<EngineError> {
  const error = await loadModel(folder).then((m) => (m.dispose(), undefined), (e: unknown) => e);
  expect(error).toBeInstanceOf(EngineError);
  return error as EngineError;
}

type Spec = { dtype: string; shape: number[]; data_offsets: [number, number] };

describe("thread counts", () => {
  it("refuses 100000, 20000 and 2^32+1 with the allowed range, and the process goes on working", () => {
    // In a child process (the compiled package, built by npm test's pretest), so that a regression to the crash this
    // replaced cannot take the test runner down.
    const script = `
      import { setThreads, matmulChecksum } from ${JSON.stringify(join(root, "dist", "engine", "index.js"))};
      const out = [];
      for (const n of [100000, 20000, 2 ** 32 + 1]) { try { setThreads(n); out.push("accepted " + n); } catch (e) { out.push(e.message); } }
      setThreads(2);
      out.push(String(Number.isFinite(await matmulChecksum(8, 1))));
      console.log(JSON.stringify(out));`;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as string[];
    for (const message of out.slice(0, 3)) expect(message).toMatch(/setThreads: threads must be an integer between 1 and \d+ \(four per core on this machine\)/);
    expect(out[3]).toBe("true");
  });

  it("refuses a non-integer or zero in the TypeScript layer", () => {
    expect(() => setThreads(0)).toThrow(/positive integer/);
    expect(() => setThreads(1.5)).toThrow(/positive integer/);
  });
});

describe("model files that are not what they seem", () => {
  const broken = new BrokenModels();
  const work = mkdtempSync(join(tmpdir(), "greater-hostile-"));
  afterAll(() => {
    broken.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it("a FIFO named model.safetensors or config.json is refused at once, not waited on", async () => {
    for (const name of ["model.safetensors", "config.json"]) {
      const folder = broken.copy();
      unlinkSync(join(folder, name));
      execFileSync("mkfifo", [join(folder, name)]);
      const started = Date.now();
      const error = await loadError(folder);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(error.message).toContain(join(folder, name));
      expect(error.message).toMatch(/a FIFO \(named pipe\), not a regular file/);
    }
  });

  it("a dangling link and a link loop are named as such", async () => {
    const dangling = broken.copy();
    unlinkSync(join(dangling, "model.safetensors"));
    symlinkSync(join(work, "nowhere.safetensors"), join(dangling, "model.safetensors"));
    expect((await loadError(dangling)).message).toMatch(/model\.safetensors: is a symbolic link to a file that does not exist/);
    const loop = broken.copy();
    unlinkSync(join(loop, "config.json"));
    symlinkSync(join(loop, "config.json"), join(loop, "config.json"));
    expect((await loadError(loop)).message).toMatch(/config\.json: symbolic links loop/);
  });

  it("a header length one byte short (every tensor shifted) is refused, naming the hole or overlap", async () => {
    const folder = broken.copy();
    const file = join(folder, "model.safetensors");
    const parts = readSafetensors(file);
    // Move every offset one byte on and add one byte of data: offsets still fit, but the tensors no longer tile it.
    for (const [name, spec] of Object.entries(parts.header)) {
      if (name === "__metadata__") continue;
      const s = spec as Spec;
      s.data_offsets = [s.data_offsets[0] + 1, s.data_offsets[1] + 1];
    }
    writeSafetensors(file, { header: parts.header, data: Buffer.concat([Buffer.alloc(1), parts.data]) });
    expect((await loadError(folder)).message).toMatch(/the data section has a hole of 1 bytes at offset 0/);
  });

  it("overlapping data_offsets and a duplicate tensor name are refused", async () => {
    const overlap = broken.copy();
    const file = join(overlap, "model.safetensors");
    const parts = readSafetensors(file);
    const names = Object.keys(parts.header).filter((n) => n !== "__metadata__");
    const [a, b] = names.map((n) => parts.header[n] as Spec).sort((x, y) => x.data_offsets[0] - y.data_offsets[0]);
    // b starts inside a, same size: an overlap, and a hole at the end.
    const size = b.data_offsets[1] - b.data_offsets[0];
    b.data_offsets = [a.data_offsets[1] - 4, a.data_offsets[1] - 4 + size];
    writeSafetensors(file, parts);
    expect((await loadError(overlap)).message).toMatch(/overlaps tensor/);

    const duplicate = broken.copy();
    const dupFile = join(duplicate, "model.safetensors");
    const dup = readSafetensors(dupFile);
    const first = names[0];
    let header = JSON.stringify(dup.header);
    // The same key twice in the JSON text: the parser must not let the last one win.
    header = header.replace("{", `{${JSON.stringify(first)}:${JSON.stringify(dup.header[first])},`);
    header += " ".repeat((8 - (header.length % 8)) % 8);
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
    writeFileSync(dupFile, Buffer.concat([length, Buffer.from(header), dup.data]));
    expect((await loadError(duplicate)).message).toMatch(new RegExp(`duplicate key "${first.replace(/\./g, "\\.")}"`));
  });

  it("a NaN or an infinity in the weights is refused, naming the tensor and the element", async () => {
    for (const [value, label] of [[Number.NaN, "NaN"], [Number.POSITIVE_INFINITY, "Inf"]] as const) {
      const folder = broken.copy();
      const file = join(folder, "model.safetensors");
      const parts = readSafetensors(file);
      const spec = parts.header["model.layers.0.self_attn.q_proj.weight"] as Spec;
      expect(spec.dtype, label).toBe("F32");
      parts.data.writeFloatLE(value, spec.data_offsets[0] + 4 * 7);
      writeSafetensors(file, parts);
      expect((await loadError(folder)).message).toMatch(
        /tensor "model\.layers\.0\.self_attn\.q_proj\.weight" holds a non-finite value \(NaN or infinity\) at element 7/);
    }
  });

  it.each([
    ["rms_norm_eps", -1, /field "rms_norm_eps" must be a positive number, got -1/],
    ["rope_theta", 0, /field "rope_theta" must be a positive number, got 0/],
    ["bos_token_id", 10_000_000, /field "bos_token_id" holds 10000000, outside the vocabulary/],
    ["pad_token_id", 999_999, /field "pad_token_id" holds 999999, outside the vocabulary/],
    ["num_hidden_layers", 1e18, /field "num_hidden_layers" is 1000000000000000000, more than any model has/],
    ["vocab_size", 2 ** 62, /field "vocab_size" is \d+, more than any model has/],
  ])("config.json %s = %s is refused, naming the field", async (field, value, expected) => {
    const folder = broken.copy();
    editJson(join(folder, "config.json"), (json) => {
      json[field] = value;
      delete json["rope_parameters"]; // rope_theta is then read from the top level
    });
    expect((await loadError(folder)).message).toMatch(expected);
  });

  it("a rope factor of 0 and a negative original_max_position_embeddings are refused as such", async () => {
    const folder = broken.copy();
    editJson(join(folder, "config.json"), (json) => {
      json["rope_parameters"] = { rope_type: "llama3", rope_theta: 10000, factor: 0, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
    });
    expect((await loadError(folder)).message).toMatch(/field "rope_parameters\.factor" must be a positive number, got 0/);
    editJson(join(folder, "config.json"), (json) => {
      json["rope_parameters"] = { rope_type: "llama3", rope_theta: 10000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: -5 };
    });
    expect((await loadError(folder)).message).toMatch(/field "original_max_position_embeddings" must be at least 1, got -5/);
  });
});

describe("calls past the model's limits", () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(modelPath("llama-untied"), { device: "cpu", dtype: "float32" });
  });
  afterAll(() => model?.dispose());

  it("generation past max_position_embeddings is refused, with the numbers", async () => {
    const limit = model.info.maxPositionEmbeddings;
    expect(limit).toBeGreaterThan(0);
    const long = Array.from({ length: limit + 1 }, (_, i) => 1 + (i % 50));
    await expect(model.generate([long], { maxNewTokens: 1 })).rejects.toThrow(/prompts\[0\] has \d+ tokens and maxNewTokens is 1: \d+ positions exceed the model's max_position_embeddings/);
    await expect(model.generate([[1, 2, 3]], { maxNewTokens: limit })).rejects.toThrow(/maxNewTokens is \d+: \d+ positions exceed/);
    await expect(model.generate([[1, 2, 3]], { maxNewTokens: 1e9 })).rejects.toThrow(/exceed the model's max_position_embeddings/);
    await expect(model.logits({ inputIds: [long], attentionMask: [long.map(() => 1)] }, { positions: "last" })).rejects.toThrow(/inputIds\[0\] has \d+ tokens: .* exceed/);
    // The model is still usable.
    expect((await model.generate([[1, 2, 3]], { maxNewTokens: 2 })).tokens[0]).toHaveLength(2);
  });

  it("generate without options says options are required", async () => {
    await expect((model.generate as (p: number[][]) => Promise<unknown>)([[1, 2]])).rejects.toThrow(/generate\(prompts, options\): options is required/);
  });

  it("oneHotGradient with controlWeight NaN is refused", async () => {
    const args = gradientArgs(readReference("llama-untied"));
    await expect(model.oneHotGradient({ ...args, controlWeight: Number.NaN })).rejects.toThrow(/controlWeight must be a finite number/);
  });
});

describe("a load that can be stopped", () => {
  it("an aborted signal stops the load before it starts", async () => {
    const controller = new AbortController();
    controller.abort(new Error("shutting down"));
    const error = await loadModel(modelPath("llama-untied"), { signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "EngineError", code: "ABORTED" });
    expect((error as Error).cause).toMatchObject({ message: "shutting down" });
  });

  it("timeoutMs gives up between tensors with code TIMEOUT; a load that finishes in time is a working model", async () => {
    // The tiny reasoner's ~40 tensors take some milliseconds to read; a 1 ms limit ends most loads part-way.
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const result = await loadModel(resolve(root, "models", "tiny-reasoner"), { timeoutMs: 1 }).then(
        async (model) => {
          const tokens = (await model.generate([[1, 2, 3]], { maxNewTokens: 2, ignoreEos: true })).tokens[0];
          model.dispose();
          return `loaded ${tokens.length}`;
        },
        (e: unknown) => `${(e as EngineError).code}: ${(e as Error).message}`,
      );
      outcomes.push(result);
    }
    for (const outcome of outcomes) expect(outcome).toMatch(/^(loaded 2|TIMEOUT: loadModel: .*tiny-reasoner did not load within 1 ms)$/);
    expect(outcomes.some((o) => o.startsWith("TIMEOUT"))).toBe(true);
    await expect(loadModel(modelPath("llama-untied"), { timeoutMs: 0 })).rejects.toThrow(/timeoutMs must be a positive number/);
  });
});

describe("where a model's files really are", () => {
  const broken = new BrokenModels();
  const outside = mkdtempSync(join(tmpdir(), "greater-outside-"));
  afterAll(() => {
    broken.cleanup();
    rmSync(outside, { recursive: true, force: true });
  });

  it("reports each file's real path, and refuses a link out of the allowed folders, naming it", async () => {
    const folder = broken.copy();
    // The weights moved out of the folder and linked back in, as a hub cache lays out blobs.
    const blob = join(outside, "blob-weights");
    execFileSync("mv", [join(folder, "model.safetensors"), blob]);
    symlinkSync(blob, join(folder, "model.safetensors"));
    const model = await loadModel(folder);
    expect(model.files["model.safetensors"]).toBe(blob);
    expect(model.files["config.json"]).toBe(join(folder, "config.json"));
    model.dispose();

    const parent = resolve(folder, "..");
    const refused = await loadModel(folder, { allowedRoots: [parent] }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: "EngineError", code: "OUTSIDE_ALLOWED_ROOTS" });
    expect((refused as Error).message).toBe(`loadModel: ${join(folder, "model.safetensors")} leads to ${blob}, outside the allowed folders (${parent})`);
    const allowed = await loadModel(folder, { allowedRoots: [parent, outside] });
    allowed.dispose();
    await expect(loadModel(folder, { allowedRoots: [outside] })).rejects.toThrow(/is outside the allowed folders/);
  });
});
