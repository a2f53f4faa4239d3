#!/usr/bin/env node
// `npm run bench:jobs`: what the job queue costs. (1) Overhead per step: the same spec run in this process and as
// a job on a `greater worker` (both one libtorch thread), compared step by step; the job's step time is read from
// the Redis stream (each step's entry id is the time it was stored), the in-process one from the run's own events.
// (2) Throughput: N short jobs drained by one worker, then by two (one thread each). Starts its own redis-server
// on a loopback port. Writes bench/results/jobs-<date>-<machine>.json and .md and prints the table.
// The overhead is measured in rounds that alternate the two (in process, then as a job), so that drift of the machine
// falls on both; it is reported with the spread of the per-round differences.
// Options: --steps N (per run, default 12), --rounds N (default 3), --jobs N (throughput, default 6), --quick
// (4 steps, 1 round, 2 jobs), --machine NAME, --results-dir DIR.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { connectJobs, parseJobSpec, runInputs } from "../dist/jobs/index.js";
import { setThreads } from "../dist/engine/index.js";
import { SILENT_DISPLAY, startRun } from "../dist/runs/index.js";
import { positiveFlagOrExit } from "./lib/options.mjs";

const root = resolve(import.meta.dirname, "..");
const { values } = parseArgs({
  options: { steps: { type: "string" }, rounds: { type: "string" }, jobs: { type: "string" }, quick: { type: "boolean" }, machine: { type: "string" }, "results-dir": { type: "string" } },
});
const positive = (text, fallback, flag) => positiveFlagOrExit("bench:jobs", flag, text, fallback);
const steps = positive(values.steps, values.quick ? 4 : 12, "--steps");
const jobCount = positive(values.jobs, values.quick ? 2 : 6, "--jobs");
const rounds = positive(values.rounds, values.quick ? 1 : 3, "--rounds");
const machine = values.machine ?? hostname();
const resultsDir = resolve(values["results-dir"] ?? join(root, "bench", "results"));
const tiny = join(root, "models", "tiny-reasoner");
const work = mkdtempSync(join(tmpdir(), "greater-bench-jobs-"));

const rows = (file) =>
  readFileSync(join(tiny, "task", file), "utf8").trim().split("\n").map((l) => JSON.parse(l)).map(({ question, answer }) => ({ question, answer }));
const spec = (n, seed) => ({
  kind: "optimize",
  model: tiny,
  task: { name: "last-digit", extractor: "Therefore, the final answer is $", train: rows("train.jsonl").slice(0, 16), dev: rows("dev.jsonl").slice(0, 4), test: rows("test.jsonl").slice(0, 8) },
  optimizer: { steps: n, seed, maxNewTokens: 40, initialPrompt: " the answer and think.", patience: 1000, lossThreshold: 0 },
  evaluation: { splits: ["test"] },
});

const freePort = () =>
  new Promise((done) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => done(port));
    });
  });

const port = await freePort();
const redisServer = spawn(process.env.GREATER_REDIS_SERVER ?? "redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", work, "--save", "", "--appendonly", "no"], { stdio: "ignore" });
redisServer.on("error", (e) => {
  console.error(`bench:jobs: cannot start redis-server (${e.message}); install Debian's redis-server`);
  process.exit(2);
});
const url = `redis://127.0.0.1:${port}`;
let jobs;
for (let i = 0; i < 50 && !jobs; i++) {
  try {
    jobs = await connectJobs({ redis: url });
  } catch {
    await new Promise((r) => setTimeout(r, 200));
  }
}

const startWorker = () =>
  new Promise((ready, fail) => {
    const child = spawn(process.execPath, [join(root, "bin", "greater.js"), "worker", "--redis", url, "--threads", "1", "--runs", join(work, "runs")], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr.on("data", (d) => {
      log += d;
      if (/takes cpu jobs/.test(log)) ready(child);
    });
    child.once("exit", (code) => fail(new Error(`worker exited (${code}):\n${log}`)));
  });
const stop = (child) => new Promise((done) => (child.exitCode !== null ? done() : (child.once("exit", done), child.kill("SIGTERM"))));
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const intervals = (times) => times.slice(1).map((t, i) => t - times[i]);

// (1) Overhead per step. The first step of each run also waits for the initial evaluation, so intervals
// between consecutive steps are compared (steps 2..N).
setThreads(1);
const runInProcess = async (name) => {
  const stepTimes = [];
  await startRun(join(work, name), runInputs(parseJobSpec(spec(steps, 0))), {
    display: SILENT_DISPLAY,
    hooks: { event: async (e) => (e.type === "step" ? stepTimes.push(performance.now()) : undefined) },
  });
  return mean(intervals(stepTimes));
};
const runAsJob = async () => {
  const id = await jobs.submit(spec(steps, 0));
  const times = [];
  for await (const event of jobs.events(id, { pollMs: 200 })) {
    if (event.type === "step") times.push(Number(event.seq.split("-")[0]));
    if (event.type === "end" && event.status !== "completed") throw new Error(`job ${id}: ${event.status} ${event.error}`);
  }
  return mean(intervals(times));
};
const one = await startWorker();
const perRound = [];
for (let round = 0; round < rounds; round++) {
  const inProcessMs = await runInProcess(`in-process-${round}`);
  const asJobMs = await runAsJob();
  perRound.push({ inProcessMs, asJobMs, overheadMs: asJobMs - inProcessMs });
}
const sd = (xs) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((acc, x) => acc + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const stepMs = mean(perRound.map((r) => r.inProcessMs));
const jobMs = mean(perRound.map((r) => r.asJobMs));
const overheadMs = mean(perRound.map((r) => r.overheadMs));
const overheadSdMs = sd(perRound.map((r) => r.overheadMs));

// (2) Throughput: the same batch of short jobs drained by one worker, then by two.
const drain = async () => {
  const started = performance.now();
  const ids = [];
  for (let i = 0; i < jobCount; i++) ids.push(await jobs.submit(spec(2, i + 1)));
  for (const jid of ids) {
    const info = await jobs.wait(jid, { pollMs: 100 });
    if (info.status !== "completed") throw new Error(`job ${jid}: ${info.status} ${info.error}`);
  }
  return (performance.now() - started) / 1000;
};
const oneWorkerS = await drain();
const two = await startWorker();
const twoWorkersS = await drain();
await Promise.all([stop(one), stop(two)]);
await jobs.close();
redisServer.kill("SIGTERM");
rmSync(work, { recursive: true, force: true });

const result = {
  date: new Date().toISOString(),
  machine,
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  overhead: { steps, rounds, perRound, stepMsInProcess: stepMs, stepMsAsJob: jobMs, overheadMs, overheadSdMs, overheadPercent: (overheadMs / stepMs) * 100 },
  throughput: { jobs: jobCount, stepsPerJob: 2, oneWorkerSeconds: oneWorkerS, twoWorkersSeconds: twoWorkersS, speedup: oneWorkerS / twoWorkersS },
};
const md = [
  `# bench:jobs on ${machine} (${result.cores} cores, ${result.cpu}), ${result.date.slice(0, 10)}`,
  "",
  "| measure | value |",
  "| --- | --- |",
  `| step, in process (mean of steps 2..${steps}, ${rounds} round(s)) | ${stepMs.toFixed(1)} ms |`,
  `| step, as a job on a worker | ${jobMs.toFixed(1)} ms |`,
  `| queue overhead per step (mean ± sd of the rounds' differences) | ${overheadMs.toFixed(1)} ± ${overheadSdMs.toFixed(1)} ms (${result.overhead.overheadPercent.toFixed(2)} %) |`,
  `| ${jobCount} jobs of 2 steps, 1 worker | ${oneWorkerS.toFixed(1)} s |`,
  `| the same, 2 workers (1 thread each) | ${twoWorkersS.toFixed(1)} s (${result.throughput.speedup.toFixed(2)}x) |`,
  "",
].join("\n");
mkdirSync(resultsDir, { recursive: true });
const stem = `jobs-${result.date.slice(0, 10)}-${machine}${values.quick ? "-quick" : ""}`;
writeFileSync(join(resultsDir, `${stem}.json`), JSON.stringify(result, null, 2) + "\n");
writeFileSync(join(resultsDir, `${stem}.md`), md);
console.log(md);
console.log(`written: ${join(resultsDir, stem)}.json and .md`);
