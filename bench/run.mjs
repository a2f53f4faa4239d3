#!/usr/bin/env node
// `npm run bench`: our engine and optimizer against the reference (tools/reference/greater_step.py, the authors'
// way with transformers) on the same model folder, examples and seed, in one run. Writes
// bench/results/<date>-<machine>.json and .md, and prints the table. A bench records figures; it is not a test, and
// CI does not run it (test/bench/ runs its machinery with --quick).
//
// For each model profile (bench/lib/options.mjs):
//   1. the model folder (generated into bench/.work/ on first use) and the workload both sides read
//      (bench/lib/workload.mjs: token ids and spans from the project's text layer);
//   2. load: each side loads the model in a fresh process, alternately, loadRepeats times (median);
//   3. micro: forward log-probs for a batch, greedy generation at batch 1, 9 and 50, the one-hot gradient for
//      every train example: a process per side and measurement, the sides taking turns; warmup, then iterations
//      (median);
//   4. step: one full GReaTer step per side in a fresh process, whose peak memory is the step's; stepRepeats
//      times, the sides taking turns (the best time, the highest peak).
import { createReadStream, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, hostname, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { engineInfo } from "../dist/index.js";
import { pythonProblem, runSide } from "./lib/children.mjs";
import { markdownTable, profileFigures, stepAgreement, targets, textTable } from "./lib/figures.mjs";
import { gpuInfo } from "./lib/gpu.mjs";
import { ensureModel, weightBytes } from "./lib/model.mjs";
import { USAGE, parseOptions } from "./lib/options.mjs";
import { writeWorkload } from "./lib/workload.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const log = (message) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

let options;
try {
  options = parseOptions(process.argv.slice(2), root);
} catch (e) {
  console.error(`bench: ${e.message}\n\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

try {
  await main(options);
} catch (e) {
  console.error(`bench: ${e.message}`);
  process.exit(1);
}

async function main(options) {
  // The device first: without it nothing else matters, whatever Python has.
  const gpu = options.kind === "gpu" ? gpuInfo(options.profiles[0].device, options.bandwidthGBs) : null;
  const needsPython = options.reference || options.profiles.some((p) => p.make && !options.modelOverride && !existsSync(join(options.workDir, p.make)));
  const problem = needsPython ? pythonProblem(options.kind === "gpu" && options.reference) : null;
  if (problem) {
    throw new Error(`${problem}.\nThe reference side and the model generator need Python with torch, transformers and safetensors; ` +
      `pass --no-reference (with --model DIR) to measure our side alone.`);
  }
  mkdirSync(options.workDir, { recursive: true });
  const began = Date.now();
  const loadBefore = loadavg()[0];
  // The 1-minute load average every 15 s while the bench runs: how busy the machine was, for the note.
  const loadSamples = [loadBefore];
  const loadSampler = setInterval(() => loadSamples.push(loadavg()[0]), 15_000);
  loadSampler.unref();
  const info = engineInfo();
  if (gpu && !info.cudaAvailable) {
    throw new Error(`the loaded engine binary (${info.binaryOrigin}, ${info.variant}) cannot use CUDA; build it with \`npm run build:cuda\``);
  }
  if (loadBefore > cpus().length / 2) log(`the machine is not idle (load average ${loadBefore.toFixed(2)} on ${cpus().length} CPUs): figures may be noisy`);

  const figures = [];
  const agreement = {};
  const models = [];
  for (const profile of options.profiles) {
    const modelDir = options.modelOverride ? resolve(options.modelOverride) : ensureModel(profile, { root, workDir: options.workDir, log });
    const workDir = join(options.workDir, `run-${profile.name}`);
    mkdirSync(workDir, { recursive: true });
    const workload = await writeWorkload({
      modelDir,
      workDir,
      task: "bbh:navigate",
      dataDir: options.dataDir,
      trainSize: profile.trainSize,
      reasoningTokens: profile.stepTokens,
      seed: 0,
    });
    log(`${profile.name}: ${modelDir}; ${workload.examples} navigate examples, prefixes ~${Math.round(workload.meanPrefixTokens)} tokens, ` +
      `full sequences ~${Math.round(workload.meanFullTokens)} tokens`);
    const job = {
      modelDir,
      device: profile.device,
      dtype: profile.dtype,
      threads: options.threads,
      workload: workload.workload,
      warmup: profile.warmup,
      iterations: profile.iterations,
      generate: profile.generate,
      step: { dataFile: workload.stepData, config: { seed: 0, maxNewTokens: profile.stepTokens } },
      verbose: options.verbose,
    };
    const sides = options.reference ? ["ours", "reference"] : ["ours"];
    const run = async (side, kind, measure = []) => {
      const what = measure.length ? `${kind} ${measure.join(", ")}` : kind;
      log(`${profile.name}: ${side} ${what} ...`);
      const result = await runSide(side, { ...job, kind, measure }, { root, workDir, verbose: options.verbose });
      log(`${profile.name}: ${side} ${what} done in ${(result.wallMs / 1000).toFixed(1)} s`);
      return result;
    };

    await readThrough(modelDir); // both sides then load from the page cache
    // The sides take turns, and which goes first alternates, so that a neighbour's load falls on both alike.
    const turns = (i) => (i % 2 === 0 ? sides : [...sides].reverse());
    const results = { load: { ours: [], reference: options.reference ? [] : null }, micro: {}, step: {} };
    for (let i = 0; i < profile.loadRepeats; i++) for (const side of turns(i)) results.load[side].push(await run(side, "load"));
    for (const side of sides) results.micro[side] = { figures: {} };
    for (const [i, measure] of microGroups(profile).entries()) {
      for (const side of turns(i)) Object.assign(results.micro[side].figures, (await run(side, "micro", measure)).figures);
    }
    for (const side of sides) results.step[side] = [];
    for (let i = 0; i < profile.stepRepeats; i++) for (const side of turns(i)) results.step[side].push(await run(side, "step"));

    const bytes = weightBytes(modelDir);
    const decodeBound = gpu?.bandwidthGBs ? bytes / (gpu.bandwidthGBs * 1e9) : null;
    if (gpu && decodeBound === null) log(`no bandwidth known for "${gpu.name}": pass --bandwidth GBS for the decode figure`);
    figures.push(...profileFigures(profile, results, decodeBound));
    agreement[profile.name] = stepAgreement(results.step.ours[0], results.step.reference?.[0] ?? null);
    models.push({
      profile: profile.name,
      dir: modelDir,
      weightBytes: bytes,
      dtype: profile.dtype,
      stepTokens: profile.stepTokens,
      trainExamples: workload.examples,
      decodeBoundMs: decodeBound === null ? null : decodeBound * 1000,
      stepPhasesMs: { ours: results.step.ours.map((r) => r.step.phasesMs), reference: results.step.reference?.map((r) => r.step.phasesMs) ?? null },
      runtimeRssMiB: { ours: results.load.ours[0].runtimeRssMiB, reference: results.load.reference?.[0].runtimeRssMiB ?? null },
    });
  }

  clearInterval(loadSampler);
  loadSamples.push(loadavg()[0]);
  const loadMean = loadSamples.reduce((sum, l) => sum + l, 0) / loadSamples.length;
  const loadMax = Math.max(...loadSamples);
  const date = new Date().toISOString().slice(0, 10);
  const machine = options.machine ?? hostname();
  const device = gpu ? `${gpu.name} (${options.profiles[0].device})` : `cpu (${cpus()[0]?.model ?? "unknown"}, ${cpus().length} CPUs)`;
  const result = {
    machine,
    date,
    device,
    threads: options.threads,
    figures,
    note:
      `Load average (1 min) during the run: mean ${loadMean.toFixed(2)}, max ${loadMax.toFixed(2)} on ${cpus().length} CPUs; ` +
      `other processes may have been running. Each side ran in its own processes, the sides taking turns; times are medians, the step's the best of its runs.` +
      options.profiles
        .filter((p) => p.profileStepTokens !== undefined && p.profileStepTokens !== p.stepTokens)
        .map((p) => ` ${p.name}'s step generated ${p.stepTokens} new tokens per sequence (--step-tokens), not the profile's ${p.profileStepTokens}.`)
        .join(""),
    kind: options.kind,
    loadAverage: { mean: loadMean, max: loadMax, samples: loadSamples.length },
    targets: targets(figures, options.kind),
    stepAgreement: agreement,
    models,
    libtorch: info.libtorchVersion,
    binary: info.binaryOrigin,
    durationS: Math.round((Date.now() - began) / 1000),
  };

  mkdirSync(options.resultsDir, { recursive: true });
  const suffix = options.kind === "cpu" ? "" : `-${options.kind}`;
  const base = join(options.resultsDir, `${date}-${machine}${suffix}`);
  writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + "\n");
  writeFileSync(`${base}.md`, markdownTable(result) + "\n");
  console.log(textTable(figures));
  for (const t of result.targets) console.log(`${t.met === null ? "?" : t.met ? "met" : "NOT met"}: ${t.target}${t.ratio === null ? "" : ` (${t.ratio.toFixed(2)}x)`}`);
  for (const [name, a] of Object.entries(agreement)) {
    if (a) console.log(`${name} step agreement: candidates ${a.candidates}, ranking ${a.ranked}, chosen token ${a.chosen}`);
  }
  console.log(`${result.note}\nwritten to ${base}.json and .md in ${result.durationS} s`);
}

/**
 * The micro measurements in groups, one child process per side for each: forward, each generation batch size
 * (with its 1-token run on GPU, which must come from the same process), the gradient.
 */
function microGroups(profile) {
  const groups = [["forward_logprobs"]];
  for (const { name } of profile.generate) {
    const group = groups.find((g) => g[0] === name.replace(/_t\d+$/, ""));
    if (group) group.push(name);
    else groups.push([name]);
  }
  groups.push(["one_hot_gradient"]);
  return groups;
}

/** Reads every weight file once, so that no side pays for the disk and the other for the page cache. */
async function readThrough(modelDir) {
  for (const name of readdirSync(modelDir).filter((n) => n.endsWith(".safetensors"))) {
    await new Promise((done, fail) => createReadStream(join(modelDir, name), { highWaterMark: 1 << 24 }).on("data", () => {}).on("end", done).on("error", fail));
  }
}
