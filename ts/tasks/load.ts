// One entry point from a task name (`bbh:navigate`, `gsm8k`, `folio`) or a file path to a Task.
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadBbhTask, loadFolioTask, loadGsm8kTask, type SplitOptions } from "./loaders.js";
import { findPreset } from "./presets.js";
import type { Task } from "./types.js";

/** Options of {@link loadTask}. */
export interface LoadTaskOptions extends SplitOptions {
  /**
   * Folder with the task files laid out as `bbh/<task>.csv` (or `.json`), `gsm8k/{train,test}.jsonl`,
   * `folio/{train,dev,test}.csv`. Default: $GREATER_DATA_DIR, else the copy of BBH, GSM8K and FOLIO that ships with the
   * package (`data/` in the package root; their licences are in `data/README.md`).
   */
  dataDir?: string;
  /** For `bbh:<task>`: the task's file, instead of looking in dataDir. */
  file?: string;
  /** For `gsm8k` / `folio`: the files, instead of looking in dataDir. */
  files?: { train: string; dev?: string; test: string };
}

/** The package's own data folder: this file sits two levels below the package root, as ts/tasks/ or dist/tasks/. */
export const SHIPPED_DATA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "data");

function defaultDataDir(): string {
  return process.env.GREATER_DATA_DIR ?? SHIPPED_DATA_DIR;
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * Loads a task by name or file:
 * - `bbh:<task>`: a BIG-Bench Hard task (the 21 of the paper have presets; others get an inferred format),
 *   from `options.file` or `<dataDir>/bbh/<task>.csv|.json`;
 * - `gsm8k`, `folio`: from `options.files` or `<dataDir>/gsm8k/`, `<dataDir>/folio/`;
 * - a path to a BBH-format file: its name decides the preset (`navigate.json` → `bbh:navigate`), else inferred.
 */
export function loadTask(spec: string, options: LoadTaskOptions = {}): Task {
  const dataDir = options.dataDir ?? defaultDataDir();
  if (spec.startsWith("bbh:")) {
    const taskName = spec.slice("bbh:".length);
    const candidates = options.file !== undefined ? [options.file] : ["csv", "json"].map((extension) => join(dataDir, "bbh", `${taskName}.${extension}`));
    const found = candidates.find(isFile);
    if (found === undefined) {
      throw new Error(`${spec}: no task file at ${candidates.join(" or ")}; pass { file } or { dataDir }`);
    }
    return loadBbhTask(found, { ...options, name: spec });
  }
  if (spec === "gsm8k") {
    const files = options.files ?? { train: join(dataDir, "gsm8k", "train.jsonl"), test: join(dataDir, "gsm8k", "test.jsonl") };
    return loadGsm8kTask({ train: files.train, test: files.test }, options);
  }
  if (spec === "folio") {
    const files = options.files ?? {
      train: join(dataDir, "folio", "train.csv"),
      dev: join(dataDir, "folio", "dev.csv"),
      test: join(dataDir, "folio", "test.csv"),
    };
    if (files.dev === undefined) throw new Error("folio: options.files needs train, dev and test");
    return loadFolioTask({ train: files.train, dev: files.dev, test: files.test }, options);
  }
  if (isFile(spec)) {
    const stem = spec.replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "");
    const presetName = `bbh:${stem}`;
    return loadBbhTask(spec, { ...options, name: findPreset(presetName) ? presetName : stem });
  }
  if (/[\\/]/.test(spec) || /\.(csv|jsonl?|txt)$/i.test(spec)) {
    throw new Error(`${spec}: no such task file (${existsSync(spec) ? "it is not a regular file" : "the path does not exist"})`);
  }
  throw new Error(`unknown task "${spec}": expected bbh:<task>, gsm8k, folio, or the path of a BIG-Bench Hard-format file`);
}
