// `greater demo`: the README's main job. GReaTer on the shipped tiny reasoning model (models/tiny-reasoner/)
// and its synthetic task, from a plain neutral prompt, with the paper's method scaled to a 2-core CPU:
// fewer train examples, fewer steps, short reasoning. Ends with the before/after prompt, held-out test
// accuracy, the run folder and its plot.
import { join } from "node:path";
import type { GreaterConfig } from "../optimizer/config.js";
import { DEMO_MODEL_DIR, demoTaskFiles, readDemoTask } from "../tasks/demo-task.js";
import { plotRun } from "./plot.js";
import { chooseDisplayMode, displayIn } from "./progress.js";
import { startRun, type RunResult } from "../runs/run.js";

export interface DemoFlags {
  steps: number;
  trainSize: number;
  testSize?: number;
  seed: number;
  out?: string;
  threads?: number;
  json?: boolean;
}

/** The demo's result line (--json): the figures the README quotes, then the run's details. */
export interface DemoResultLine extends Omit<RunResult, "initialPrompt" | "bestPrompt"> {
  type: "result";
  /** Held-out test accuracy (0..1) of the initial and of the optimized prompt. */
  initialAccuracy: number;
  finalAccuracy: number;
  initialPrompt: string;
  finalPrompt: string;
  finalPromptIds: number[];
  plot: string;
}

export async function demoCommand(flags: DemoFlags, signal: AbortSignal): Promise<number> {
  const task = readDemoTask();
  const optimizer: Partial<GreaterConfig> = {
    initialPrompt: task.initialPrompt,
    steps: flags.steps,
    seed: flags.seed,
    maxNewTokens: task.maxNewTokens,
  };
  const out = flags.out ?? join("runs", `demo-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  const result = await startRun(out, {
    model: { path: DEMO_MODEL_DIR, device: "cpu" },
    task: {
      spec: "custom",
      splitSeed: 0,
      sizes: { train: flags.trainSize, test: flags.testSize },
      custom: {
        name: task.name,
        extractor: task.extractor,
        ...demoTaskFiles(),
      },
    },
    optimizer,
    evaluation: { splits: ["test"], maxNewTokens: task.maxNewTokens },
    threads: flags.threads,
  }, { display: displayIn(chooseDisplayMode(flags.json)), signal, overwrite: flags.out !== undefined });
  const plot = await plotRun(result.runDir);
  const initialAccuracy = result.accuracy.initial.test ?? NaN;
  const finalAccuracy = result.accuracy.best.test ?? NaN;
  if (flags.json) {
    const { initialPrompt, bestPrompt, ...rest } = result;
    const line: DemoResultLine = {
      type: "result",
      initialAccuracy,
      finalAccuracy,
      initialPrompt: initialPrompt.text,
      finalPrompt: bestPrompt.text,
      finalPromptIds: bestPrompt.ids,
      plot: plot.png,
      ...rest,
    };
    process.stdout.write(JSON.stringify(line) + "\n");
  } else {
    const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
    console.log(`\nGReaTer on the tiny reasoning model (${result.stepsDone} steps, ${result.seconds.toFixed(0)} s)`);
    console.log(`  before: ${JSON.stringify(result.initialPrompt.text)}  test accuracy ${pct(initialAccuracy)}`);
    console.log(`  after:  ${JSON.stringify(result.bestPrompt.text)}  test accuracy ${pct(finalAccuracy)}`);
    console.log(`  run folder: ${result.runDir}\n  plot: ${plot.png}`);
  }
  return 0;
}
