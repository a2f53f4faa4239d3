// A recorded run, the job behind `greater optimize`, `greater demo`, `--resume` and the queue's workers: load
// model, tokenizer and task, run GReaTer while recording everything in a run folder, then measure the initial
// and best prompts on held-out splits. A run killed at any moment loses at most the step in flight; resuming
// replays nothing. Whoever runs it decides how it is shown (RunDisplay) and where else it is kept (RunHooks).
import { resolve } from "node:path";
import { setThreads } from "../engine/info.js";
import { loadModel } from "../engine/model.js";
import type { LanguageModel } from "../engine/types.js";
import { GreaterOptimizer, OptimizationAbortedError } from "../optimizer/greater.js";
import { resolveConfig, type GreaterConfig } from "../optimizer/config.js";
import type { GreaterEvent, PromptText } from "../optimizer/events.js";
import { parseState, type OptimizerState } from "../optimizer/state.js";
import { describeTask, evaluate, loadCustomTask, loadInlineTask, loadTask, type Task, type TaskDescription } from "../tasks/index.js";
import type { SplitName } from "../tasks/types.js";
import { encodePrompt, loadTokenizer } from "../text/index.js";
import type { ModelTokenizer } from "../text/types.js";
import { fingerprintChanges, modelFingerprint } from "./model-fingerprint.js";
import { RunRecorder } from "./recorder.js";

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
  /** Examples given in the run's own inputs (a job's inline task): no file is read. */
  inline?: InlineExamples;
}

/** A task given as data: question/answer pairs per split; without `dev`, train is dealt out to train and dev. */
export interface InlineExamples {
  name: string;
  extractor?: string;
  train: { question: string; answer: string }[];
  dev?: { question: string; answer: string }[];
  test: { question: string; answer: string }[];
}

/** config.json of a run folder. */
export interface RunConfig {
  format: "greater-run";
  version: 1;
  createdAt: string;
  /** `files`: SHA-256 of each model file loading reads (absent in runs recorded before it was added). */
  model: { path: string; device: string; dtype?: string; files?: Record<string, string> };
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

/** How a run shows itself while it goes (the CLI's progress bar or JSON lines; nothing for a queue worker). */
export interface RunDisplay {
  event(event: GreaterEvent): void;
  note(event: { type: string; [field: string]: unknown }, line: string): void;
  stop(): void;
}

/** A display that shows nothing. */
export const SILENT_DISPLAY: RunDisplay = { event: () => {}, note: () => {}, stop: () => {} };

/** Where a model and its tokenizer come from and go back to: loaded and disposed per run by default; a worker keeps them. */
export interface ModelSource {
  acquire(path: string, device: string, dtype: string | undefined): Promise<LanguageModel>;
  release(model: LanguageModel): void;
  tokenizer(path: string): Promise<ModelTokenizer>;
}

/**
 * Called as the run is recorded, after the run folder has it: `event` for every event, `checkpoint` for every
 * saved state (before the first step, then after each completed step). A hook that throws fails the run.
 */
export interface RunHooks {
  event?(event: { type: string; [field: string]: unknown }): Promise<void>;
  checkpoint?(state: RunState, step: GreaterEvent | null): Promise<void>;
}

export interface JobOptions {
  display: RunDisplay | ((totalSteps: number) => RunDisplay);
  signal?: AbortSignal;
  models?: ModelSource;
  hooks?: RunHooks;
}

const loadingModels: ModelSource = {
  acquire: (path, device, dtype) => loadModel(path, { device, dtype: dtype as never }),
  release: (model) => model.dispose(),
  tokenizer: (path) => loadTokenizer(path),
};

/** The split sizes given on the command line, or undefined for the task's defaults. */
export function splitSizes(flags: { trainSize?: number; devSize?: number; testSize?: number }): TaskSource["sizes"] {
  const { trainSize, devSize, testSize } = flags;
  return trainSize === undefined && devSize === undefined && testSize === undefined ? undefined : { train: trainSize, dev: devSize, test: testSize };
}

export function loadTaskFrom(source: TaskSource): Task {
  if (source.inline) {
    const inline = source.inline;
    return loadInlineTask({ name: inline.name, extractor: inline.extractor, examples: inline, seed: source.splitSeed, sizes: source.sizes });
  }
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

/** What a new run is made of: the model, the task, the optimizer's options and what is measured. */
export interface RunInputs {
  model: { path: string; device: string; dtype?: string };
  task: TaskSource;
  optimizer: Partial<GreaterConfig>;
  evaluation: RunConfig["evaluation"];
  threads?: number;
}

/** The config.json of a new run and its loaded task (the task is read once, here). */
export async function prepareRun(inputs: RunInputs): Promise<{ config: RunConfig; task: Task }> {
  const { model, task, optimizer, evaluation, threads } = inputs;
  const loadedTask = loadTaskFrom(task);
  const modelPath = resolve(model.path);
  const config: RunConfig = {
    format: "greater-run",
    version: 1,
    createdAt: new Date().toISOString(),
    model: { ...model, path: modelPath, files: await modelFingerprint(modelPath) },
    task,
    taskDescription: describeTask(loadedTask),
    optimizer: resolveConfig(optimizer),
    evaluation,
    threads,
  };
  return { config, task: loadedTask };
}

/** Starts a new run (config written first, so even a run killed during loading can be inspected). */
export async function startRun(runDir: string, inputs: RunInputs, options: JobOptions & { overwrite?: boolean }): Promise<RunResult> {
  const { config, task } = await prepareRun(inputs);
  const recorder = await RunRecorder.create<RunConfig, RunState, unknown, RunResult>(runDir, config, { overwrite: options.overwrite });
  return runRecorded(recorder, task, options);
}

/** Continues the run in `runDir` from its last saved step. */
export async function resumeRun(runDir: string, options: JobOptions): Promise<RunResult> {
  const recorder = await RunRecorder.open<RunConfig, RunState, unknown, RunResult>(runDir);
  let task: Task;
  try {
    task = await checkResumable(recorder);
  } catch (error) {
    await recorder.close();
    throw error;
  }
  return runRecorded(recorder, task, options);
}

/**
 * What a resume must find, or it would throw finished work away or continue on other inputs: a greater run; a
 * state.json that is a valid state (a run with recorded steps and no state would start again from step 1); the
 * task files and model files it began with, unchanged. Returns the task, loaded as the run loaded it.
 */
async function checkResumable(recorder: RunRecorder<RunConfig, RunState, unknown, RunResult>): Promise<Task> {
  const { config, dir } = recorder;
  if (config.format !== "greater-run") throw new Error(`${dir}/config.json: not a greater run (format ${JSON.stringify(config.format)})`);
  const state = recorder.loaded.state as unknown;
  const stepsRecorded = (recorder.loaded.events as Array<{ type?: unknown }>).filter((e) => e?.type === "step").length;
  if (state === null || state === undefined) {
    if (stepsRecorded > 0) {
      throw new Error(`${dir}/state.json is missing but events.jsonl records ${stepsRecorded} completed step(s): resuming would redo them. ` +
        "Restore state.json, or start a new run with --out.");
    }
  } else {
    const optimizer = (state as Partial<RunState>).optimizer;
    try {
      if (typeof state !== "object" || optimizer === undefined) throw new Error('it has no "optimizer" state');
      parseState(optimizer);
    } catch (error) {
      throw new Error(`${dir}/state.json is not a valid run state (${(error as Error).message}); the run cannot be resumed from it. ` +
        "Restore state.json, or start a new run with --out.");
    }
  }
  const task = loadTaskFrom(config.task);
  await checkSameInputs(config, task, " Restore what changed, or start a new run with --out.");
  return task;
}

/**
 * Refuses to continue a run on other inputs: a task file (as `task` was loaded now) or a model file whose content
 * differs from what config.json recorded when the run began. `advice` ends each message (how the caller's user
 * gets out of it).
 */
export async function checkSameInputs(config: RunConfig, task: Task, advice = ""): Promise<void> {
  const recordedFiles = new Map(config.taskDescription.split.files.map((f) => [f.path, f.sha256]));
  for (const file of task.split.files) {
    const recorded = recordedFiles.get(file.path);
    if (recorded !== undefined && recorded !== file.sha256) {
      throw new Error(`${file.path} changed since the run began (sha256 ${recorded.slice(0, 12)}… recorded, ${file.sha256.slice(0, 12)}… now): ` +
        `the run cannot continue on other examples.${advice}`);
    }
  }
  if (config.model.files === undefined) return;
  const changed = fingerprintChanges(config.model.files, await modelFingerprint(config.model.path));
  if (changed.length > 0) {
    throw new Error(`the model in ${config.model.path} changed since the run began (${changed.join(", ")}): the run cannot continue ` +
      `on another model.${advice}`);
  }
}

/** Runs (or continues, from the recorder's saved state) the run recorded by `recorder`, then closes it. */
export async function runRecorded(recorder: RunRecorder<RunConfig, RunState, unknown, RunResult>, task: Task, options: JobOptions): Promise<RunResult> {
  const started = Date.now();
  const config = recorder.config;
  const display = typeof options.display === "function" ? options.display(config.optimizer.steps) : options.display;
  const models = options.models ?? loadingModels;
  const hooks = options.hooks ?? {};
  const record = async (event: { type: string; [k: string]: unknown }) => {
    await recorder.appendEvent(event);
    await hooks.event?.(event);
  };
  const checkpoint = async (state: RunState, step: GreaterEvent | null) => {
    await recorder.saveState(state);
    await hooks.checkpoint?.(state, step);
  };
  const note = (event: { type: string; [k: string]: unknown }, line: string) => display.note(event, line);
  let model: LanguageModel | undefined;
  try {
    if (config.threads) setThreads(config.threads);
    note({ type: "loading", model: config.model.path }, `loading ${config.model.path} on ${config.model.device}`);
    model = await models.acquire(config.model.path, config.model.device, config.model.dtype);
    const tokenizer = await models.tokenizer(config.model.path);
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
        await record(event);
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
    if (!saved) await checkpoint({ optimizer: optimizer.state, initialAccuracy }, null);
    for await (const event of optimizer as AsyncIterable<GreaterEvent>) {
      display.event(event);
      // For a step: the event first, then the state. A crash between the two replays this step on resume,
      // and the resumed run's events then repeat it (readers keep the last record of each step).
      await record(event as never);
      if (event.type === "step") await checkpoint({ optimizer: optimizer.state, initialAccuracy }, event);
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
    if (model) models.release(model);
    await recorder.close();
  }
}
