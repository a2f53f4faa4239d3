// The shipped tiny reasoning model's own task (models/tiny-reasoner/task/): what `greater demo` runs and what the
// dashboard's form submits.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../engine/binding.js";

/** What the shipped model's folder says about its task (written by tools/tiny_reasoner/train.py). */
export interface DemoTaskFile {
  name: string;
  extractor: string;
  /** A plain, neutral prompt to start from. */
  initialPrompt: string;
  /** Reasoning never needs more than this many tokens. */
  maxNewTokens: number;
}

export const DEMO_MODEL_DIR = join(packageRoot, "models", "tiny-reasoner");

export function readDemoTask(modelDir = DEMO_MODEL_DIR): DemoTaskFile {
  const file = join(modelDir, "task", "task.json");
  let parsed: Partial<DemoTaskFile>;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<DemoTaskFile>;
  } catch (e) {
    throw new Error(`${file}: cannot read the demo task (${(e as Error).message})`);
  }
  for (const field of ["name", "extractor", "initialPrompt"] as const) {
    if (typeof parsed[field] !== "string") throw new Error(`${file}: field "${field}" must be a string`);
  }
  if (typeof parsed.maxNewTokens !== "number") throw new Error(`${file}: field "maxNewTokens" must be a number`);
  return parsed as DemoTaskFile;
}

/** The split files of the demo task: JSON lines of `question` and `answer`. */
export function demoTaskFiles(modelDir = DEMO_MODEL_DIR): { train: string; dev: string; test: string } {
  return { train: join(modelDir, "task", "train.jsonl"), dev: join(modelDir, "task", "dev.jsonl"), test: join(modelDir, "task", "test.jsonl") };
}
