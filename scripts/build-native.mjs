#!/usr/bin/env node
// Builds the addon from source with cmake-js against the discovered libtorch, and records which
// libtorch the binary needs (build/Release/libtorch.json) so that load errors can name it.
// Flags: --cpu-only (or GREATER_CPU_ONLY=1) forces the CPU variant; --debug builds with symbols;
// --out DIR builds in DIR instead of build/ (e.g. one folder per variant).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { makeBinaryRecord } from "./binary-choice.mjs";
import { ensureLibtorch } from "./ensure-libtorch.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const cpuOnly = args.includes("--cpu-only") || process.env.GREATER_CPU_ONLY === "1";
const debug = args.includes("--debug");
const outIndex = args.indexOf("--out");
const outDir = outIndex >= 0 ? resolve(args[outIndex + 1]) : join(root, "build");

const libtorch = ensureLibtorch();
console.error(`greater: building against libtorch ${libtorch.version} (${libtorch.source}: ${libtorch.root})`);
const cmakeJs = createRequire(import.meta.url).resolve("cmake-js/bin/cmake-js");
const started = Date.now();
execFileSync(process.execPath, [cmakeJs, "compile", "--out", outDir, ...(debug ? ["--debug"] : []),
  `--CDLIBTORCH_ROOT=${libtorch.root}`, `--CDGREATER_CPU_ONLY=${cpuOnly ? "ON" : "OFF"}`,
  ...(process.env.CMAKE_BUILD_PARALLEL_LEVEL ? [] : ["--parallel", "2"])],
  { cwd: root, stdio: "inherit" });
const variant = libtorch.cuda && !cpuOnly && hasNvcc() ? "cuda" : "cpu";
writeFileSync(join(outDir, debug ? "Debug" : "Release", "libtorch.json"), JSON.stringify(makeBinaryRecord(libtorch, variant), null, 2) + "\n");
console.error(`greater: built the ${variant} addon in ${((Date.now() - started) / 1000).toFixed(0)} s`);

function hasNvcc() {
  try { execFileSync("nvcc", ["--version"], { stdio: "ignore" }); return true; } catch { return false; }
}
