#!/usr/bin/env node
// `npm run bench:soak`: does memory stay flat under long use? 1,000 greedy generations on one loaded model, then 100
// load/dispose cycles, with the process's resident memory (RSS) recorded at the start, the middle and the end of
// each phase. Writes bench/results/soak-<date>-<machine>.json and .md and prints the table. A bench records figures;
// it is not a test (test/bench/soak.test.ts runs its machinery with --quick).
// Options: --model DIR (default models/tiny-reasoner), --generations N, --cycles N, --quick (20 and 4),
// --machine NAME, --results-dir DIR.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, hostname } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { engineInfo, loadModel, loadTokenizer } from "../dist/index.js";
import { positiveFlagOrExit } from "./lib/options.mjs";

const root = resolve(import.meta.dirname, "..");
const { values } = parseArgs({
  options: {
    model: { type: "string" },
    generations: { type: "string" },
    cycles: { type: "string" },
    quick: { type: "boolean" },
    machine: { type: "string" },
    "results-dir": { type: "string" },
  },
});
const positive = (text, fallback, flag) => positiveFlagOrExit("bench:soak", flag, text, fallback);
const modelDir = resolve(values.model ?? join(root, "models", "tiny-reasoner"));
const generations = positive(values.generations, values.quick ? 20 : 1000, "--generations");
const cycles = positive(values.cycles, values.quick ? 4 : 100, "--cycles");
const machine = values.machine ?? hostname();
const resultsDir = resolve(values["results-dir"] ?? join(root, "bench", "results"));

const mib = () => Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;
const gc = () => globalThis.gc?.();

const tokenizer = await loadTokenizer(modelDir);
const prompts = ["What is the last digit of 3 + 8 + 5", "What is the last digit of 1 + 2 + 7 + 9", "What is the last digit of 4 + 4"].map((q) =>
  tokenizer.encode(tokenizer.renderUserTurn(`"${q}. Use" careful step by step.`)));

// Phase 1: generations on one model.
const started = Date.now();
let model = await loadModel(modelDir, { device: "cpu" });
// Warm-up calls first: the first generations allocate what every later one reuses (oneDNN's packed weights,
// allocator arenas); growth after them is what would accumulate.
for (let i = 0; i < 5; i++) await model.generate(prompts, { maxNewTokens: 40 });
gc();
const generation = { start: mib(), middle: 0, end: 0 };
let tokens = 0;
for (let i = 0; i < generations; i++) {
  const out = await model.generate(prompts, { maxNewTokens: 40 });
  tokens += out.tokens.reduce((sum, row) => sum + row.length, 0);
  if (i === Math.floor(generations / 2)) generation.middle = mib();
}
gc();
generation.end = mib();
model.dispose();
const generationSeconds = (Date.now() - started) / 1000;

// Phase 2: load/dispose cycles (one warm-up cycle first, as above).
model = await loadModel(modelDir, { device: "cpu" });
model.dispose();
gc();
const cycling = { start: mib(), middle: 0, end: 0 };
const cycleStarted = Date.now();
for (let i = 0; i < cycles; i++) {
  model = await loadModel(modelDir, { device: "cpu" });
  await model.generate([prompts[0]], { maxNewTokens: 4 });
  model.dispose();
  if (i === Math.floor(cycles / 2)) cycling.middle = mib();
}
gc();
cycling.end = mib();
const cycleSeconds = (Date.now() - cycleStarted) / 1000;

const date = new Date().toISOString().slice(0, 10);
const info = engineInfo();
const result = {
  machine,
  date,
  device: `cpu (${cpus()[0]?.model ?? "unknown"}, ${cpus().length} CPUs)`,
  libtorch: info.libtorchVersion,
  model: modelDir.replace(`${root}/`, ""),
  generations: { count: generations, rowsPerCall: prompts.length, tokens, seconds: generationSeconds, rssMiB: generation },
  loadDispose: { count: cycles, seconds: cycleSeconds, rssMiB: cycling },
  note: "RSS of the whole Node process (libtorch, the model, V8), sampled after 5 warm-up calls (one cycle for load/dispose), after half the calls and after the last (after a GC when node runs with --expose-gc).",
};
const growth = (r) => Math.round((r.end - r.start) * 10) / 10;
const table = [
  "| phase | calls | RSS start | middle | end | growth (MiB) | seconds |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  `| generate (${prompts.length} rows, up to 40 tokens) | ${generations} | ${generation.start} | ${generation.middle} | ${generation.end} | ${growth(generation)} | ${generationSeconds.toFixed(1)} |`,
  `| load, generate 4 tokens, dispose | ${cycles} | ${cycling.start} | ${cycling.middle} | ${cycling.end} | ${growth(cycling)} | ${cycleSeconds.toFixed(1)} |`,
].join("\n");
mkdirSync(resultsDir, { recursive: true });
const stem = `soak-${date}-${machine}${values.quick ? "-quick" : ""}`;
writeFileSync(join(resultsDir, `${stem}.json`), JSON.stringify(result, null, 2) + "\n");
writeFileSync(join(resultsDir, `${stem}.md`), `# Soak: ${machine}, ${date}\n\n${result.device}, libtorch ${result.libtorch}, ${result.model}\n\n${table}\n\n${result.note}\n`);
console.log(table);
