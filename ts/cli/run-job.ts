// The job behind `greater optimize`, `greater demo` and `--resume`: load model, tokenizer and task, run
// GReaTer while recording everything in a run folder, then measure the initial and best prompts on held-out
// splits. A run killed at any moment loses at most the step in flight; resuming replays nothing.
import { resolve } from "node:path";
import { setThreads } from "../engine/info.js";
import { loadModel } from "../engine/model.js";
import type { LanguageModel } from "../engine/types.js";
import { GreaterOptimizer, OptimizationAbortedError } from "../optimizer/greater.js";
import { resolveConfig, type GreaterConfig } from "../optimizer/config.js";
import type { GreaterEvent, PromptText } from "../optimizer/events.js";
import type { OptimizerState } from "../optimizer/state.js";
import { RunRecorder } from "../runs/index.js";
import { describeTask, evaluate, loadCustomTask, loadTask, type Task, type TaskDescription } from "../tasks/index.js";
import type { SplitName } from "../tasks/types.js";
import { encodePrompt, loadTokenizer } from "../text/index.js";
import type { ModelTokenizer } from "../text/types.js";
import { createDisplay, type DisplayMode } from "./progress.js";

/** Where the task comes from: everything needed to load the same examples again on resume. */
export interface TaskSource {
  /** `bbh:navigate`, `gsm8k`, `folio`, a BBH-format file, or "custom" with `custom`. */
  spec: string;
  /** --data: a task file, or a folder laid out as bbh/, gsm8k/, folio/. */
  data?: string;
  splitSeed: number;
  sizes?: { train?: number; dev?: number; test?: number };
  /** A JSON-lines task with `question` and `answer` fields and a given extractor (the demo's task). */
  custom?: { train: string; dev: string; test: string; extractor: string; name: string };
}

/** config.json of a run folder. */
export interface RunConfig {
  format: "greater-run";
  version: 1;
  createdAt: string;
  model: { path: string; device: string; dtype?: string };
  task: TaskSource;
  taskDescription: TaskDescription;
  optimizer: GreaterConfig;
  evaluation: { splits: SplitName[]; maxNewTokens: number; limit?: number };
  threads?: number;
}

export interface RunState {
  optimizer: OptimizerState;
  /** Accuracy of the initial prompt per split, measured before the first step. */
  initialAccuracy: Partial<Record<SplitName, number>>;
}

/** result.json of a run folder. */
export interface RunResult {
  initialPrompt: PromptText;
  bestPrompt: PromptText;
  trainLoss: number;
  bestStep: number;
  stepsDone: number;
  stopReason: string;
  accuracy: { initial: Partial<Record<SplitName, number>>; best: Partial<Record<SplitName, number>> };
  topPrompts: { text: string; loss: number; step: number }[];
  seconds: number;
  runDir: string;
}

export interface JobOptions {
  display: DisplayMode;
  signal?: AbortSignal;
}

/** The split sizes given on the command line, or undefined for the task's defaults. */
export function splitSizes(flags: { trainSize?: number; devSize?: number; testSize?: number }): TaskSource["sizes"] {
  const { trainSize, devSize, testSize } = flags;
  return trainSize === undefined && devSize === undefined && testSize === undefined ? undefined : { train: trainSize, dev: devSize, test: testSize };
}

export function loadTaskFrom(source: TaskSource): Task {
  if (source.custom) {
    const c = source.custom;
    return loadCustomTask({
      name: c.name,
      files: { train: c.train, dev: c.dev, test: c.test },
      columns: { question: "question", answer: "answer" },
      extractor: c.extractor,
      seed: source.splitSeed,
      sizes: source.sizes,
    });
  }
  const isFolder = source.data !== undefined && !/\.(csv|json|jsonl)$/i.test(source.data);
  return loadTask(source.spec, {
    seed: source.splitSeed,
    sizes: source.sizes,
    ...(source.data === undefined ? {} : isFolder ? { dataDir: source.data } : { file: source.data }),
  });
}

/** Starts a new run (config written first, so even a run killed during loading can be inspected). */
export async function startRun(
  runDir: string,
  model: { path: string; device: string; dtype?: string },
  task: TaskSource,
  optimizer: Partial<GreaterConfig>,
  evaluation: RunConfig["evaluation"],
  options: JobOptions & { overwrite?: boolean; threads?: number },
): Promise<RunResult> {
  const loadedTask = loadTaskFrom(task);
  const config: RunConfig = {
    format: "greater-run",
    version: 1,
    createdAt: new Date().toISOString(),
    model: { ...model, path: resolve(model.path) },
    task,
    taskDescription: describeTask(loadedTask),
    optimizer: resolveConfig(optimizer),
    evaluation,
    threads: options.threads,
  };
  const recorder = await RunRecorder.create<RunConfig, RunState, unknown, RunResult>(runDir, config, { overwrite: options.overwrite });
  return runJob(recorder, loadedTask, options);
}

/** Continues the run in `runDir` from its last saved step. */
export async function resumeRun(runDir: string, options: JobOptions): Promise<RunResult> {
  const recorder = await RunRecorder.open<RunConfig, RunState, unknown, RunResult>(runDir);
  if (recorder.config.format !== "greater-run") {
    await recorder.close();
    throw new Error(`${runDir}/config.json: not a greater run (format ${JSON.stringify(recorder.config.format)})`);
  }
  return runJob(recorder, loadTaskFrom(recorder.config.task), options);
}

async function runJob(recorder: RunRecorder<RunConfig, RunState, unknown, RunResult>, task: Task, options: JobOptions): Promise<RunResult> {
  const started = Date.now();
  const config = recorder.config;
  const display = createDisplay(options.display, config.optimizer.steps);
  const note = (event: { type: string; [k: string]: unknown }, line: string) => display.note(event, line);
  let model: LanguageModel | undefined;
  try {
    if (config.threads) setThreads(config.threads);
    note({ type: "loading", model: config.model.path }, `loading ${config.model.path} on ${config.model.device}`);
    model = await loadModel(config.model.path, { device: config.model.device, dtype: config.model.dtype as never });
    const tokenizer = await loadTokenizer(config.model.path);
    const initialPrompt = encodePrompt(tokenizer, config.optimizer.initialPrompt);
    const initial: PromptText = { ids: initialPrompt, text: tokenizer.decode(initialPrompt) };

    const measure = async (prompt: PromptText, step: number, which: "initial" | "best") => {
      const accuracy: Partial<Record<SplitName, number>> = {};
      for (const split of config.evaluation.splits) {
        const r = await evaluate(model!, tokenizer, task, prompt.ids, split, {
          template: config.optimizer.userTurnTemplate,
          maxNewTokens: config.evaluation.maxNewTokens,
          limit: config.evaluation.limit,
          signal: options.signal,
        });
        accuracy[split] = r.accuracy;
        const event = { type: "eval", step, which, split, accuracy: r.accuracy, correct: r.correct, total: r.total, prompt: prompt.text };
        await recorder.appendEvent(event);
        note(event, `${which} prompt ${JSON.stringify(prompt.text)}: ${split} accuracy ${(r.accuracy * 100).toFixed(1)}% (${r.correct}/${r.total})`);
      }
      return accuracy;
    };

    const saved = recorder.loaded.state;
    const initialAccuracy = saved?.initialAccuracy ?? (await measure(initial, -1, "initial"));
    // Held-out accuracy is measured here, per split and recorded as events, not by the optimizer.
    const optimizer = new GreaterOptimizer(model, tokenizer, task, config.optimizer, {
      signal: options.signal,
      resumeFrom: saved?.optimizer,
      evaluate: false,
    });
    if (!saved) await recorder.saveState({ optimizer: optimizer.state, initialAccuracy });
    for await (const event of optimizer as AsyncIterable<GreaterEvent>) {
      display.event(event);
      if (event.type === "step") {
        // The event first, then the state: a crash between the two replays this step on resume, and the
        // resumed run's events then repeat it (readers keep the last record of each step).
        await recorder.appendEvent(event);
        await recorder.saveState({ optimizer: optimizer.state, initialAccuracy });
      } else await recorder.appendEvent(event);
    }
    display.stop();
    const result = await optimizer.result();
    const bestAccuracy = await measure(result.bestPrompt, result.bestStep, "best");
    const runResult: RunResult = {
      initialPrompt: initial,
      bestPrompt: result.bestPrompt,
      trainLoss: result.trainLoss,
      bestStep: result.bestStep,
      stepsDone: result.stepsDone,
      stopReason: result.stopReason ?? "unknown",
      accuracy: { initial: initialAccuracy, best: bestAccuracy },
      topPrompts: result.topPrompts.map((p) => ({ text: p.text, loss: p.loss, step: p.step })),
      seconds: (Date.now() - started) / 1000,
      runDir: recorder.dir,
    };
    await recorder.writeResult(runResult);
    return runResult;
  } catch (error) {
    display.stop();
    if (error instanceof OptimizationAbortedError || options.signal?.aborted) {
      throw new Error(`stopped; the run is saved up to its last completed step. Continue it with: greater optimize --resume ${recorder.dir}`);
    }
    throw error;
  } finally {
    model?.dispose();
    await recorder.close();
  }
}
