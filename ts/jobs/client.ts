// The producer side, for a Node service: submit a job spec, read its status and result, follow its events,
// cancel it, list jobs. The queue is BullMQ's on Redis; workers (worker.ts) anywhere pointing at the same
// Redis take the jobs.
import { randomUUID } from "node:crypto";
import { Queue, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { DEVICE_CLASSES, JobKeys, type DeviceClass } from "./keys.js";
import { checkReachable, openReachableRedis, openRedis, redisOptions, type RedisInput } from "./redis.js";
import { jobLabel, parseJobSpec, type JobSpec } from "./spec.js";
import { appendEvent, entryEvent, readEvents } from "./stream.js";
import { JOB_STATUSES, type JobEvent, type JobInfo, type JobProgress, type JobResult, type JobStatus } from "./types.js";

export interface JobsOptions {
  /** redis://[user:password@]host:port[/db], rediss://… for TLS, or { url, tlsCaFile }. */
  redis: RedisInput;
  /** Namespace of the queues and keys (default "greater"); workers must use the same. */
  prefix?: string;
}

export interface SubmitOptions {
  /** Attempts before the job ends failed (default 3). A worker that dies or stops hands the job back without using one. */
  attempts?: number;
  /** Wait before a retry, doubled each time (default 5000 ms). */
  backoffMs?: number;
}

export interface EventsOptions {
  /** Continue after this `seq` (default: from the first event, so a late subscriber gets the history first). */
  after?: string;
  signal?: AbortSignal;
  /** How long one wait for new events lasts before the job's status is looked at again (default 1000 ms). */
  pollMs?: number;
}

/** Marks a job failed by cancellation, so its status reads "cancelled". */
export const CANCELLED_PREFIX = "cancelled: ";

/** The job-layer client. Make one with {@link connectJobs}; close it when done. */
export class Jobs {
  private readonly queues: Record<DeviceClass, Queue>;
  private readonly readers = new Set<Redis>();

  /** @internal use connectJobs */
  constructor(
    private readonly redis: Redis,
    private readonly input: RedisInput,
    readonly keys: JobKeys,
  ) {
    this.queues = Object.fromEntries(
      DEVICE_CLASSES.map((device) => [device, new Queue(keys.queue(device), { connection: redis, prefix: keys.prefix })]),
    ) as Record<DeviceClass, Queue>;
    // Connection trouble shows where a call fails; ioredis reconnects meanwhile.
    for (const queue of Object.values(this.queues)) queue.on("error", () => {});
  }

  /** Checks the spec (throws a JobSpecError naming the field) and queues it; resolves with the job's id. */
  async submit(spec: unknown, options: SubmitOptions = {}): Promise<string> {
    const checked = parseJobSpec(spec);
    const device: DeviceClass = checked.device ?? "cpu";
    const id = randomUUID();
    await this.redis.hset(this.keys.index, id, device);
    await this.queues[device].add(checked.kind, checked, {
      jobId: id,
      attempts: options.attempts ?? 3,
      backoff: { type: "exponential", delay: options.backoffMs ?? 5000 },
    });
    return id;
  }

  /** The job's status, progress and result; null when no job has this id. */
  async get(id: string): Promise<JobInfo | null> {
    const device = (await this.redis.hget(this.keys.index, id)) as DeviceClass | null;
    if (device === null) return null;
    const job = await this.queues[device].getJob(id);
    if (job) return this.describe(job, device);
    const cancelled = await this.redis.hget(this.keys.cancelled, id);
    return cancelled === null ? null : (JSON.parse(cancelled) as JobInfo);
  }

  /**
   * Cancels a job. A queued job leaves the queue at once; a running one is stopped by its worker within one
   * phase (its model stays loaded for the next job). Resolves with the status after the request: "cancelled",
   * or the final status of a job that had already ended.
   */
  async cancel(id: string, reason = "cancelled by the caller"): Promise<JobStatus | null> {
    const device = (await this.redis.hget(this.keys.index, id)) as DeviceClass | null;
    if (device === null) return null;
    const job = await this.queues[device].getJob(id);
    if (!job) return (await this.get(id))?.status ?? null;
    const state = await job.getState();
    if (state === "completed" || state === "failed") return (await this.describe(job, device)).status;
    // The flag first: a worker that takes the job from here on sees it and ends it without running it.
    await this.redis.set(this.keys.cancel(id), reason);
    if (state !== "active") {
      const info = await this.describe(job, device);
      try {
        await job.remove();
        const record: JobInfo = { ...info, status: "cancelled", error: CANCELLED_PREFIX + reason, finishedAt: new Date().toISOString() };
        await this.redis.hset(this.keys.cancelled, id, JSON.stringify(record));
        await appendEvent(this.redis, this.keys.events(id), { type: "cancelled", reason });
        return "cancelled";
      } catch {
        // A worker took it meanwhile (its lock stops the removal): stop it where it runs.
      }
    }
    await this.redis.publish(this.keys.cancelChannel, id);
    return "cancelled";
  }

  /** Jobs, newest first, optionally only those with one status. */
  async list(options: { status?: JobStatus; limit?: number; offset?: number } = {}): Promise<JobInfo[]> {
    const { status, limit = 50, offset = 0 } = options;
    if (status !== undefined && !JOB_STATUSES.includes(status)) throw new Error(`jobs.list: unknown status ${JSON.stringify(status)} (${JOB_STATUSES.join(", ")})`);
    const bullTypes =
      status === undefined ? ["waiting", "prioritized", "delayed", "active", "completed", "failed"]
      : status === "waiting" ? ["waiting", "prioritized"]
      : status === "cancelled" ? ["failed"]
      : [status];
    const found: JobInfo[] = [];
    for (const device of DEVICE_CLASSES) {
      const jobs = await this.queues[device].getJobs(bullTypes as never);
      for (const job of jobs) if (job) found.push(await this.describe(job, device));
    }
    if (status === undefined || status === "cancelled") {
      for (const text of Object.values(await this.redis.hgetall(this.keys.cancelled))) found.push(JSON.parse(text) as JobInfo);
    }
    return found
      .filter((info) => status === undefined || info.status === status)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id))
      .slice(offset, offset + limit);
  }

  /**
   * The job's events as they happen: first those already recorded (from `after`), then live ones, ending with
   * `{ type: "end", status, result?, error? }` once the job has ended however it ended (a dead worker's job
   * included). Stop early with `signal` or by leaving the loop.
   */
  async *events(id: string, options: EventsOptions = {}): AsyncGenerator<JobEvent> {
    const { signal, pollMs = 1000 } = options;
    if ((await this.redis.hget(this.keys.index, id)) === null) throw new Error(`no job with id ${id}`);
    const reader = openRedis(this.input);
    this.readers.add(reader);
    const onAbort = () => reader.disconnect();
    signal?.addEventListener("abort", onAbort, { once: true });
    // The synthesized end event's seq is "<last id>-end": continuing after it starts after that last id.
    let after = (options.after ?? "0").replace(/-end$/, "");
    try {
      while (!signal?.aborted) {
        const read = async (blockMs: number | null) => {
          const args: (string | number)[] = blockMs === null ? ["COUNT", 100] : ["COUNT", 100, "BLOCK", blockMs];
          const reply = (await reader.xread(...(args as ["COUNT", number]), "STREAMS", this.keys.events(id), after)) as [string, [string, string[]][]][] | null;
          return reply?.[0]?.[1] ?? [];
        };
        let entries = await read(pollMs);
        if (entries.length === 0) {
          const info = await this.get(id);
          if (info === null || !["completed", "failed", "cancelled"].includes(info.status)) continue;
          // Ended: deliver what arrived meanwhile, then the end.
          entries = await read(null);
          for (const entry of entries) yield entryEvent(entry);
          if (entries.length > 0) after = entries[entries.length - 1][0];
          yield { seq: `${after}-end`, type: "end", status: info.status, result: info.result, error: info.error };
          return;
        }
        for (const entry of entries) {
          after = entry[0];
          yield entryEvent(entry);
        }
      }
    } catch (error) {
      if (!signal?.aborted) throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.readers.delete(reader);
      reader.disconnect();
    }
  }

  /** The events recorded so far (without waiting for more); null when no job has this id. */
  async history(id: string): Promise<JobEvent[] | null> {
    if ((await this.redis.hget(this.keys.index, id)) === null) return null;
    return readEvents(this.redis, this.keys.events(id));
  }

  /** Whether Redis answers now ("ok"), or why not. */
  async ping(timeoutMs = 2000): Promise<string> {
    return checkReachable(this.redis, redisOptions(this.input).url, timeoutMs).then(
      () => "ok",
      (error: Error) => error.message,
    );
  }

  /** Waits until the job has ended; resolves with its final info. */
  async wait(id: string, options: { signal?: AbortSignal; pollMs?: number } = {}): Promise<JobInfo> {
    for await (const event of this.events(id, options)) {
      if (event.type === "end") return (await this.get(id))!;
    }
    throw new Error(`stopped waiting for job ${id}`);
  }

  /**
   * Removes jobs that ended (completed, failed or cancelled) more than `olderThanMs` ago, with everything the job
   * layer keeps for them in Redis (events, state, config). Run folders on the workers' disks stay. Resolves with
   * the ids removed.
   */
  async prune(options: { olderThanMs: number }): Promise<string[]> {
    if (!Number.isFinite(options.olderThanMs) || options.olderThanMs < 0) throw new Error(`jobs.prune: olderThanMs must be a number ≥ 0, got ${options.olderThanMs}`);
    const cutoff = Date.now() - options.olderThanMs;
    const removed: string[] = [];
    const forget = async (id: string) => {
      await this.redis.del(this.keys.events(id), this.keys.state(id), this.keys.config(id), this.keys.cancel(id));
      await this.redis.hdel(this.keys.index, id);
      removed.push(id);
    };
    for (const device of DEVICE_CLASSES) {
      for (const job of await this.queues[device].getJobs(["completed", "failed"])) {
        if (!job?.id || (job.finishedOn ?? Infinity) > cutoff) continue;
        await job.remove();
        await forget(job.id);
      }
    }
    for (const [id, text] of Object.entries(await this.redis.hgetall(this.keys.cancelled))) {
      const finishedAt = Date.parse((JSON.parse(text) as JobInfo).finishedAt ?? "");
      if (!(finishedAt <= cutoff)) continue;
      await this.redis.hdel(this.keys.cancelled, id);
      await forget(id);
    }
    return removed;
  }

  /** Workers seen in the last `withinMs` (default a minute), with their devices and current jobs. */
  async workers(withinMs = 60_000): Promise<WorkerHeartbeat[]> {
    const now = Date.now();
    return Object.values(await this.redis.hgetall(this.keys.workers))
      .map((text) => JSON.parse(text) as WorkerHeartbeat)
      .filter((w) => now - w.seenAt <= withinMs);
  }

  async close(): Promise<void> {
    for (const reader of this.readers) reader.disconnect();
    await Promise.all(Object.values(this.queues).map((queue) => queue.close()));
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async describe(job: Job, device: DeviceClass): Promise<JobInfo> {
    const state = await job.getState();
    const failedReason = job.failedReason ?? null;
    const status: JobStatus =
      state === "completed" ? "completed"
      : state === "failed" ? (failedReason?.startsWith(CANCELLED_PREFIX) ? "cancelled" : "failed")
      : state === "active" ? "active"
      : state === "delayed" ? "delayed"
      : "waiting";
    const spec = job.data as JobSpec;
    const progress = job.progress && typeof job.progress === "object" ? (job.progress as unknown as JobProgress) : null;
    const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
    return {
      id: job.id!,
      status,
      label: jobLabel(spec),
      spec,
      device,
      progress,
      result: status === "completed" ? ((job.returnvalue as JobResult | undefined) ?? null) : null,
      error: status === "failed" || status === "cancelled" ? failedReason : state === "delayed" ? failedReason : null,
      attempts: job.attemptsStarted ?? job.attemptsMade,
      maxAttempts: job.opts.attempts ?? 1,
      createdAt: new Date(job.timestamp).toISOString(),
      startedAt: iso(job.processedOn),
      finishedAt: iso(job.finishedOn),
    };
  }
}

/** A worker's heartbeat, written every few seconds while it runs. */
export interface WorkerHeartbeat {
  id: string;
  host: string;
  pid: number;
  device: string;
  job: string | null;
  seenAt: number;
}

/** Connects to the job layer on Redis (fails fast, naming the address, when Redis cannot be reached). */
export async function connectJobs(options: JobsOptions): Promise<Jobs> {
  const input = redisOptions(options.redis);
  const keys = new JobKeys(options.prefix);
  const redis = await openReachableRedis(input);
  return new Jobs(redis, input, keys);
}
