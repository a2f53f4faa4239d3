// `greater optimize`: a GReaTer run on a model folder and a task, recorded in a run folder.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseJobSpec, runInputs } from "../jobs/spec.js";
import type { GreaterConfig } from "../optimizer/config.js";
import { resumeRun, splitSizes, startRun, type RunInputs, type RunResult, type TaskSource } from "../runs/run.js";
import type { SplitName } from "../tasks/types.js";
import { chooseDisplayMode, displayIn } from "./progress.js";

/** The flags that say what a run does, shared by `greater optimize` and `greater sweep`. */
export interface RunFlags {
  data?: string;
  steps?: number;
  init?: string;
  seed: number;
  splitSeed: number;
  trainSize?: number;
  devSize?: number;
  testSize?: number;
  maxNewTokens?: number;
  evalSplits: string;
  evalLimit?: number;
  out?: string;
  json?: boolean;
}

export interface OptimizeFlags extends RunFlags {
  model?: string;
  task?: string;
  device: string;
  dtype?: string;
  resume?: string;
  spec?: string;
  topK?: number;
  threads?: number;
  overwrite?: boolean;
}

export function parseSplits(text: string): SplitName[] {
  const splits = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of splits) if (s !== "train" && s !== "dev" && s !== "test") throw new Error(`--eval-splits: unknown split "${s}" (use train, dev, test, comma-separated)`);
  return splits as SplitName[];
}

/** Prints the end of a run for people (stderr) and, with --json, the result line for machines (stdout). */
export function reportResult(result: RunResult, json: boolean | undefined): void {
  if (json) {
    process.stdout.write(JSON.stringify({ type: "result", ...result }) + "\n");
    return;
  }
  const pct = (v: number | undefined) => (v === undefined ? "-" : `${(v * 100).toFixed(1)}%`);
  const splits = [...new Set([...Object.keys(result.accuracy.initial), ...Object.keys(result.accuracy.best)])] as SplitName[];
  console.error(`\nbefore: ${JSON.stringify(result.initialPrompt.text)}`);
  console.error(`after:  ${JSON.stringify(result.bestPrompt.text)}  (train loss ${result.trainLoss.toFixed(3)}, step ${result.bestStep + 1} of ${result.stepsDone})`);
  for (const split of splits) console.error(`${split} accuracy: ${pct(result.accuracy.initial[split])} -> ${pct(result.accuracy.best[split])}`);
  console.error(`run folder: ${result.runDir} (${result.seconds.toFixed(0)} s); plot it with: greater plot ${result.runDir}`);
}

/** A job spec file (the JSON a queue takes) as the inputs of a run here, exactly as a worker would build them. */
export function inputsFromSpecFile(path: string): RunInputs {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`--spec ${path}: ${(error as Error).message}`);
  }
  let spec;
  try {
    spec = parseJobSpec(value);
  } catch (error) {
    throw new Error(`--spec ${path}: ${(error as Error).message}`);
  }
  if (spec.kind !== "optimize") throw new Error(`--spec ${path}: "kind" is ${JSON.stringify(spec.kind)}; greater optimize runs "optimize" jobs`);
  return runInputs(spec);
}

export async function optimizeCommand(flags: OptimizeFlags, signal: AbortSignal): Promise<number> {
  const display = displayIn(chooseDisplayMode(flags.json));
  let result: RunResult;
  if (flags.spec) {
    // The spec decides model, task and settings; only where the run goes and how it is shown come from flags.
    const fixed = (["model", "task", "data", "steps", "init", "dtype", "trainSize", "devSize", "testSize", "maxNewTokens", "topK", "evalLimit", "resume"] as const)
      .filter((name) => flags[name] !== undefined)
      .map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    if (fixed.length > 0) throw new Error(`${fixed.join(", ")} cannot be given with --spec: the spec file says them`);
    const inputs = inputsFromSpecFile(flags.spec);
    inputs.model.device = flags.device === "cpu" ? inputs.model.device : flags.device;
    inputs.threads = flags.threads;
    const out = flags.out ?? join("runs", `spec-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    result = await startRun(out, inputs, { display, signal, overwrite: flags.overwrite });
  } else if (flags.resume) {
    // A resumed run continues exactly as config.json records it: a flag that would change it is refused, not ignored.
    const fixed = (["model", "task", "data", "steps", "init", "out", "dtype", "trainSize", "devSize", "testSize", "maxNewTokens", "topK", "evalLimit"] as const)
      .filter((name) => flags[name] !== undefined)
      .map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    if (fixed.length > 0) {
      throw new Error(`${fixed.join(", ")} cannot be given with --resume: the run continues with the model, task and settings its ` +
        "config.json records. Start a new run (--out) to change them.");
    }
    result = await resumeRun(flags.resume, { display, signal });
  } else {
    if (!flags.model) throw new Error("--model DIR is required (or --resume RUN)");
    if (!flags.task) throw new Error("--task is required, e.g. --task bbh:navigate (or --resume RUN)");
    const task: TaskSource = {
      spec: flags.task,
      data: flags.data,
      splitSeed: flags.splitSeed,
      sizes: splitSizes(flags),
    };
    const optimizer: Partial<GreaterConfig> = {
      seed: flags.seed,
      ...(flags.steps !== undefined ? { steps: flags.steps } : {}),
      ...(flags.init !== undefined ? { initialPrompt: flags.init } : {}),
      ...(flags.maxNewTokens !== undefined ? { maxNewTokens: flags.maxNewTokens } : {}),
      ...(flags.topK !== undefined ? { topK: flags.topK } : {}),
    };
    const out = flags.out ?? join("runs", `${flags.task.replace(/[^A-Za-z0-9_-]+/g, "-")}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    result = await startRun(
      out,
      {
        model: { path: flags.model, device: flags.device, dtype: flags.dtype },
        task,
        optimizer,
        evaluation: { splits: parseSplits(flags.evalSplits), maxNewTokens: flags.maxNewTokens ?? 512, limit: flags.evalLimit },
        threads: flags.threads,
      },
      { display, signal, overwrite: flags.overwrite },
    );
  }
  reportResult(result, flags.json);
  return 0;
}
