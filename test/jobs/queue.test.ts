// The job layer end to end, with real parts: a redis-server of this file's own, `greater worker` processes on
// the shipped tiny model, and the producer API. Workers are killed, stopped, cut off from Redis and handed
// bad jobs; every run that finishes must equal the same spec run by `greater optimize --spec` in one process.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectJobs, JobSpecError, type JobEvent, type JobInfo, type Jobs, type OptimizationJobResult } from "../../ts/jobs/index.js";
import { CLI, makeTlsFiles, ROOT, startRedis, startWorkerProcess, stopWorkerProcess, TINY, type RedisHandle, type WorkerProcess } from "./services.js";

const work = mkdtempSync(join(tmpdir(), "greater-jobs-"));
const runs = join(work, "runs");
const rows = (file: string) =>
  readFileSync(join(TINY, "task", file), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { question: string; answer: string })
    .map(({ question, answer }) => ({ question, answer }));

/** An optimize job on the tiny model's task, given inline; long enough (steps) to be interrupted mid-run. */
function tinySpec(steps: number, seed = 0, name = "last-digit") {
  return {
    kind: "optimize" as const,
    model: TINY,
    name,
    task: {
      name,
      extractor: "Therefore, the final answer is $",
      train: rows("train.jsonl").slice(0, 12),
      dev: rows("dev.jsonl").slice(0, 4),
      test: rows("test.jsonl").slice(0, 12),
    },
    optimizer: { steps, seed, maxNewTokens: 40, initialPrompt: " the answer and think.", patience: 100, lossThreshold: 0 },
    evaluation: { splits: ["test" as const] },
  };
}

let redis: RedisHandle;
let jobs: Jobs;
const workers: WorkerProcess[] = [];
const worker = async (args: string[] = []) => {
  const w = await startWorkerProcess(redis.url, ["--runs", runs, "--allow-root", work, ...args]);
  workers.push(w);
  return w;
};

async function collect(id: string, until?: (event: JobEvent) => boolean): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  for await (const event of jobs.events(id)) {
    events.push(event);
    if (event.type === "end" || until?.(event)) break;
  }
  return events;
}

/** The chosen token id of each step, keeping the last record of a step that was recorded twice. */
function chosenTokens(events: { type: string; step?: unknown; chosen?: { id: number } }[]): number[] {
  const byStep = new Map<number, number>();
  for (const e of events) if (e.type === "step") byStep.set(e.step as number, e.chosen!.id);
  return [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([, id]) => id);
}

const readEvents = (runDir: string) =>
  readFileSync(join(runDir, "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string });

/** The uninterrupted reference: the same spec through `greater optimize --spec`, in one process. */
function referenceRun(steps: number, seed = 0) {
  const specFile = join(work, `spec-${steps}-${seed}.json`);
  writeFileSync(specFile, JSON.stringify(tinySpec(steps, seed)));
  const out = join(work, `reference-${steps}-${seed}`);
  const r = spawnSync(process.execPath, [CLI, "optimize", "--spec", specFile, "--out", out, "--threads", "1", "--json"], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; bestPrompt?: { ids: number[] } });
  const result = lines.find((l) => l.type === "result")!;
  return { result, chosen: chosenTokens(readEvents(out) as never) };
}

let reference: ReturnType<typeof referenceRun>;

beforeAll(async () => {
  redis = await startRedis(inject("redisServer"));
  jobs = await connectJobs({ redis: redis.url });
  reference = referenceRun(6);
}, 300_000);

afterAll(async () => {
  await jobs?.close();
  await Promise.all(workers.map(stopWorkerProcess));
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("jobs on BullMQ and Redis", () => {
  it("rejects a bad spec at submit, naming the field, and queues nothing", async () => {
    await expect(jobs.submit({ ...tinySpec(2), optimizer: { steps: 0 } })).rejects.toThrow(JobSpecError);
    await expect(jobs.submit({ ...tinySpec(2), optimizer: { steps: 0 } })).rejects.toThrow(/"optimizer\.steps"/);
    await expect(jobs.submit({ ...tinySpec(2), device: "gpu" })).rejects.toThrow(/"device"/);
    expect(await jobs.list()).toEqual([]);
  });

  it("runs a job as `greater optimize --spec` runs it: same chosen tokens, same best prompt; events from the start for a late subscriber", async () => {
    const w = await worker();
    const id = await jobs.submit(tinySpec(6));
    const info = await jobs.wait(id);
    expect(info.status, info.error ?? "").toBe("completed");
    const result = info.result as OptimizationJobResult;
    expect(result.kind).toBe("optimize");
    expect(result.bestPrompt.ids).toEqual(reference.result.bestPrompt!.ids);
    expect(result.stepsDone).toBe(6);
    // A subscriber that comes after the end still gets the whole history, then the end.
    const events = await collect(id);
    expect(events.map((e) => e.type).filter((t) => t !== "eval")).toEqual(["attempt", "start", "step", "step", "step", "step", "step", "step", "end"]);
    expect(chosenTokens(events as never)).toEqual(reference.chosen);
    expect(events.at(-1)).toMatchObject({ type: "end", status: "completed" });
    // The run folder on the worker's disk is a normal run folder.
    const runDir = join(runs, id);
    expect(JSON.parse(readFileSync(join(runDir, "result.json"), "utf8")).bestPrompt.ids).toEqual(reference.result.bestPrompt!.ids);
    expect(chosenTokens(readEvents(runDir) as never)).toEqual(reference.chosen);
    expect(info.progress).toMatchObject({ phase: "done", step: 6, steps: 6, bestPrompt: result.bestPrompt.text });
    await stopWorkerProcess(w);
  });

  it("two workers drain a queue of several jobs, each keeping its model loaded between jobs", async () => {
    const [a, b] = [await worker(), await worker()];
    const ids = [];
    for (let seed = 0; seed < 4; seed++) ids.push(await jobs.submit(tinySpec(2, seed, `drain-${seed}`)));
    const infos = await Promise.all(ids.map((id) => jobs.wait(id)));
    for (const info of infos) expect(info.status, info.error ?? "").toBe("completed");
    const byWorker = new Set(infos.map((info) => (info.result as OptimizationJobResult).worker));
    expect(byWorker.size).toBe(2);
    for (const w of [a, b]) {
      const loads = w.log().match(/model loads so far: (\d+)/g) ?? [];
      expect(loads.length).toBeGreaterThan(0);
      expect(loads.at(-1)).toBe("model loads so far: 1");
    }
    expect((await jobs.list({ status: "completed" })).map((j) => j.id)).toEqual(expect.arrayContaining(ids));
    await Promise.all([a, b].map(stopWorkerProcess));
  });

  it("a worker killed with SIGKILL mid-run: another worker resumes from the last stored step and the result equals an uninterrupted run", async () => {
    const [a, b] = [await worker(), await worker()];
    const id = await jobs.submit(tinySpec(6));
    const early = await collect(id, (e) => e.type === "step" && e.step === 1);
    const first = early.find((e) => e.type === "attempt")!.worker as string;
    const victim = [a, b].find((w) => first.includes(`:${w.pid}:`))!;
    victim.child.kill("SIGKILL");
    expect(await victim.exited).toBe("SIGKILL");
    const info = await jobs.wait(id);
    expect(info.status, info.error ?? "").toBe("completed");
    const result = info.result as OptimizationJobResult;
    expect(result.worker).not.toBe(first);
    expect(result.bestPrompt.ids).toEqual(reference.result.bestPrompt!.ids);
    const events = await collect(id);
    const attempts = events.filter((e) => e.type === "attempt");
    expect(attempts.length).toBe(2);
    expect(chosenTokens(events as never)).toEqual(reference.chosen);
    // The survivor's run folder was rebuilt from Redis and reads as the whole run.
    expect(chosenTokens(readEvents(result.runDir) as never)).toEqual(reference.chosen);
    const start = events.filter((e) => e.type === "start");
    expect(start.at(-1)).toMatchObject({ resumed: true });
    await Promise.all([a, b].map(stopWorkerProcess));
  });

  it("SIGTERM mid-run: the worker hands the job back and exits 0; the next worker finishes it identically", async () => {
    const a = await worker();
    const id = await jobs.submit(tinySpec(6));
    await collect(id, (e) => e.type === "step" && e.step === 1);
    a.child.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    expect(a.log()).toMatch(/handed back/);
    const back = await jobs.get(id);
    expect(back?.status).toBe("waiting");
    expect(back?.attempts).toBe(1);
    const b = await worker();
    const info = await jobs.wait(id);
    expect(info.status, info.error ?? "").toBe("completed");
    expect((info.result as OptimizationJobResult).bestPrompt.ids).toEqual(reference.result.bestPrompt!.ids);
    expect(chosenTokens((await collect(id)) as never)).toEqual(reference.chosen);
    await stopWorkerProcess(b);
  });

  it("cancel: a running job stops within one phase and ends cancelled, a queued one leaves the queue, and the worker runs the next job", async () => {
    const a = await worker();
    const running = await jobs.submit(tinySpec(200, 0, "long"));
    const queued = await jobs.submit(tinySpec(2, 1, "queued"));
    const next = await jobs.submit(tinySpec(2, 2, "next"));
    await collect(running, (e) => e.type === "step");
    expect(await jobs.cancel(queued)).toBe("cancelled");
    expect((await jobs.get(queued))?.status).toBe("cancelled");
    const asked = Date.now();
    expect(await jobs.cancel(running, "no longer needed")).toBe("cancelled");
    const info = await jobs.wait(running);
    expect(info.status).toBe("cancelled");
    expect(info.error).toMatch(/no longer needed/);
    expect(info.attempts).toBe(1);
    expect(Date.now() - asked).toBeLessThan(15_000);
    const after = await jobs.wait(next);
    expect(after.status, after.error ?? "").toBe("completed");
    expect(a.log()).toMatch(/job [^ ]+: completed \(model loads so far: 1\)/);
    expect((await jobs.list({ status: "cancelled" })).map((j) => j.id).sort()).toEqual([queued, running].sort());
    await stopWorkerProcess(a);
  });

  it("Redis restarted mid-run: the worker reconnects and the run completes", async () => {
    const a = await worker();
    const id = await jobs.submit(tinySpec(6));
    await collect(id, (e) => e.type === "step" && e.step === 0);
    await redis.restart(1000);
    const info = await jobs.wait(id);
    expect(info.status, info.error ?? "").toBe("completed");
    expect((info.result as OptimizationJobResult).bestPrompt.ids).toEqual(reference.result.bestPrompt!.ids);
    await stopWorkerProcess(a);
  });

  it("a job with a missing model folder or a path outside the allowed roots fails with that reason, once, and does not poison the worker", async () => {
    const a = await worker();
    const missing = await jobs.submit({ ...tinySpec(2), model: join(work, "no-such-model") });
    // A link inside an allowed root that leads out of it is followed, then refused.
    const outside = mkdtempSync(join(tmpdir(), "greater-outside-"));
    mkdirSync(join(outside, "m"));
    symlinkSync(join(outside, "m"), join(work, "link-to-outside"));
    const escaped = await jobs.submit({ ...tinySpec(2), model: join(work, "link-to-outside") });
    const good = await jobs.submit(tinySpec(2));
    const [m, e, g] = [await jobs.wait(missing), await jobs.wait(escaped), await jobs.wait(good)];
    expect(m.status).toBe("failed");
    expect(m.error).toMatch(/no-such-model: not found on this worker/);
    expect(m.attempts).toBe(1);
    expect(e.status).toBe("failed");
    expect(e.error).toMatch(/link-to-outside \(really .*greater-outside-.*\) is outside the folders this worker may read/);
    expect(g.status, g.error ?? "").toBe("completed");
    rmSync(outside, { recursive: true, force: true });
    await stopWorkerProcess(a);
  });
  it("a job that keeps failing for a reason a retry might fix ends failed after its attempts, with its error", async () => {
    const a = await worker();
    // A model folder whose config.json is not JSON: loading fails inside the engine (not a wrong-input error).
    const broken = join(work, "broken-model");
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, "config.json"), "{ not json");
    copyFileSync(join(TINY, "tokenizer.json"), join(broken, "tokenizer.json"));
    copyFileSync(join(TINY, "tokenizer_config.json"), join(broken, "tokenizer_config.json"));
    copyFileSync(join(TINY, "model.safetensors"), join(broken, "model.safetensors"));
    const id = await jobs.submit({ ...tinySpec(2), model: broken }, { attempts: 2, backoffMs: 200 });
    const info = await jobs.wait(id);
    expect(info.status).toBe("failed");
    expect(info.attempts).toBe(2);
    expect(info.maxAttempts).toBe(2);
    expect(info.error, info.error ?? "").toMatch(/config\.json/);
    const errors = (await collect(id)).filter((e) => e.type === "error");
    expect(errors.map((e) => e.attempt)).toEqual([1, 2]);
    // The worker is still fine.
    const good = await jobs.wait(await jobs.submit(tinySpec(2)));
    expect(good.status, good.error ?? "").toBe("completed");
    await stopWorkerProcess(a);
  });
});

describe("retention", () => {
  it("prune removes ended jobs older than the cutoff with their Redis keys, and keeps the rest", async () => {
    const before = await jobs.list({ limit: 500 });
    const ended = before.filter((j) => ["completed", "failed", "cancelled"].includes(j.status));
    expect(ended.length).toBeGreaterThan(3);
    expect(await jobs.prune({ olderThanMs: 3_600_000 })).toEqual([]);
    const removed = await jobs.prune({ olderThanMs: 0 });
    expect(removed.sort()).toEqual(ended.map((j) => j.id).sort());
    for (const id of removed) {
      expect(await jobs.get(id)).toBeNull();
      expect(await jobs.history(id)).toBeNull();
    }
    expect(await jobs.list({ limit: 500 })).toEqual(before.filter((j) => !removed.includes(j.id)));
    await expect(jobs.prune({ olderThanMs: -1 })).rejects.toThrow(/olderThanMs/);
  });
});

describe("Redis with a password", () => {
  let secured: RedisHandle;
  beforeAll(async () => {
    secured = await startRedis(inject("redisServer"), { extraArgs: ["--requirepass", "s3cret pass"], password: "s3cret pass" });
  });
  afterAll(async () => secured?.stop());

  it("works with the password in the URL, and says why without it", async () => {
    const bare = secured.url.replace(/:[^@/]*@/, "");
    await expect(connectJobs({ redis: bare })).rejects.toThrow(/cannot use Redis at redis:\/\/127\.0\.0\.1:\d+: .*(NOAUTH|auth)/i);
    const client = await connectJobs({ redis: secured.url });
    const w = await startWorkerProcess(secured.url, ["--runs", runs]);
    try {
      const id = await client.submit({ kind: "evaluate", model: TINY, task: tinySpec(1).task, prompt: " careful step and think.", evaluation: { splits: ["test"], maxNewTokens: 40 } });
      const info: JobInfo = await client.wait(id);
      expect(info.status, info.error ?? "").toBe("completed");
      expect(info.result).toMatchObject({ kind: "evaluate", prompt: " careful step and think." });
      expect(info.result!.kind === "evaluate" && info.result!.counts.test!.total).toBe(12);
    } finally {
      await stopWorkerProcess(w);
      await client.close();
    }
  });
});

describe("Redis over TLS (rediss://)", () => {
  let tlsRedis: RedisHandle;
  let files: { ca: string; cert: string; key: string };
  beforeAll(async () => {
    const dir = mkdtempSync(join(work, "tls-"));
    files = makeTlsFiles(dir);
    tlsRedis = await startRedis(inject("redisServer"), { tls: files });
  });
  afterAll(async () => tlsRedis?.stop());

  it("a worker and a producer connect with the server's CA, and a connection without it is refused with the reason", async () => {
    expect(tlsRedis.url).toMatch(/^rediss:\/\//);
    await expect(connectJobs({ redis: tlsRedis.url })).rejects.toThrow(/cannot use Redis at rediss:\/\/127\.0\.0\.1:\d+: .*certificate/i);
    const client = await connectJobs({ redis: { url: tlsRedis.url, tlsCaFile: files.ca } });
    const w = await startWorkerProcess(tlsRedis.url, ["--redis-ca", files.ca, "--runs", runs]);
    try {
      const id = await client.submit({ kind: "evaluate", model: TINY, task: tinySpec(1).task, evaluation: { splits: ["test"], maxNewTokens: 40 } });
      const info = await client.wait(id);
      expect(info.status, info.error ?? "").toBe("completed");
      // No prompt given: the optimizer's default initial prompt (the paper's) is measured.
      expect(info.result).toMatchObject({ kind: "evaluate", prompt: " proper logical reasoning and think step by step. Finally give the actual correct answer." });
    } finally {
      await stopWorkerProcess(w);
      await client.close();
    }
  });
});
