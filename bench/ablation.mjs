#!/usr/bin/env node
// `npm run bench:ablation`: the paper's ablation in miniature, on the shipped tiny reasoning model.
// GReaTer against the same loop with the gradient taken without reasoning (`reasoning: false`) and with
// the re-scored candidates drawn at random (`ranking: "random"`), same seeds, same budget, from the same
// neutral prompt. Reports mean and spread of the held-out test accuracy of each run's best prompt, and
// writes bench/results/ablation-<date>-<machine>.json. A bench, not a test: CI does not run it.
import { mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { evaluate, loadCustomTask, loadModel, loadTokenizer, optimize, setThreads } from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const modelDir = join(here, "..", "models", "tiny-reasoner");
const args = process.argv.slice(2);
const seeds = Number(args[args.indexOf("--seeds") + 1] ?? 5) || 5;
const steps = Number(args[args.indexOf("--steps") + 1] ?? 6) || 6;
const trainSize = 16;
const taskSpec = JSON.parse((await import("node:fs")).readFileSync(join(modelDir, "task", "task.json"), "utf8"));

setThreads(2);
const model = await loadModel(modelDir);
const tokenizer = await loadTokenizer(modelDir);
const variants = [
  { name: "GReaTer", config: {} },
  { name: "no reasoning in the gradient", config: { reasoning: false } },
  { name: "random ranking", config: { ranking: "random" } },
];

const runs = [];
for (let seed = 0; seed < seeds; seed++) {
  // The split seed changes too, so each seed sees other train examples.
  const task = loadCustomTask({
    name: taskSpec.name,
    files: { train: join(modelDir, "task", "train.jsonl"), dev: join(modelDir, "task", "dev.jsonl"), test: join(modelDir, "task", "test.jsonl") },
    extractor: taskSpec.extractor,
    seed,
    sizes: { train: trainSize },
  });
  for (const variant of variants) {
    const started = Date.now();
    const result = await optimize(model, tokenizer, task, {
      initialPrompt: taskSpec.initialPrompt,
      maxNewTokens: taskSpec.maxNewTokens,
      steps,
      seed,
      ...variant.config,
    }, { evaluate: false });
    const test = await evaluate(model, tokenizer, task, result.bestPrompt.ids, "test", { maxNewTokens: taskSpec.maxNewTokens });
    const run = { variant: variant.name, seed, steps: result.stepsDone, bestPrompt: result.bestPrompt.text, trainLoss: result.trainLoss, testAccuracy: test.accuracy, seconds: (Date.now() - started) / 1000 };
    runs.push(run);
    console.error(`${variant.name.padEnd(30)} seed ${seed}: ${JSON.stringify(run.bestPrompt)} test ${(run.testAccuracy * 100).toFixed(1)}% (${run.steps} steps, ${run.seconds.toFixed(1)} s)`);
  }
}
const initial = await evaluate(model, tokenizer, loadCustomTask({
  name: taskSpec.name,
  files: { train: join(modelDir, "task", "train.jsonl"), dev: join(modelDir, "task", "dev.jsonl"), test: join(modelDir, "task", "test.jsonl") },
  extractor: taskSpec.extractor,
}), tokenizer.encode(taskSpec.initialPrompt), "test", { maxNewTokens: taskSpec.maxNewTokens });
model.dispose();

const summary = variants.map(({ name }) => {
  const accs = runs.filter((r) => r.variant === name).map((r) => r.testAccuracy);
  const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
  const sd = Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, accs.length - 1));
  return { variant: name, runs: accs.length, meanTestAccuracy: mean, sdTestAccuracy: sd, min: Math.min(...accs), max: Math.max(...accs) };
});
const date = new Date().toISOString().slice(0, 10);
const machine = process.env.GREATER_BENCH_MACHINE ?? hostname();
const out = { machine, date, model: "models/tiny-reasoner", initialPrompt: taskSpec.initialPrompt, initialTestAccuracy: initial.accuracy, seeds, stepsBudget: steps, trainSize, summary, runs };
mkdirSync(join(here, "results"), { recursive: true });
const file = join(here, "results", `ablation-${date}-${machine}.json`);
writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
console.log(`initial prompt ${JSON.stringify(taskSpec.initialPrompt)}: test ${(initial.accuracy * 100).toFixed(1)}%`);
console.log("| variant | runs | mean test accuracy | sd | min | max |\n| --- | --- | --- | --- | --- | --- |");
for (const s of summary) console.log(`| ${s.variant} | ${s.runs} | ${(s.meanTestAccuracy * 100).toFixed(1)}% | ${(s.sdTestAccuracy * 100).toFixed(1)} | ${(s.min * 100).toFixed(1)}% | ${(s.max * 100).toFixed(1)}% |`);
console.log(`written to ${file}`);
