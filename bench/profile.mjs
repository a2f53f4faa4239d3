#!/usr/bin/env node
// Where greedy generation's time goes: runs `generate` at a few batch sizes under the engine's profiler
// (the engine's profileDir setting, native/engine/profiling.h) and prints the top of each summary. Made for short GPU
// leases (scripts/gpu-check.sh runs it on the 1B model), useful on the CPU too.
//
//   node bench/profile.mjs [--profile gpu-1b] [--model DIR] [--device DEV] [--batches 1,50] [--prompt-tokens 100]
//                          [--tokens 16] [--threads N] [--out DIR]
//
// The prompts are pseudo-random token ids (no tokenizer needed), distinct per row. Each profile's trace and summary
// go to --out (default bench/.work/profiles), named <pid>-<n>-generate.{json,txt}.
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadModel, setThreads } from "../dist/index.js";
import { setEngineSettings } from "../dist/engine/index.js";
import { ensureModel } from "./lib/model.mjs";
import { PROFILES, positiveInteger } from "./lib/options.mjs";

const USAGE = `usage: node bench/profile.mjs [--profile NAME] [--model DIR] [--device DEV] [--batches 1,50]
                              [--prompt-tokens N] [--tokens N] [--threads N] [--out DIR]

  --profile NAME       a bench model profile (${Object.keys(PROFILES).join(", ")}; default gpu-1b), generated when absent
  --model DIR          profile this model folder instead (its device: --device, default cpu)
  --device DEV         device (default: the profile's)
  --batches LIST       batch sizes, one profiled generate each (default 1,50)
  --prompt-tokens N    prompt length (default 100)
  --tokens N           new tokens per row (default 16)
  --threads N          CPU threads (default 2)
  --out DIR            where traces and summaries go (default bench/.work/profiles)`;

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let values;
try {
  ({ values } = parseArgs({
    options: {
      profile: { type: "string", default: "gpu-1b" },
      model: { type: "string" },
      device: { type: "string" },
      batches: { type: "string", default: "1,50" },
      "prompt-tokens": { type: "string", default: "100" },
      tokens: { type: "string", default: "16" },
      threads: { type: "string", default: "2" },
      out: { type: "string", default: join(root, "bench", ".work", "profiles") },
      help: { type: "boolean", short: "h" },
    },
  }));
} catch (e) {
  fail(e.message);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const positive = (name) => {
  try {
    return positiveInteger(`--${name}`, values[name]);
  } catch (e) {
    fail(e.message);
  }
};
const batches = values.batches.split(",").map((text) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`--batches must list whole numbers >= 1, got ${JSON.stringify(values.batches)}`);
  return n;
});
const promptTokens = positive("prompt-tokens");
const newTokens = positive("tokens");
setThreads(positive("threads"));

let modelDir = values.model;
let device = values.device ?? "cpu";
let dtype;
if (!modelDir) {
  const profile = PROFILES[values.profile];
  if (!profile) fail(`--profile must be one of ${Object.keys(PROFILES).join(", ")}, got ${JSON.stringify(values.profile)}`);
  modelDir = ensureModel(profile, { root, workDir: join(root, "bench", ".work"), log: (line) => console.log(line) });
  device = values.device ?? profile.device;
  dtype = profile.dtype;
}
const out = resolve(values.out);
mkdirSync(out, { recursive: true });

const model = await loadModel(modelDir, { device, dtype });
const vocab = model.info.vocabSize;
const prompt = (row) => Array.from({ length: promptTokens }, (_, j) => (row * 7919 + j * 104729 + 13) % vocab);
console.log(`profiling generate on ${modelDir} (${model.info.device}, ${model.info.dtype}): prompts of ${promptTokens} tokens, ${newTokens} new tokens per row`);
await model.generate([prompt(0)], { maxNewTokens: 2, ignoreEos: true }); // warm-up, not profiled

for (const batch of batches) {
  const before = new Set(readdirSync(out));
  setEngineSettings({ profileDir: out });
  const start = performance.now();
  try {
    await model.generate(Array.from({ length: batch }, (_, row) => prompt(row)), { maxNewTokens: newTokens, ignoreEos: true });
  } finally {
    setEngineSettings({ profileDir: undefined });
  }
  const ms = performance.now() - start;
  const summary = readdirSync(out).find((name) => !before.has(name) && name.endsWith("-generate.txt"));
  if (!summary) fail(`no profile summary was written to ${out} (see the engine's message above)`);
  console.log(`\n== batch ${batch}: ${ms.toFixed(0)} ms, ${(ms / newTokens).toFixed(1)} ms per new token (prefill included); ${join(out, summary)}`);
  console.log(tableTops(readFileSync(join(out, summary), "utf8"), 15));
}
model.dispose();

/** The summary with each table cut to its column header and first `rows` rows. */
function tableTops(text, rows) {
  let tableLines = 0;
  const kept = text.split("\n").filter((line) => {
    if (!/^\s/.test(line)) {
      tableLines = 0; // a title, the wall line or a blank line
      return true;
    }
    return ++tableLines <= rows + 1;
  });
  return kept.join("\n").trimEnd();
}

function fail(message) {
  console.error(`bench/profile.mjs: ${message}\n\n${USAGE}`);
  process.exit(2);
}
