// CPU allocations the machine cannot back are refused with an OUT_OF_MEMORY error (native/engine/memory_guard.h)
// instead of the kernel killing the process, so the optimizer can split the call as it does on CUDA.
// GREATER_CPU_MEMORY_AVAILABLE stands in for the machine's free memory: a tiny model's KV cache can then be
// "too large". Only allocations of 16 MiB and more are checked; on llama-untied (2 layers, 4 KV heads of 8) each
// layer's key and value caches take 128 bytes per row and slot.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadModel, setEngineSettings, settingsFromEnvironment, type Model } from "../../ts/engine/index.js";
import { RowSplitter } from "../../ts/optimizer/row-splitter.js";
import { BrokenModels } from "./helpers/broken-models.js";
import { readReference } from "./helpers/fixtures.js";

const availableVariable = "GREATER_CPU_MEMORY_AVAILABLE";
const ref = readReference("llama-untied");
const { prompts, freeRun } = ref.generate;
/** `rows` prompts, the fixture's taken in turn. */
const manyPrompts = (rows: number) => Array.from({ length: rows }, (_, i) => prompts[i % prompts.length]);

describe("the CPU memory guard", () => {
  const copies = new BrokenModels();
  let model: Model;
  beforeAll(async () => {
    // ~2,110 positions run past the fixture's 512, which the engine refuses: a copy that allows them.
    model = await loadModel(copies.withPositions(4096), { device: "cpu", dtype: "float32" });
  });
  afterAll(() => {
    model?.dispose();
    copies.cleanup();
  });
  afterEach(() => {
    setEngineSettings({ cpuMemoryAvailable: undefined });
  });

  it("refuses an allocation larger than the memory available, with code OUT_OF_MEMORY, and the model keeps working", async () => {
    setEngineSettings({ cpuMemoryAvailable: 1 << 20 });
    // 64 rows x ~2,110 slots x 128 bytes: a 17 MB cache per layer and side.
    const refused = model.generate(manyPrompts(64), { maxNewTokens: 2100, ignoreEos: true });
    await expect(refused).rejects.toMatchObject({ code: "OUT_OF_MEMORY" });
    await expect(refused).rejects.toThrow(/CPU out of memory: an allocation of 1[67]\.\d MiB exceeds the 1\.0 MiB .*the cpuMemoryAvailable setting/);
    setEngineSettings({ cpuMemoryAvailable: undefined });
    expect((await model.generate(prompts, { maxNewTokens: freeRun[0].length, ignoreEos: true })).tokens).toEqual(freeRun);
  });

  it("lets the optimizer's row splitter get the call through on fewer rows", async () => {
    // 1,040 rows x 128 slots (9 prompt tokens + 119 fed back) x 128 bytes = 17.0 MB is refused; 520 rows (8.5 MB)
    // are not checked.
    setEngineSettings({ cpuMemoryAvailable: 10 << 20 });
    const splitter = new RowSplitter(null);
    const maxNewTokens = 120;
    const rows = manyPrompts(1040);
    const tokens = await splitter.run(
      "generate",
      rows.length,
      async (start, end) => (await model.generate(rows.slice(start, end), { maxNewTokens, ignoreEos: true })).tokens,
      (parts) => parts.flat(),
    );
    expect(splitter.current().generate).toBe(520);
    expect(tokens).toHaveLength(1040);
    tokens.forEach((row, r) => {
      expect(row).toHaveLength(maxNewTokens);
      expect(row.slice(0, freeRun[0].length)).toEqual(freeRun[r % prompts.length]);
    });
  });

  it("refuses a setting that is not a number of bytes, naming the setting or the variable", () => {
    expect(() => setEngineSettings({ cpuMemoryAvailable: 1.5 })).toThrow(/setEngineSettings: cpuMemoryAvailable must be a number of bytes, got 1\.5/);
    expect(() => settingsFromEnvironment({ [availableVariable]: "lots" })).toThrow(/GREATER_CPU_MEMORY_AVAILABLE="lots" is not a number of bytes/);
  });
});
