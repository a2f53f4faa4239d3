// Model lifecycle: queued calls in order, off the JS thread, dispose and async dispose.
import { describe, expect, it } from "vitest";
import { EngineError, loadModel } from "../../ts/engine/index.js";
import { modelPath, readReference } from "./helpers/fixtures.js";

const ref = readReference("qwen2-bias");

describe("a model's calls", () => {
  it("run one at a time in call order, each with its own result", async () => {
    const model = await loadModel(modelPath("qwen2-bias"));
    const finished: number[] = [];
    const lengths = [12, 1, 8, 3];
    const calls = lengths.map((n, i) =>
      model.generate(ref.generate.prompts, { maxNewTokens: n, ignoreEos: true }).then((r) => {
        finished.push(i);
        return r;
      }),
    );
    const results = await Promise.all(calls);
    expect(finished).toEqual([0, 1, 2, 3]);
    results.forEach((r, i) => expect(r.tokens).toEqual(ref.generate.freeRun.map((t) => t.slice(0, lengths[i]))));
    model.dispose();
  });

  it("leave the JS thread free while they run", async () => {
    const model = await loadModel(modelPath("qwen2-bias"));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await model.generate(ref.generate.prompts, { maxNewTokens: 400, ignoreEos: true });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    model.dispose();
  });

  it("keep going after a call fails", async () => {
    const model = await loadModel(modelPath("qwen2-bias"));
    const bad = model.generate([[1000]], { maxNewTokens: 2 });
    const good = model.generate(ref.generate.prompts, { maxNewTokens: ref.generate.maxNewTokens });
    await expect(bad).rejects.toBeInstanceOf(EngineError);
    expect((await good).tokens).toEqual(ref.generate.tokens);
    model.dispose();
  });
});

describe("disposing a model", () => {
  it("frees it: later calls reject with DISPOSED, info stays readable, dispose is idempotent", async () => {
    const model = await loadModel(modelPath("qwen2-bias"));
    model.dispose();
    model.dispose();
    expect(model.info.architecture).toBe("Qwen2ForCausalLM");
    await expect(model.generate([[5]], { maxNewTokens: 1 })).rejects.toMatchObject({ code: "DISPOSED" });
    await expect(model.scoreAnswers({ sequences: [[5, 6]], answerSpans: [{ start: 1, end: 2 }], promptSpans: [{ start: 1, end: 1 }] })).rejects.toMatchObject({
      code: "DISPOSED",
    });
  });

  it("lets a running call finish and rejects the queued ones", async () => {
    const model = await loadModel(modelPath("qwen2-bias"));
    const running = model.generate(ref.generate.prompts, { maxNewTokens: 200, ignoreEos: true });
    const queued = model.generate(ref.generate.prompts, { maxNewTokens: 2 });
    await new Promise((r) => setTimeout(r, 0));
    model.dispose();
    expect((await running).tokens[0]).toHaveLength(200);
    await expect(queued).rejects.toMatchObject({ code: "DISPOSED" });
  });

  it("with Symbol.asyncDispose, waits for queued calls first", async () => {
    const model = await loadModel(modelPath("qwen2-bias"));
    const pending = model.generate(ref.generate.prompts, { maxNewTokens: ref.generate.maxNewTokens });
    await model[Symbol.asyncDispose]();
    expect((await pending).tokens).toEqual(ref.generate.tokens);
    await expect(model.generate([[5]], { maxNewTokens: 1 })).rejects.toMatchObject({ code: "DISPOSED" });
  });
});
