// Loads the native addon: the binary that fits the user's libtorch, chosen by scripts/binary-choice.mjs
// (shared with the install script). Candidates are probed in a child process first, so a binary that does
// not fit (another libtorch, missing CUDA libraries, a crash in a static initialiser) never takes this
// process down; when none fits, the error is a checklist of what was found, what was needed and the
// commands that fix it. The chosen libtorch's libraries are preloaded by absolute path, because a prebuilt
// binary cannot know where the user's libtorch lives.
// When no binary fits a libtorch that was found (the user changed torch after installing), the loader runs
// the install step once, as node-llama-cpp does: fetch the variant made for that libtorch, else build from
// source with cmake-js. GREATER_NO_BUILD=1 refuses, and the checklist is thrown instead.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  chooseBinary,
  describeFound,
  libtorchLoadFailure,
  noFitMessage,
  readBinaryRecord as readRecordBesideBinary,
  type BinaryRecord,
  type Choice,
} from "../../scripts/binary-choice.mjs";
import type { Libtorch } from "../../scripts/find-libtorch.mjs";
import { preloadLibtorch } from "../../scripts/libtorch-preload.mjs";
import { applyEnvironmentSettings } from "./settings.js";

export type { BinaryRecord } from "../../scripts/binary-choice.mjs";

const require = createRequire(import.meta.url);

/** The package root (the folder holding package.json), whether running from ts/ or dist/. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The raw N-API surface. Typed wrappers live in the files that use them. */
/** What the addon itself reports; engineInfo() (ts/engine/info.ts) adds what the loader knows. */
export interface NativeEngineInfo {
  /** libtorch version the addon was compiled against, e.g. "2.13.0". */
  libtorchVersion: string;
  /** "cpu" or "cuda": which variant of the addon is loaded. */
  variant: "cpu" | "cuda";
  /** The addon was built against a CUDA libtorch. */
  cudaCompiled: boolean;
  /** A CUDA device can be used now. */
  cudaAvailable: boolean;
  /** Usable devices: "cpu", then "cuda:0", "cuda:1", ... */
  devices: string[];
  /** Intra-op CPU threads libtorch uses. */
  threads: number;
}

export interface NativeBinding {
  engineInfo(): NativeEngineInfo;
  setThreads(threads: number): void;
  setEngineSettings(settings: Record<string, number | string | undefined>): void;
  matmulChecksum(size: number, seed?: number): Promise<number>;
  [name: string]: unknown;
}

/** Which binary was loaded, with which libtorch, and why the others were passed over (`greater info`). */
export interface BinaryChoice {
  path: string;
  /** In words: "platform package @greater/linux-x64-cpu-torch2.13", "local source build (build/Release)", ... */
  origin: string;
  /** What the binary's libtorch.json says it needs. */
  record?: BinaryRecord;
  /** The libtorch it runs with (null only for GREATER_BINARY without any libtorch found). */
  libtorch: Pick<Libtorch, "version" | "root" | "source" | "cuda" | "cudaVersion"> | null;
  /** Every candidate looked at, in order, with its outcome. */
  considered: { path: string; origin: string; outcome: string }[];
}

let loaded: { binding: NativeBinding; path: string; choice: BinaryChoice } | undefined;

export function loadBinding(): NativeBinding {
  return loadBindingWithPath().binding;
}

/** Loads (once per process) the binary that fits, and says which it is. Throws the checklist when none fits. */
export function loadBindingWithPath(): { binding: NativeBinding; path: string } {
  if (loaded) return loaded;
  let choice = chooseBinary({ packageRoot });
  if (!choice.chosen && installNow(choice)) choice = chooseBinary({ packageRoot });
  const { chosen } = choice;
  if (!chosen) throw new Error(noFitMessage(choice, { packageRoot }));
  let result: { binding: NativeBinding; path: string; choice: BinaryChoice };
  try {
    if (chosen.libtorch) preloadLibtorch(chosen.path, chosen.libtorch.libDir);
    const binding = require(chosen.path) as NativeBinding;
    const libtorch = chosen.libtorch
      ? { version: chosen.libtorch.version, root: chosen.libtorch.root, source: chosen.libtorch.source, cuda: chosen.libtorch.cuda, cudaVersion: chosen.libtorch.cudaVersion }
      : null;
    const considered = choice.considered.map(({ path, origin, outcome }) => ({ path, origin, outcome }));
    result = { binding, path: chosen.path, choice: { path: chosen.path, origin: chosen.origin, record: chosen.record, libtorch, considered } };
  } catch (e) {
    // The probe loaded it in a child process; failing here means the machine changed in between.
    throw new Error(
      `greater: ${chosen.path} passed its probe but failed to load in this process: ${(e as Error).message}\n` +
        "Run again with GREATER_REPROBE=1 to probe afresh.",
    );
  }
  // The environment's GREATER_* tuning variables, once, at load (ts/engine/settings.ts has the API); a wrong one
  // fails every load, naming the variable.
  applyEnvironmentSettings(result.binding);
  loaded = result;
  return loaded;
}

/**
 * Runs scripts/install.mjs (fetch the fitting variant, else build from source) synchronously: loading is
 * synchronous, and this happens once, after which the new binary's probe verdict is cached. Not attempted
 * under GREATER_NO_BUILD=1, for a binary pinned with GREATER_BINARY, or without a libtorch to build against
 * (downloading one is left to an explicit `npm rebuild`). Its output goes to stderr, keeping stdout clean.
 */
function installNow(choice: Choice): boolean {
  if (process.env.GREATER_NO_BUILD === "1" || process.env.GREATER_BINARY || !choice.libtorch) return false;
  if (libtorchLoadFailure(choice)) return false; // the libtorch itself does not load: a build cannot help
  console.error(`greater: no binary fits ${describeFound(choice.libtorch)}; fetching or building one now (GREATER_NO_BUILD=1 refuses)`);
  const run = spawnSync(process.execPath, [join(packageRoot, "scripts", "install.mjs")], { stdio: ["ignore", 2, 2] });
  return run.status === 0;
}

/** The choice behind the loaded binary (loading it if needed). */
export function binaryChoice(): BinaryChoice {
  loadBindingWithPath();
  return loaded!.choice;
}

/** Reads the libtorch.json written beside a binary at build time, if any. */
export function readBinaryRecord(binaryPath: string): BinaryRecord | undefined {
  return readRecordBesideBinary(binaryPath);
}
