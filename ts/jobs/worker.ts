// A worker: takes one job at a time for its device from the BullMQ queue, runs it as a recorded run in a folder
// on its own disk, and keeps in Redis what another worker needs to continue it: the run's config (fixed at the
// first start), its events, and the optimizer state after each completed step, stored before the step is
// reported. A worker that dies mid-step loses only that step: BullMQ's stalled-job check hands the job to
// another worker, which rebuilds the run folder from Redis and resumes. SIGTERM/SIGINT stop the run between
// phases, hand the job back without using an attempt, and let the process exit 0.
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { UnrecoverableError, WaitingError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { setThreads } from "../engine/info.js";
import { resolveConfig } from "../optimizer/config.js";
import type { GreaterEvent } from "../optimizer/events.js";
import {
  checkSameInputs,
  loadTaskFrom,
  prepareRun,
  runRecorded,
  RunRecorder,
  SILENT_DISPLAY,
  type RunConfig,
  type RunResult,
  type RunState,
} from "../runs/index.js";
import { evaluate, TaskFileError, type SplitName, type Task } from "../tasks/index.js";
import { SHIPPED_DATA_DIR } from "../tasks/load.js";
import { encodePrompt } from "../text/index.js";
import { CANCELLED_PREFIX } from "./client.js";
import { JobKeys, type DeviceClass } from "./keys.js";
import { ModelCache } from "./model-cache.js";
import { describeRedis, openReachableRedis, openRedis, redisOptions, type RedisInput } from "./redis.js";
import { JobSpecError, namedPaths, parseJobSpec, runInputs, type JobSpec } from "./spec.js";
import { appendEvent, readEvents } from "./stream.js";
import { checkUnderRoots, resolveRoots, UntrustedPathError } from "./trust.js";
import type { EvaluationJobResult, JobProgress, OptimizationJobResult } from "./types.js";

export interface WorkerOptions {
  redis: RedisInput;
  /** cpu, cuda (= cuda:0) or cuda:N: the device this worker's models run on; it takes jobs of its class. */
  device: string;
  /** Folders whose model folders and task files jobs may name (the package's own models and data always). */
  allowRoots?: string[];
  /** Where run folders go, one per job: <runsDir>/<job id> (default ./runs/jobs). */
  runsDir?: string;
  /** Namespace of queues and keys (default "greater"), as given to connectJobs. */
  prefix?: string;
  /** libtorch CPU threads for this process (give each of several CPU workers on a machine its share). */
  threads?: number;
  /** How long a job stays locked to this worker without a renewal (default 30 s); a dead worker's job is
   *  handed on after at most about twice this. */
  lockDurationMs?: number;
  /** How often stalled jobs (of dead workers) are looked for (default 30 s). */
  stalledIntervalMs?: number;
  /** How many times a job may be handed on from a dead worker before it ends failed (default 3). */
  maxStalledCount?: number;
  /** One line per thing the worker does (default: nothing). */
  log?: (line: string) => void;
}

export interface JobWorker {
  readonly id: string;
  readonly device: string;
  /** How many times a model was read from disk. */
  readonly modelLoads: number;
  /** Stops taking jobs; a running job stops between phases and goes back to the queue. */
  close(): Promise<void>;
}

/** Job-level events in the stream (the others are the run's own, replayed into a resumed run folder). */
const JOB_EVENT_TYPES = new Set(["attempt", "error", "handed-back", "cancelled"]);

export function deviceClassOf(device: string): DeviceClass {
  if (device === "cpu") return "cpu";
  if (/^cuda(:\d+)?$/.test(device)) return "cuda";
  throw new Error(`--device ${JSON.stringify(device)}: use cpu, cuda or cuda:N`);
}

interface Current {
  id: string;
  controller: AbortController;
  cancelReason: string | null;
}

export async function startWorker(options: WorkerOptions): Promise<JobWorker> {
  const deviceClass = deviceClassOf(options.device);
  const device = options.device === "cuda" ? "cuda:0" : options.device;
  const input = redisOptions(options.redis);
  const keys = new JobKeys(options.prefix);
  const roots = resolveRoots((options.allowRoots ?? []).map((root) => resolve(root)));
  const runsDir = resolve(options.runsDir ?? join("runs", "jobs"));
  const log = options.log ?? (() => {});
  const id = `${hostname()}:${process.pid}:${device}`;
  if (options.threads) setThreads(options.threads);

  const redis = await openReachableRedis(input);
  const subscriber = openRedis(input);
  const models = new ModelCache(roots);
  let current: Current | undefined;
  let stopping = false;

  const emit = (jobId: string, event: Record<string, unknown>) => appendEvent(redis, keys.events(jobId), event);
  const beat = () =>
    redis
      .hset(keys.workers, id, JSON.stringify({ id, host: hostname(), pid: process.pid, device, job: current?.id ?? null, seenAt: Date.now() }))
      .catch(() => {});
  const heartbeat = setInterval(beat, 5000);
  heartbeat.unref();

  await subscriber.subscribe(keys.cancelChannel);
  subscriber.on("message", (_channel: string, jobId: string) => {
    if (current?.id !== jobId) return;
    void redis.get(keys.cancel(jobId)).then((reason) => {
      if (current?.id !== jobId) return;
      current.cancelReason = reason ?? "cancelled by the caller";
      log(`job ${jobId}: cancelled (${current.cancelReason})`);
      current.controller.abort(new Error("cancelled"));
    });
  });

  const processor = async (job: Job, token?: string): Promise<OptimizationJobResult | EvaluationJobResult> => {
    const jobId = job.id!;
    current = { id: jobId, controller: new AbortController(), cancelReason: null };
    void beat();
    try {
      if (stopping) throw new Error("worker stopping");
      const cancelled = await redis.get(keys.cancel(jobId));
      if (cancelled !== null) {
        current.cancelReason = cancelled;
        throw new Error("cancelled");
      }
      const spec = parseJobSpec(job.data);
      log(`job ${jobId}: ${spec.kind} ${JSON.stringify(spec.task).slice(0, 80)} (attempt ${job.attemptsStarted})`);
      await emit(jobId, { type: "attempt", worker: id, device, attempt: job.attemptsStarted, at: new Date().toISOString() });
      const context: JobContext = { job, jobId, spec, device, roots, runsDir, models, redis, keys, workerId: id, signal: current.controller.signal, emit };
      const result = spec.kind === "optimize" ? await runOptimization(context) : await runEvaluation(context);
      log(`job ${jobId}: completed (model loads so far: ${models.loads})`);
      return result;
    } catch (error) {
      const message = (error as Error).message;
      if (current.cancelReason !== null) {
        await emit(jobId, { type: "cancelled", reason: current.cancelReason });
        throw new UnrecoverableError(CANCELLED_PREFIX + current.cancelReason);
      }
      if (stopping) {
        // Handed back as it is: the next worker resumes from the last stored step; no attempt is used.
        await emit(jobId, { type: "handed-back", worker: id, reason: "worker stopping" });
        await job.moveToWait(token);
        log(`job ${jobId}: handed back to the queue`);
        throw new WaitingError();
      }
      await emit(jobId, { type: "error", worker: id, attempt: job.attemptsStarted, message });
      log(`job ${jobId}: failed: ${message}`);
      // Wrong input fails the same way on every attempt and every worker: no retry.
      if (error instanceof JobSpecError || error instanceof UntrustedPathError || error instanceof TaskFileError || error instanceof RunInputError) {
        throw new UnrecoverableError(message);
      }
      throw error;
    } finally {
      current = undefined;
      void beat();
    }
  };

  const workerConnection = openRedis(input);
  const worker = new Worker(keys.queue(deviceClass), processor, {
    connection: workerConnection,
    prefix: keys.prefix,
    concurrency: 1,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 3,
    autorun: false,
  });
  worker.on("error", (error) => log(`queue connection: ${error.message}`));
  void worker.run();
  await worker.waitUntilReady();
  void beat();
  log(`worker ${id} takes ${deviceClass} jobs from ${describeRedis(input.url)} (prefix ${keys.prefix}); runs in ${runsDir}; reads models and tasks under ${roots.join(", ")}`);

  let closing: Promise<void> | undefined;
  return {
    id,
    device,
    get modelLoads() {
      return models.loads;
    },
    close() {
      closing ??= (async () => {
        stopping = true;
        current?.controller.abort(new Error("worker stopping"));
        await worker.close();
        clearInterval(heartbeat);
        await redis.hdel(keys.workers, id).catch(() => {});
        models.dispose();
        subscriber.disconnect();
        workerConnection.disconnect();
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}

/** A job that cannot run as given (its inputs changed, or are missing): no retry helps. */
class RunInputError extends Error {}

interface JobContext {
  job: Job;
  jobId: string;
  spec: JobSpec;
  device: string;
  roots: string[];
  runsDir: string;
  models: ModelCache;
  redis: Redis;
  keys: JobKeys;
  workerId: string;
  signal: AbortSignal;
  emit: (jobId: string, event: Record<string, unknown>) => Promise<unknown>;
}

// The paths a spec names must lie under the worker's roots; so must every file the task was read from.
const PATH_NAMES = { model: "model folder", "task.data": "task data", "task.file": "task file" } as const;
function checkSpecPaths(spec: JobSpec, roots: string[]): void {
  for (const { field, path } of namedPaths(spec)) checkUnderRoots(path, roots, PATH_NAMES[field]);
}

function checkTaskFiles(task: Task, roots: string[]): void {
  const readable = [...roots, resolve(process.env.GREATER_DATA_DIR ?? SHIPPED_DATA_DIR)];
  for (const file of task.split.files) if (!file.path.startsWith("inline:")) checkUnderRoots(file.path, readable, "task file");
}

const progressOf = (worker: string, phase: JobProgress["phase"], steps: number, state?: RunState, step?: GreaterEvent | null): JobProgress => {
  const s = step && step.type === "step" ? step : null;
  return {
    phase,
    step: state?.optimizer.stepsDone ?? 0,
    steps,
    loss: s?.loss ?? null,
    bestLoss: s?.best.loss ?? null,
    prompt: s?.prompt.text ?? null,
    bestPrompt: s?.best.text ?? null,
    worker,
  };
};

async function runOptimization(ctx: JobContext): Promise<OptimizationJobResult> {
  const { job, jobId, redis, keys } = ctx;
  const inputs = runInputs(ctx.spec);
  inputs.model.device = ctx.device;
  checkSpecPaths(ctx.spec, ctx.roots);
  const runDir = join(ctx.runsDir, jobId);
  const storedConfig = await redis.get(keys.config(jobId));
  let task: Task;
  let config: RunConfig;
  if (storedConfig === null) {
    const prepared = await prepareRun(inputs);
    ({ task, config } = prepared);
    checkTaskFiles(task, ctx.roots);
    await redis.set(keys.config(jobId), JSON.stringify(config));
    const recorder = await RunRecorder.create(runDir, config, { overwrite: true });
    await recorder.close();
  } else {
    // Another attempt of the same run: the config fixed at its first start, on this worker's device, and the
    // run folder rebuilt from Redis (events so far, last state) so that it reads as one uninterrupted run.
    config = { ...(JSON.parse(storedConfig) as RunConfig) };
    config.model = { ...config.model, device: ctx.device };
    task = loadTaskFrom(config.task);
    checkTaskFiles(task, ctx.roots);
    await checkSameInputs(config, task).catch((error: Error) => {
      throw new RunInputError(error.message);
    });
    const recorder = await RunRecorder.create(runDir, config, { overwrite: true });
    for (const { seq: _, ...event } of await readEvents(redis, keys.events(jobId))) {
      if (!JOB_EVENT_TYPES.has(event.type)) await recorder.appendEvent(event);
    }
    const state = await redis.get(keys.state(jobId));
    if (state !== null) await recorder.saveState(JSON.parse(state));
    await recorder.close();
  }
  const steps = config.optimizer.steps;
  await job.updateProgress(progressOf(ctx.workerId, "loading", steps) as never);
  // Each step's prompt token by token, for readers that show which token changed (the dashboard).
  const tokenizer = await ctx.models.tokenizer(config.model.path);
  const withTokens = (step: GreaterEvent) => (step.type === "step" ? { ...step, promptTokens: step.prompt.ids.map((t) => tokenizer.decode([t])) } : step);
  const recorder = await RunRecorder.open<RunConfig, RunState, unknown, RunResult>(runDir);
  // The last checkpoint, so that progress after the steps (final evaluation, done) still says where the run got.
  let last: { state?: RunState; step?: GreaterEvent | null } = { state: recorder.loaded.state ?? undefined };
  const result = await runRecorded(recorder, task, {
    display: SILENT_DISPLAY,
    signal: ctx.signal,
    models: ctx.models,
    hooks: {
      event: async (event) => {
        // A step is stored with its state, atomically, in `checkpoint`.
        if (event.type !== "step") await ctx.emit(jobId, event);
        if (event.type === "eval") await job.updateProgress(progressOf(ctx.workerId, "evaluating", steps, last.state, last.step) as never);
      },
      checkpoint: async (state, step) => {
        const transaction = redis.multi().set(keys.state(jobId), JSON.stringify(state));
        if (step) appendEvent(transaction, keys.events(jobId), withTokens(step));
        await transaction.exec();
        last = { state, step: step ?? last.step };
        await job.updateProgress(progressOf(ctx.workerId, "optimizing", steps, state, last.step) as never);
      },
    },
  });
  await job.updateProgress(progressOf(ctx.workerId, "done", steps, last.state, last.step) as never);
  return { kind: "optimize", ...result, worker: ctx.workerId };
}

async function runEvaluation(ctx: JobContext): Promise<OptimizationJobResult | EvaluationJobResult> {
  const started = Date.now();
  const inputs = runInputs(ctx.spec);
  checkSpecPaths(ctx.spec, ctx.roots);
  const task = loadTaskFrom(inputs.task);
  checkTaskFiles(task, ctx.roots);
  const config = resolveConfig(inputs.optimizer);
  await ctx.job.updateProgress(progressOf(ctx.workerId, "loading", 0) as never);
  const model = await ctx.models.acquire(inputs.model.path, ctx.device, inputs.model.dtype);
  const tokenizer = await ctx.models.tokenizer(inputs.model.path);
  const ids = encodePrompt(tokenizer, config.initialPrompt);
  const prompt = tokenizer.decode(ids);
  const accuracy: Partial<Record<SplitName, number>> = {};
  const counts: EvaluationJobResult["counts"] = {};
  for (const split of inputs.evaluation.splits) {
    await ctx.job.updateProgress(progressOf(ctx.workerId, "evaluating", 0) as never);
    const r = await evaluate(model, tokenizer, task, ids, split, {
      template: config.userTurnTemplate,
      maxNewTokens: inputs.evaluation.maxNewTokens,
      limit: inputs.evaluation.limit,
      signal: ctx.signal,
    });
    accuracy[split] = r.accuracy;
    counts[split] = { correct: r.correct, total: r.total };
    await ctx.emit(ctx.jobId, { type: "eval", step: -1, which: "initial", split, accuracy: r.accuracy, correct: r.correct, total: r.total, prompt });
  }
  await ctx.job.updateProgress(progressOf(ctx.workerId, "done", 0) as never);
  return { kind: "evaluate", prompt, accuracy, counts, seconds: (Date.now() - started) / 1000, worker: ctx.workerId };
}
