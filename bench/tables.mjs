#!/usr/bin/env node
// `npm run bench:tables`: the paper's tables in miniature, on the two suite models the project trains
// (models/suite-llama, models/suite-qwen2) and the five synthetic BBH-shaped task families of bench/suite/.
// For each model, family and seed: GReaTer, random search with GReaTer's number of regenerated-reasoning
// evaluations, GCG-style search without reasoning and GReaTer without fluency, each from the suite's initial
// prompt; every prompt is scored on the family's held-out test file. Then GReaTer's prompts move from each model
// to the other. Writes bench/results/tables-<date>.json and .md and the README's tables (between its markers).
// A bench, not a test: CI runs only its --quick form (test/bench/tables-bench.test.ts).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { evaluate, loadCustomTask, loadModel, loadTokenizer, setThreads } from "../dist/index.js";
import { evaluateText } from "../dist/tasks/index.js";
import { initialPrompt, METHOD_LABELS, METHODS, runMethod } from "../dist/optimizer/index.js";
import { editDistance, markdown, spliceReadme, summarise } from "./lib/tables.mjs";
import { positiveInteger } from "./lib/options.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const USAGE = `usage: npm run bench:tables -- [options]

  --models a,b        model folders under models/ (default: suite-llama,suite-qwen2)
  --families a,b      task families of bench/suite/ (default: all five)
  --seeds N           seeds 0..N-1 (default: 5)
  --steps N           steps per search (default: 6)
  --train N           train examples per search, drawn per seed from the family's train file (default: 16)
  --threads N         CPU threads (default: 2)
  --results-dir DIR   where tables-<date>.json and .md go (default: bench/results)
  --no-readme         leave README.md alone (the default writes its tables between the bench's markers)
  --machine NAME      machine name in the results (default: $GREATER_BENCH_MACHINE, else the host name)
  -h, --help          this text`;

function options() {
  const { values } = parseArgs({
    options: {
      models: { type: "string", default: "suite-llama,suite-qwen2" },
      families: { type: "string" },
      seeds: { type: "string", default: "5" },
      steps: { type: "string", default: "6" },
      train: { type: "string", default: "16" },
      threads: { type: "string", default: "2" },
      "results-dir": { type: "string" },
      "no-readme": { type: "boolean", default: false },
      machine: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const suite = JSON.parse(readFileSync(join(root, "bench", "suite", "suite.json"), "utf8"));
  const families = values.families?.split(",") ?? Object.keys(suite.families);
  for (const family of families) {
    if (!suite.families[family]) throw new Error(`--families: unknown family "${family}" (bench/suite/suite.json has ${Object.keys(suite.families).join(", ")})`);
  }
  const models = values.models.split(",");
  for (const model of models) {
    if (!existsSync(join(root, "models", model, "config.json"))) throw new Error(`--models: models/${model}/config.json does not exist`);
  }
  return {
    suite,
    families,
    models,
    seeds: positiveInteger("--seeds", values.seeds),
    steps: positiveInteger("--steps", values.steps),
    trainSize: positiveInteger("--train", values.train),
    threads: positiveInteger("--threads", values.threads),
    resultsDir: resolve(values["results-dir"] ?? join(root, "bench", "results")),
    readme: !values["no-readme"],
    machine: values.machine ?? process.env.GREATER_BENCH_MACHINE ?? hostname(),
  };
}

const tasks = new Map();

/** The family's task for a seed, loaded once and shared by every model and the transfer. */
function familyTask(suite, family, seed, trainSize) {
  const key = `${family}:${seed}`;
  if (!tasks.has(key)) tasks.set(key, loadFamilyTask(suite, family, seed, trainSize));
  return tasks.get(key);
}

function loadFamilyTask(suite, family, seed, trainSize) {
  const dir = join(root, "bench", "suite", family);
  return loadCustomTask({
    name: `suite:${family}`,
    files: { train: join(dir, "train.json"), dev: join(dir, "dev.json"), test: join(dir, "test.json") },
    extractor: suite.extractor,
    format: { kind: "text" },
    seed,
    sizes: { train: trainSize },
  });
}

/** What the results keep of an evaluation. */
function score(test) {
  return { accuracy: test.accuracy, correct: test.correct, total: test.total };
}

function log(line) {
  console.error(line);
}

async function main() {
  let opts;
  try {
    opts = options();
  } catch (error) {
    console.error(`bench:tables: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  const { suite, families, models, steps, trainSize } = opts;
  const seeds = Array.from({ length: opts.seeds }, (_, i) => i);
  const methods = [...METHODS];
  setThreads(opts.threads);
  const started = Date.now();

  const loaded = {};
  for (const name of models) {
    const dir = join(root, "models", name);
    loaded[name] = { model: await loadModel(dir), tokenizer: await loadTokenizer(dir), training: JSON.parse(readFileSync(join(dir, "training.json"), "utf8")) };
  }
  const baseConfig = { initialPrompt: suite.initialPrompt, maxNewTokens: suite.maxNewTokens, steps };
  const evalOptions = { maxNewTokens: suite.maxNewTokens };
  const runs = [];
  for (const name of models) {
    const { model, tokenizer } = loaded[name];
    for (const family of families) {
      const initialIds = initialPrompt(tokenizer, baseConfig).ids;
      let initialTest = null;
      for (const seed of seeds) {
        const task = familyTask(suite, family, seed, trainSize);
        if (initialTest === null) {
          // The initial prompt does not depend on the seed (the test file is used whole): scored once.
          const test = await evaluate(model, tokenizer, task, initialIds, "test", evalOptions);
          initialTest = score(test);
        }
        runs.push({ model: name, family, seed, method: "initial-prompt", prompt: suite.initialPrompt, promptIds: initialIds, editsFromInitial: 0, steps: 0, evaluations: 0, seconds: 0, test: initialTest });
        let budget;
        for (const method of methods.slice(1)) {
          const run = await runMethod(method, model, tokenizer, task, { ...baseConfig, seed }, {
            evaluate: false,
            evaluationBudget: method === "random-search" ? budget : undefined,
          });
          if (method === "greater") budget = run.evaluations;
          const evalStarted = performance.now();
          const test = await evaluate(model, tokenizer, task, run.prompt.ids, "test", evalOptions);
          const record = {
            model: name,
            family,
            seed,
            method,
            prompt: run.prompt.text,
            promptIds: run.prompt.ids,
            editsFromInitial: editDistance(initialIds, run.prompt.ids),
            trainLoss: run.result.trainLoss,
            steps: run.result.stepsDone,
            stopReason: run.result.stopReason,
            evaluations: run.evaluations,
            seconds: run.seconds,
            testSeconds: (performance.now() - evalStarted) / 1000,
            test: score(test),
          };
          runs.push(record);
          log(`${name} ${family} seed ${seed} ${METHOD_LABELS[method].padEnd(26)} ${JSON.stringify(record.prompt).padEnd(44)} test ${(100 * test.accuracy).toFixed(1)}% (${record.steps} steps, ${record.evaluations} evaluations, ${record.seconds.toFixed(1)} s)`);
        }
      }
    }
  }

  const transfers = [];
  for (const from of models) {
    for (const to of models) {
      if (from === to) continue;
      const { model, tokenizer } = loaded[to];
      for (const family of families) {
        for (const seed of seeds) {
          const source = runs.find((r) => r.model === from && r.family === family && r.seed === seed && r.method === "greater");
          const task = familyTask(suite, family, seed, trainSize);
          // By text, encoded with the target's tokenizer, as a user would carry a prompt over.
          const test = await evaluateText(model, tokenizer, task, source.prompt, "test", evalOptions);
          transfers.push({ from, to, family, seed, prompt: source.prompt, test: score(test) });
          log(`transfer ${from} → ${to} ${family} seed ${seed} ${JSON.stringify(source.prompt)} test ${(100 * test.accuracy).toFixed(1)}%`);
        }
      }
    }
  }
  for (const { model } of Object.values(loaded)) model.dispose();

  const date = new Date().toISOString().slice(0, 10);
  const results = {
    machine: opts.machine,
    date,
    totalSeconds: (Date.now() - started) / 1000,
    threads: opts.threads,
    models,
    modelFiles: Object.fromEntries(models.map((m) => [m, { arch: loaded[m].training.arch, parameters: loaded[m].training.parameters, sha256: loaded[m].training.sha256 }])),
    suite: { dataSeed: suite.dataSeed, initialPrompt: suite.initialPrompt, extractor: suite.extractor },
    families,
    seeds,
    steps,
    trainSize,
    testSize: runs[0]?.test.total ?? 0,
    methods,
    labels: Object.fromEntries(methods.map((m) => [m, METHOD_LABELS[m]])),
    runs,
    transfers,
  };
  results.summary = summarise(results);
  const tables = markdown(results, results.summary);
  mkdirSync(opts.resultsDir, { recursive: true });
  const base = join(opts.resultsDir, `tables-${date}`);
  // Written whole, then renamed: an interrupted bench leaves no half-written results.
  for (const [file, text] of [[`${base}.json`, JSON.stringify(results, null, 2) + "\n"], [`${base}.md`, tables + "\n"]]) {
    writeFileSync(`${file}.partial`, text);
    renameSync(`${file}.partial`, file);
  }
  if (opts.readme) {
    const readmePath = join(root, "README.md");
    const source = `bench/results/tables-${date}.json, ${opts.machine}, ${(results.totalSeconds / 60).toFixed(1)} min`;
    writeFileSync(readmePath, spliceReadme(readFileSync(readmePath, "utf8"), tables, source));
  }
  console.log(tables);
  console.log(`\nwritten to ${base}.json (${(results.totalSeconds / 60).toFixed(1)} min)`);
}

await main();
