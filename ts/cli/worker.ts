// `greater worker`: takes jobs for one device from the queue on Redis until SIGTERM/SIGINT, then hands the
// running job back (its last completed step is stored) and exits 0.
import { startWorker } from "../jobs/worker.js";

export interface WorkerFlags {
  redis: string;
  redisCa?: string;
  device: string;
  allowRoot: string[];
  runs?: string;
  prefix?: string;
  threads?: number;
  lockDuration?: number;
  stalledInterval?: number;
}

export async function workerCommand(flags: WorkerFlags, signal: AbortSignal): Promise<number> {
  const worker = await startWorker({
    redis: { url: flags.redis, tlsCaFile: flags.redisCa },
    device: flags.device,
    allowRoots: flags.allowRoot,
    runsDir: flags.runs,
    prefix: flags.prefix,
    threads: flags.threads,
    lockDurationMs: flags.lockDuration,
    stalledIntervalMs: flags.stalledInterval,
    log: (line) => console.error(`[${new Date().toISOString()}] ${line}`),
  });
  await new Promise<void>((resolveStop) => {
    if (signal.aborted) resolveStop();
    signal.addEventListener("abort", () => resolveStop(), { once: true });
  });
  console.error(`[${new Date().toISOString()}] stopping: the running job, if any, goes back to the queue from its last completed step`);
  await worker.close();
  return 0;
}
