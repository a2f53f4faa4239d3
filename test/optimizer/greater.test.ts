import { describe, expect, it } from "vitest";
import {
  GreaterOptimizer,
  OptimizationAbortedError,
  optimize,
  type OptimizeOptions,
} from "../../ts/optimizer/greater.js";
import type { GreaterEvent, StepEvent, StepRecord } from "../../ts/optimizer/events.js";
import { parseState, type OptimizerState } from "../../ts/optimizer/state.js";
import type { GreaterConfig } from "../../ts/optimizer/config.js";
import { buildExampleLayout, disallowedTokenMask, loadTokenizer } from "../../ts/text/index.js";
import { evaluate } from "../../ts/tasks/evaluate.js";
import type { Task } from "../../ts/tasks/types.js";
import { FakeModel, FakeTokenizer, fakeExamples, fakeTextFunctions, type FakeModelOptions } from "./fakes.js";

const tokenizer = new FakeTokenizer();
const text = fakeTextFunctions(tokenizer);
const task = { name: "fake", extractor: "Therefore, the answer is $", train: fakeExamples(8) };
const base: Partial<GreaterConfig> = {
  initialPrompt: " proper logical reasoning and think.",
  topK: 6,
  minCandidates: 4,
  steps: 8,
  seed: 17,
};

function run(config: Partial<GreaterConfig>, modelOptions: FakeModelOptions = {}, options: Partial<OptimizeOptions> = {}) {
  const model = new FakeModel(tokenizer, modelOptions);
  return { model, optimizer: new GreaterOptimizer(model, tokenizer, task, { ...base, ...config }, { text, ...options }) };
}

async function collect(optimizer: GreaterOptimizer): Promise<GreaterEvent[]> {
  const events: GreaterEvent[] = [];
  for await (const event of optimizer) events.push(event);
  return events;
}

/** A step record without what depends on the clock. */
function deterministic(record: StepRecord | StepEvent): object {
  const { timingsMs, ...rest } = record as StepRecord & { eta?: unknown };
  delete (rest as { eta?: unknown }).eta;
  return rest;
}

function stateWithoutTimings(state: OptimizerState): object {
  return { ...state, history: state.history.map(deterministic) };
}

describe("GreaterOptimizer loop", () => {
  it("reports the projected work first, then one event per step until the step budget", async () => {
    const { optimizer } = run({});
    const events = await collect(optimizer);
    const [start, ...steps] = events;
    expect(start.type).toBe("start");
    if (start.type !== "start") return;
    const prefixTokens = task.train
      .map((e) => text.layout({ question: e.question, prompt: tokenizer.encode(base.initialPrompt as string) }).ids.length)
      .reduce((a, b) => a + b, 0);
    expect(start.projected).toEqual({
      trainExamples: 8,
      generatedSequences: { refresh: 8, selection: 24, total: 32 },
      prefixTokens: prefixTokens * 4,
      maxNewTokens: 32 * 1024,
      forwardRows: { proposal: 8, gradient: 8, scoring: 24, total: 40 },
      backwardRows: 8,
      engineCalls: 6,
    });
    expect(steps).toHaveLength(8);
    steps.forEach((event, i) => {
      expect(event.type).toBe("step");
      if (event.type !== "step") return;
      expect(event.step).toBe(i);
      expect(event.eta.remainingSteps).toBe(7 - i);
      expect(event.rescored.length).toBeGreaterThan(0);
      expect(event.rescored.length).toBeLessThanOrEqual(3);
      expect(event.prompt.ids[event.position]).toBe(event.chosen.token);
      expect(event.loss).toBe(event.rescored.find((c) => c.token === event.chosen.token)?.score);
      expect(event.candidates.every((c) => typeof c.gradient === "number")).toBe(true);
      expect(Object.keys(event.timingsMs)).toEqual(["refresh", "proposal", "gradient", "ranking", "selection", "total"]);
    });
    expect((steps.at(-1) as StepEvent).stop).toBe("steps");
    expect(optimizer.finished).toBe(true);
  });

  it.each([
    // Trying every candidate reaches the current "." at the last position, which exits early: a wrap.
    [" proper logical.", 30, "wrapped"],
    [" proper logical and", 3, "grew"],
  ] as const)("moves one position per step, wrapping after a sentence end, growing with the filler otherwise (%j)", async (initialPrompt, candidatesToScore, seen) => {
    const { optimizer } = run({ initialPrompt, candidatesToScore, steps: 12 });
    const events = (await collect(optimizer)).filter((e): e is StepEvent => e.type === "step");
    const filler = tokenizer.id("_");
    let position = 0;
    let length = 3;
    for (const event of events) {
      expect(event.position).toBe(position);
      expect(event.prompt.ids).toHaveLength(length);
      if (position + 1 < length) {
        expect(event.next).toEqual({ position: position + 1, wrapped: false, grew: false, retokenized: false });
      } else if (event.chosen.text.includes(".")) {
        expect(event.next).toEqual({ position: 0, wrapped: true, grew: false, retokenized: false });
      } else {
        expect(event.next).toEqual({ position: length, wrapped: false, grew: true, retokenized: false });
        length++;
      }
      position = event.next.position;
    }
    const state = optimizer.state;
    expect(state.prompt.length).toBe(length);
    expect(events.some((e) => e.next[seen])).toBe(true);
    if (events.at(-1)?.next.grew) expect(state.prompt.at(-1)).toBe(filler);
  });

  it("makes each phase one batched engine call over all examples", async () => {
    const { model, optimizer } = run({ steps: 1 });
    const [startEvent] = await collect(optimizer);
    const [record] = optimizer.state.history;
    const kinds = model.calls.map((call) => call.kind);
    expect(kinds).toEqual(["generateForScoring", "scoreContinuations", "topCandidates", "oneHotGradient", "generateForScoring", "scoreContinuations"]);
    expect(startEvent.type === "start" && startEvent.projected.engineCalls).toBe(kinds.length);
    expect(model.calls[0].rows).toBe(8);
    expect(model.calls[3].rows).toBe(8);
    // The current token's reasoning and scores come from the refresh: only the other candidates are generated.
    const regenerated = record.rescored.filter((c) => !c.cached && c.token !== optimizer.state.initialPrompt[0]).length;
    expect(model.calls[4].rows).toBe(regenerated * 8);
    expect(model.calls[5].rows).toBe(regenerated * 8);
  });

  it("resumes from a saved state with exactly the steps of an uninterrupted run", async () => {
    const whole = run({ steps: 8 }).optimizer;
    const wholeEvents = (await collect(whole)).filter((e): e is StepEvent => e.type === "step");

    const first = run({ steps: 8 }).optimizer;
    for (let i = 0; i < 4; i++) await first.step();
    const saved = JSON.parse(JSON.stringify(first.state));
    const resumed = run({ steps: 8 }, {}, { resumeFrom: parseState(saved) }).optimizer;
    const resumedEvents = await collect(resumed);
    expect(resumedEvents[0]).toMatchObject({ type: "start", resumed: true, stepsDone: 4 });
    const later = resumedEvents.slice(1) as StepEvent[];
    expect(later.map(deterministic)).toEqual(wholeEvents.slice(4).map(deterministic));
    expect(stateWithoutTimings(resumed.state)).toEqual(stateWithoutTimings(whole.state));
  });

  it("extends a finished run when resumed with a larger step budget", async () => {
    const short = run({ steps: 3 }).optimizer;
    await collect(short);
    expect(short.state.stop).toBe("steps");
    const longer = run({ steps: 5 }, {}, { resumeFrom: short.state }).optimizer;
    const events = await collect(longer);
    expect(events.filter((e) => e.type === "step")).toHaveLength(2);
    const whole = run({ steps: 5 }).optimizer;
    await collect(whole);
    expect(stateWithoutTimings(longer.state)).toEqual(stateWithoutTimings(whole.state));
  });

  it("resumes with the saved configuration, the given fields over it", async () => {
    const short = run({ steps: 2 }).optimizer;
    await collect(short);
    const resumed = new GreaterOptimizer(new FakeModel(tokenizer), tokenizer, task, { steps: 4 }, { text, resumeFrom: short.state });
    expect(resumed.config).toEqual({ ...short.state.config, steps: 4 });
    await collect(resumed);
    const whole = run({ steps: 4 }).optimizer;
    await collect(whole);
    expect(stateWithoutTimings(resumed.state)).toEqual(stateWithoutTimings(whole.state));
  });

  it("refuses to resume with another search configuration or other train examples", () => {
    const model = new FakeModel(tokenizer);
    const saved = new GreaterOptimizer(model, tokenizer, task, base, { text }).state;
    expect(() => new GreaterOptimizer(model, tokenizer, task, { ...base, topK: 9 }, { text, resumeFrom: saved })).toThrow(
      /config\.topK is 9 but the saved run used 6/,
    );
    const otherTask = { ...task, train: fakeExamples(7) };
    expect(() => new GreaterOptimizer(model, tokenizer, otherTask, base, { text, resumeFrom: saved })).toThrow(/train examples differ/);
  });

  it("never ends on out-of-memory: calls are split, the run is the same, the split sizes are reported", async () => {
    const plain = run({ steps: 3 }).optimizer;
    await collect(plain);
    // A generation's chunk that fits but whose scoring does not is generated again, smaller.
    const limits = { generateForScoring: 5, scoreContinuations: 3, topCandidates: 3, oneHotGradient: 2 };
    const { model, optimizer } = run({ steps: 3 }, { oomAbove: limits });
    const events = (await collect(optimizer)).filter((e): e is StepEvent => e.type === "step");
    expect(events[0].splitSizes).toEqual({ generate: 2, topCandidates: 2, oneHotGradient: 2, scoreAnswers: null });
    expect(model.calls.every((call) => call.rows <= (limits as Record<string, number>)[call.kind])).toBe(true);
    const strip = (s: OptimizerState) => ({ ...stateWithoutTimings(s), splitSizes: null, history: s.history.map((h) => ({ ...deterministic(h), splitSizes: null })) });
    expect(strip(optimizer.state)).toEqual(strip(plain.state));
    expect(optimizer.state.splitSizes).toEqual(events[0].splitSizes);
  });

  it("stops within a second of an abort, keeps the last step's state, and leaves the model usable", async () => {
    const controller = new AbortController();
    const modelOptions: FakeModelOptions = {};
    const { model, optimizer } = run({ steps: 5 }, modelOptions, { signal: controller.signal });
    await optimizer.step();
    const afterFirst = optimizer.state;
    modelOptions.generateDelayMs = 30_000; // the next generation hangs until aborted
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    const error = await optimizer.step().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OptimizationAbortedError);
    expect(Date.now() - started).toBeLessThan(1000);
    const state = (error as OptimizationAbortedError).state;
    expect(state).toEqual(afterFirst);
    expect(optimizer.state).toEqual(afterFirst);

    const partial = await optimizer.result({ evaluate: false });
    expect(partial.stopReason).toBeNull();
    expect(partial.stepsDone).toBe(1);
    expect(partial.bestPrompt).toEqual(afterFirst.history[0].prompt);

    // The same model goes on working, in a run resumed from the saved state.
    modelOptions.generateDelayMs = 0;
    const resumed = new GreaterOptimizer(model, tokenizer, task, { ...base, steps: 5 }, { text, resumeFrom: state });
    const event = await resumed.step();
    expect(event.step).toBe(1);
  });

  it("has no result before the first step", async () => {
    await expect(run({}).optimizer.result()).rejects.toThrow(/no step has completed/);
  });

  it("stops early once the loss falls under the threshold", async () => {
    const whole = run({ steps: 8 }).optimizer;
    await collect(whole);
    const losses = whole.state.history.map((h) => h.loss);
    const lowest = Math.min(...losses);
    const firstLowest = losses.indexOf(lowest);
    const { optimizer } = run({ steps: 8, lossThreshold: lowest + 1e-9 });
    const events = (await collect(optimizer)).filter((e): e is StepEvent => e.type === "step");
    expect(events).toHaveLength(firstLowest + 1);
    expect(events.at(-1)?.stop).toBe("threshold");
    expect(events.at(-1)?.eta.remainingSteps).toBe(0);
  });

  it("stops when the best loss has not improved for more than `patience` steps", async () => {
    const whole = run({ steps: 20 }).optimizer;
    await collect(whole);
    const counters = whole.state.history.map((_, i) => {
      const losses = whole.state.history.slice(0, i + 1).map((h) => h.loss);
      return i - losses.indexOf(Math.min(...losses));
    });
    const stopAt = counters.findIndex((c) => c > 1);
    expect(stopAt).toBeGreaterThan(0); // the fake run has a plateau of at least two steps
    const { optimizer } = run({ steps: 20, patience: 1 });
    const events = (await collect(optimizer)).filter((e): e is StepEvent => e.type === "step");
    expect(events).toHaveLength(stopAt + 1);
    expect(events.at(-1)?.stop).toBe("patience");
  });

  it("returns the best prompt, its train loss, dev accuracy from the evaluator, top prompts and history", async () => {
    const evaluated: string[] = [];
    const model = new FakeModel(tokenizer);
    const progress: GreaterEvent[] = [];
    const result = await optimize(model, tokenizer, task, { ...base, steps: 6 }, {
      text,
      onProgress: (event) => progress.push(event),
      evaluate: async (prompt) => {
        evaluated.push(prompt.text);
        return 0.75;
      },
    });
    expect(progress).toHaveLength(7);
    expect(result.history).toHaveLength(6);
    const lowest = Math.min(...result.history.map((h) => h.loss));
    expect(result.trainLoss).toBe(lowest);
    const bestRecord = result.history.find((h) => h.loss === lowest) as StepRecord;
    expect(result.bestStep).toBe(bestRecord.step);
    expect(result.bestPrompt).toEqual(bestRecord.prompt);
    expect(evaluated).toEqual([result.bestPrompt.text]);
    expect(result.devAccuracy).toBe(0.75);
    expect(result.topPrompts[0].loss).toBe(lowest);
    expect(result.topPrompts.map((p) => p.loss)).toEqual([...result.topPrompts.map((p) => p.loss)].sort((a, b) => a - b));
    expect(result.stopReason).toBe("steps");
    expect(result.state.stepsDone).toBe(6);
  });

  it("gives a null dev accuracy without an evaluator", async () => {
    const result = await optimize(new FakeModel(tokenizer), tokenizer, task, { ...base, steps: 1 }, { text });
    expect(result.devAccuracy).toBeNull();
  });
});

describe("ablations", () => {
  it("reasoning: false computes the gradient with the answer right after the prompt and skips the refresh", async () => {
    const { model, optimizer } = run({ steps: 1, reasoning: false });
    const seen: number[][] = [];
    const original = model.oneHotGradient.bind(model);
    model.oneHotGradient = async (args) => {
      args.sequences.forEach((row, r) => {
        const layout = text.layout({ question: task.train[r].question, prompt: row.slice(args.promptSpans[r].start, args.promptSpans[r].end), reasoning: [], extractor: task.extractor, answer: task.train[r].answer });
        seen.push(layout.ids);
        expect(row).toEqual(layout.ids);
      });
      return original(args);
    };
    await collect(optimizer);
    expect(seen).toHaveLength(8);
    expect(model.calls.map((c) => c.kind)).toEqual(["topCandidates", "oneHotGradient", "generateForScoring", "scoreContinuations"]);
  });

  it('ranking: "random" draws the re-scored candidates from the proposal without a gradient pass', async () => {
    const { model, optimizer } = run({ steps: 2, ranking: "random" });
    const events = (await collect(optimizer)).filter((e): e is StepEvent => e.type === "step");
    expect(model.calls.some((c) => c.kind === "oneHotGradient")).toBe(false);
    for (const event of events) {
      expect(event.candidates.every((c) => c.gradient === null)).toBe(true);
      expect(event.gradientLoss).toBeNull();
      const proposed = event.candidates.map((c) => c.token);
      expect(event.ranked.every((r) => proposed.includes(r.token))).toBe(true);
      expect(new Set(event.ranked.map((r) => r.token)).size).toBe(event.ranked.length);
    }
  });

  it("controlWeight: 0 drops the fluency term from the gradient loss and the selection score", async () => {
    const { model, optimizer } = run({ steps: 1, controlWeight: 0 });
    const weights: number[] = [];
    const original = model.oneHotGradient.bind(model);
    model.oneHotGradient = async (args) => {
      weights.push(args.controlWeight);
      return original(args);
    };
    const events = (await collect(optimizer)).filter((e): e is StepEvent => e.type === "step");
    expect(weights).toEqual([0]);
    for (const c of events[0].rescored) expect(c.score).toBe(c.mistakeRate);
  });
});

describe("with the text layer's defaults and a real tokenizer", () => {
  it("lays out examples with ts/text, masks with its candidate filter, and keeps every prompt verbatim", async () => {
    const real = await loadTokenizer(new URL("../fixtures/tokenizers/tiny-bytelevel", import.meta.url).pathname);
    const model = new FakeModel(real);
    const mask = disallowedTokenMask(real, { rule: "strict", vocabSize: real.vocabSize, cacheDir: null });
    const seenDisallowed: unknown[] = [];
    const original = model.topCandidates.bind(model);
    model.topCandidates = async (sequences, options) => {
      seenDisallowed.push(options.disallowed);
      return original(sequences, options);
    };
    const optimizer = new GreaterOptimizer(model, real, task, { initialPrompt: "proper logical reasoning and think step by step.", steps: 3, topK: 8, minCandidates: 3, seed: 5 });
    // encodePrompt gave the prompt its leading space for the authors' template.
    expect(real.decode(optimizer.state.prompt)).toBe(" proper logical reasoning and think step by step.");
    const events = (await collect(optimizer)).filter((e): e is StepEvent => e.type === "step");
    expect(events).toHaveLength(3);
    expect(Array.from(seenDisallowed[0] as Uint8Array)).toEqual(Array.from(mask));
    for (const event of events) {
      // All but the last candidate come from the proposal (the last may be the current token, added as is).
      expect(event.candidates.slice(0, -1).filter((c) => mask[c.token] === 1)).toEqual([]);
      const layout = buildExampleLayout(real, { question: task.train[0].question, prompt: event.prompt.ids });
      expect(layout.promptVerbatim).toBe(true);
    }
  });
});

describe("dev accuracy", () => {
  it("defaults to the tasks layer's evaluation on the dev split of a full Task", async () => {
    const fullTask = {
      ...task,
      name: "fake",
      dev: fakeExamples(4).map((e) => ({ ...e, id: `dev:${e.id}`, source: { file: "dev", line: 1 } })),
      normalise: (answer: string) => answer.trim().toLowerCase(),
    } as unknown as Task;
    const model = new FakeModel(tokenizer);
    const result = await optimize(model, tokenizer, fullTask, { ...base, steps: 1 }, { text });
    // Only the evaluation calls plain generate (the optimizer's generations keep their caches for scoring).
    const generateCalls = () => model.calls.filter((c) => c.kind === "generate").length;
    const evaluationCalls = generateCalls();
    expect(evaluationCalls).toBeGreaterThan(0);
    const direct = await evaluate(model, tokenizer, fullTask, result.bestPrompt.ids, "dev", {
      template: "authors",
      maxNewTokens: 1024,
      layout: text.layout,
    });
    expect(result.devAccuracy).toBe(direct.accuracy);
    expect(generateCalls()).toBe(2 * evaluationCalls);
  });

  it("is skipped with evaluate: false", async () => {
    const fullTask = { ...task, dev: fakeExamples(2), normalise: (a: string) => a } as unknown as Task;
    const result = await optimize(new FakeModel(tokenizer), tokenizer, fullTask, { ...base, steps: 1 }, { text, evaluate: false });
    expect(result.devAccuracy).toBeNull();
  });
});
