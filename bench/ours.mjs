#!/usr/bin/env node
// Our side of the bench suite: the measurements of tools/bench/reference_bench.py, made through the Node API
// (dist/index.js), in a process of its own so that its peak memory is its own.
//
//   node bench/ours.mjs JOB.json OUT.json
//
// The job file is the one the reference side gets (see bench/lib/children.mjs and bench/run.mjs): model folder, device, dtype, threads,
// the shared workload (token ids and spans) and the kind: load, micro (tinybench tasks) or step (one GReaTer step).
import { readFileSync, writeFileSync } from "node:fs";
import { Bench } from "tinybench";
import { loadModel, loadTokenizer, setThreads } from "../dist/index.js";
import { GreaterOptimizer } from "../dist/optimizer/index.js";
import { disallowedTokenMask } from "../dist/text/index.js";
import { peakRssMiB } from "./lib/memory.mjs";

const [jobFile, outFile] = process.argv.slice(2);
if (!jobFile || !outFile) {
  console.error("usage: node bench/ours.mjs JOB.json OUT.json");
  process.exit(2);
}
const job = JSON.parse(readFileSync(jobFile, "utf8"));
setThreads(job.threads);

const runtimeRssMiB = peakRssMiB();
let start = performance.now();
const model = await loadModel(job.modelDir, { device: job.device, dtype: job.dtype });
const loadMs = performance.now() - start;
const result = { side: "ours", kind: job.kind, loadMs, runtimeRssMiB, afterLoadRssMiB: peakRssMiB(), threads: job.threads };

if (job.kind === "micro") {
  result.figures = await runMicro(JSON.parse(readFileSync(job.workload, "utf8")));
} else if (job.kind === "step") {
  result.step = await runStep();
} else if (job.kind !== "load") {
  throw new Error(`bench/ours.mjs: unknown job kind ${JSON.stringify(job.kind)} in ${jobFile}`);
}
result.peakRssMiB = peakRssMiB();
model.dispose();
writeFileSync(outFile, JSON.stringify(result));

/** The micro measurements the job names (job.measure) as tinybench tasks, with the reference's iteration counts. */
async function runMicro(workload) {
  const figures = {};
  const add = (bench, name, details, call) => {
    if (!job.measure.includes(name)) return;
    figures[name] = details;
    bench.add(name, call);
  };
  // tinybench's own warmup would repeat every measurement; the process warms up once instead, as the reference does.
  const bench = (iterations) => new Bench({ time: 0, iterations, warmup: false, throws: true, retainSamples: true });
  if (job.warmup) await model.generate(workload.prefixes.slice(0, 1), { maxNewTokens: 2, ignoreEos: true });

  // Log-probability of every token after the first, for one right-padded batch.
  const forward = bench(job.iterations.forward);
  const rows = workload.forwardRows.map((row) => row.ids);
  const width = Math.max(...rows.map((row) => row.length));
  const input = {
    inputIds: rows.map((row) => [...row, ...new Array(width - row.length).fill(workload.padTokenId)]),
    attentionMask: rows.map((row) => [...new Array(row.length).fill(1), ...new Array(width - row.length).fill(0)]),
  };
  const options = {
    positions: rows.map((row) => row.slice(1).map((_, column) => column)),
    targets: rows.map((row) => row.slice(1)),
  };
  add(forward, "forward_logprobs", { rows: rows.length, tokens: rows.reduce((sum, row) => sum + row.length, 0) }, () =>
    model.logits(input, options),
  );

  // Greedy generation of exactly newTokens per row (end-of-sequence ignored, as the reference does).
  const generate = bench(job.iterations.generate);
  for (const spec of job.generate) {
    const prompts = Array.from({ length: spec.batch }, (_, i) => workload.prefixes[i % workload.prefixes.length]);
    add(generate, spec.name, { rows: spec.batch, newTokens: spec.newTokens }, async () => {
      const out = await model.generate(prompts, { maxNewTokens: spec.newTokens, ignoreEos: true });
      if (out.tokens.some((tokens) => tokens.length !== spec.newTokens)) throw new Error(`${spec.name}: a row stopped early`);
    });
  }

  // dL/d(one-hot) for every example of the step: one call, as the optimizer makes it, split in halves when it runs out
  // of memory (the optimizer's rule; with 512-token reasoning on an 8B model all 50 rows do not fit on one GPU).
  const gradient = bench(job.iterations.gradient);
  const g = workload.gradient;
  const details = { rows: g.rows.length, candidates: g.candidates.length, rowsPerCall: g.rows.length };
  const gradientOf = (rows) =>
    model.oneHotGradient({
      sequences: rows.map((row) => row.ids),
      positions: rows.map((row) => row.position),
      candidates: g.candidates,
      answerSpans: rows.map((row) => row.answerSpan),
      promptSpans: rows.map((row) => row.promptSpan),
      temperature: g.temperature,
      controlWeight: g.controlWeight,
    });
  add(gradient, "one_hot_gradient", details, async () => {
    for (let start = 0; start < g.rows.length; ) {
      const end = Math.min(start + details.rowsPerCall, g.rows.length);
      try {
        await gradientOf(g.rows.slice(start, end));
        start = end;
      } catch (error) {
        if (error?.code !== "OUT_OF_MEMORY" || end - start <= 1) throw error;
        details.rowsPerCall = Math.ceil((end - start) / 2);
      }
    }
  });

  for (const b of [forward, generate, gradient]) {
    await b.run();
    for (const task of b.tasks) {
      if (task.result.state !== "completed") throw new Error(`${task.name}: ${task.result.error ?? task.result.state}`);
      figures[task.name].samplesMs = [...task.result.latency.samples];
    }
  }
  return figures;
}

/**
 * One full GReaTer step on the loaded model: the optimizer's construction (the candidate mask over the whole
 * vocabulary, computed here with the on-disk cache off, since the reference computes it every time) and step().
 */
async function runStep() {
  const tokenizer = await loadTokenizer(job.modelDir);
  const data = JSON.parse(readFileSync(job.step.dataFile, "utf8"));
  const config = { ...job.step.config, initialPrompt: data.initialPrompt, steps: 1 };
  const task = { name: data.name, extractor: data.extractor, train: data.train };
  const begin = performance.now();
  const disallowed = disallowedTokenMask(tokenizer, { rule: config.candidateFilter ?? "strict", vocabSize: model.info.vocabSize, cacheDir: null });
  const optimizer = new GreaterOptimizer(model, tokenizer, task, config, { evaluate: false, text: { disallowed } });
  const prompt = optimizer.state.prompt;
  const step = await optimizer.step();
  const ms = performance.now() - begin;
  return {
    ms,
    phasesMs: step.timingsMs,
    prompt,
    outcome: {
      k: step.k,
      candidates: step.candidates.map((c) => c.token),
      ranked: step.ranked.map((r) => r.token),
      chosen: step.chosen.token,
      loss: step.loss,
    },
  };
}
