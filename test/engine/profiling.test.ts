// GREATER_PROFILE_DIR (native/engine/profiling.h): each engine operation writes a Kineto trace and a summary of
// where its time went; without the variable nothing is written, and a folder that cannot be written costs the
// operation nothing.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadModel, setEngineSettings, type Model } from "../../ts/engine/index.js";
import { modelPath, readReference } from "./helpers/fixtures.js";

describe("operation profiles", () => {
  let model: Model;
  const dir = mkdtempSync(join(tmpdir(), "greater-profile-"));
  const prompts = readReference("llama-untied").generate.prompts;
  beforeAll(async () => {
    model = await loadModel(modelPath("llama-untied"));
  });
  afterEach(() => {
    setEngineSettings({ profileDir: undefined });
  });
  afterAll(() => {
    model?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes a trace and a summary per operation, named by the operation", async () => {
    setEngineSettings({ profileDir: dir });
    await model.generate(prompts, { maxNewTokens: 4, ignoreEos: true });
    await model.topCandidates(prompts, { positions: prompts.map((p) => p.length - 1), k: 3 });
    setEngineSettings({ profileDir: undefined });

    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(4);
    const generate = files.filter((f) => /^\d+-\d+-generate\.(json|txt)$/.test(f));
    expect(generate).toHaveLength(2);
    expect(files.filter((f) => /^\d+-\d+-topCandidates\.(json|txt)$/.test(f))).toHaveLength(2);

    const trace = JSON.parse(readFileSync(join(dir, generate.find((f) => f.endsWith(".json"))!), "utf8")) as { traceEvents: { name: string }[] };
    expect(trace.traceEvents.some((e) => e.name === "aten::scaled_dot_product_attention")).toBe(true);

    const summary = readFileSync(join(dir, generate.find((f) => f.endsWith(".txt"))!), "utf8");
    expect(summary).toMatch(/^wall \d+\.\d ms\n/);
    expect(summary).toMatch(/CPU self time per op \(CUDA runtime calls included\) \(\d+\.\d ms in all\)/);
    // Rows: self ms, calls, op name; the decoder's matrix products are there, called once per layer and step.
    const rows = [...summary.matchAll(/^\s+(\d+\.\d+)\s+(\d+)\s+(\S.*)$/gm)].map((m) => ({ ms: Number(m[1]), calls: Number(m[2]), name: m[3] }));
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.every((r, i) => i === 0 || r.ms <= rows[i - 1].ms || r.name === "name")).toBe(true);
    const attention = rows.find((r) => r.name === "aten::scaled_dot_product_attention");
    expect(attention?.calls).toBe(model.info.numLayers * 4); // the prefill and 3 decode steps (the 4th token is never fed back)
  });

  it("writes nothing without profileDir", async () => {
    const before = readdirSync(dir).length;
    await model.generate(prompts, { maxNewTokens: 2 });
    expect(readdirSync(dir)).toHaveLength(before);
  });

  it("runs the operation as usual when the folder cannot be written", async () => {
    const expected = await model.generate(prompts, { maxNewTokens: 4, ignoreEos: true });
    setEngineSettings({ profileDir: join(dir, "missing", "folder") });
    expect(await model.generate(prompts, { maxNewTokens: 4, ignoreEos: true })).toEqual(expected);
  });
});
