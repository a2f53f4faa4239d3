// Greedy generation: stop rules, padding/compaction invariance, cancellation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineError, loadModel, type Model } from "../../ts/engine/index.js";
import { BrokenModels } from "./helpers/broken-models.js";
import { modelPath, readReference, type Reference } from "./helpers/fixtures.js";

/** What greedy decoding must return, derived from the reference's stop-free greedy run. */
function expectedStop(freeRun: number[], stops: Set<number>, maxNewTokens: number) {
  const run = freeRun.slice(0, maxNewTokens);
  const at = run.findIndex((t) => stops.has(t));
  return at < 0 ? { tokens: run, stopped: false } : { tokens: run.slice(0, at), stopped: true };
}

describe.each(["llama-gqa-rope3-tied", "mistral-sliding", "gemma2"])("generate on %s", (name) => {
  let model: Model;
  let ref: Reference;
  beforeAll(async () => {
    ref = readReference(name);
    model = await loadModel(modelPath(name));
  });
  afterAll(() => model?.dispose());

  it("stops each row on its own at the first stop token: the model's eos or an extra one", async () => {
    const { prompts, maxNewTokens, freeRun, eosTokenIds } = ref.generate;
    // An extra stop id taken from the middle of row 2's greedy run.
    const extra = freeRun[2][7];
    const out = await model.generate(prompts, { maxNewTokens, stopTokenIds: [extra] });
    const stops = new Set([...eosTokenIds, extra]);
    prompts.forEach((_, b) => {
      const expected = expectedStop(freeRun[b], stops, maxNewTokens);
      expect(out.tokens[b]).toEqual(expected.tokens);
      expect(out.stopped[b]).toBe(expected.stopped);
    });
  });

  it("ignores the model's eos when asked, and honours maxNewTokens", async () => {
    const { prompts, maxNewTokens, freeRun } = ref.generate;
    const full = await model.generate(prompts, { maxNewTokens, ignoreEos: true });
    expect(full.tokens).toEqual(freeRun);
    expect(full.stopped).toEqual(prompts.map(() => false));
    const short = await model.generate(prompts, { maxNewTokens: 3, ignoreEos: true });
    expect(short.tokens).toEqual(freeRun.map((r) => r.slice(0, 3)));
    const none = await model.generate(prompts, { maxNewTokens: 0 });
    expect(none).toEqual({ tokens: [[], [], []], stopped: [false, false, false] });
  });

  it("generates for a ragged batch exactly what each prompt generates alone", async () => {
    // Prompts of 1 to 15 tokens; stop ids that end rows at different steps, so the batch is compacted.
    const sources = [...ref.logits.sequences, ...ref.topCandidates.sequences, ...ref.gradient.sequences];
    const prompts = sources.map((s, i) => s.slice(0, 1 + ((i * 5) % 15)));
    const options = { maxNewTokens: 10, stopTokenIds: [ref.generate.freeRun[1][2], ref.generate.freeRun[0][4]] };
    const batch = await model.generate(prompts, options);
    for (const [b, prompt] of prompts.entries()) {
      const alone = await model.generate([prompt], options);
      expect(batch.tokens[b]).toEqual(alone.tokens[0]);
      expect(batch.stopped[b]).toBe(alone.stopped[0]);
    }
    expect(batch.stopped.filter(Boolean).length).toBeGreaterThan(0);
  });
});

describe("cancelling a generation", () => {
  const copies = new BrokenModels();
  let model: Model;
  let ref: Reference;
  beforeAll(async () => {
    ref = readReference("llama-untied");
    // 20,000 new tokens run past the fixture's 512 positions, which the engine refuses: a copy that allows them.
    model = await loadModel(copies.withPositions(1 << 16));
  });
  afterAll(() => {
    model?.dispose();
    copies.cleanup();
  });

  it("rejects at once when the signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await model.generate(ref.generate.prompts, { maxNewTokens: 5, signal: controller.signal }).catch((e) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(error.code).toBe("ABORTED");
  });

  it("rejects a queued generation without running it, and stops a running one between steps", async () => {
    const running = new AbortController();
    const queued = new AbortController();
    let runningSettled = false;
    const long = model
      .generate(ref.generate.prompts, { maxNewTokens: 20000, ignoreEos: true, signal: running.signal })
      .finally(() => (runningSettled = true));
    const waiting = model.generate(ref.generate.prompts, { maxNewTokens: 5, signal: queued.signal });
    await new Promise((r) => setTimeout(r, 50));
    queued.abort();
    await expect(waiting).rejects.toMatchObject({ code: "ABORTED" });
    expect(runningSettled).toBe(false); // the queued call did not wait for the running one

    const started = Date.now();
    running.abort(new Error("user pressed stop"));
    const error = await long.catch((e) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(error.code).toBe("ABORTED");
    expect((error as Error & { cause?: Error }).cause?.message).toBe("user pressed stop");
    expect(Date.now() - started).toBeLessThan(2000);

    // The model is still usable and still right.
    const after = await model.generate(ref.generate.prompts, { maxNewTokens: ref.generate.maxNewTokens });
    expect(after.tokens).toEqual(ref.generate.tokens);
  }, 30000);
});
