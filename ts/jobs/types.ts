// What the job layer's callers see: a job's status, progress, result and events.
import type { RunResult } from "../runs/run.js";
import type { SplitName } from "../tasks/types.js";
import type { DeviceClass } from "./keys.js";
import type { JobSpec } from "./spec.js";

/** waiting (queued, or handed back), delayed (waiting to retry after a failed attempt), active, then one of the last three. */
export type JobStatus = "waiting" | "delayed" | "active" | "completed" | "failed" | "cancelled";

export const JOB_STATUSES: readonly JobStatus[] = ["waiting", "delayed", "active", "completed", "failed", "cancelled"];

/** Where a running job is: reported after every completed step and phase. */
export interface JobProgress {
  phase: "loading" | "evaluating" | "optimizing" | "done";
  /** Completed steps and the run's most steps. */
  step: number;
  steps: number;
  loss: number | null;
  bestLoss: number | null;
  prompt: string | null;
  bestPrompt: string | null;
  worker: string;
}

/** The result of an `evaluate` job. */
export interface EvaluationJobResult {
  kind: "evaluate";
  prompt: string;
  accuracy: Partial<Record<SplitName, number>>;
  counts: Partial<Record<SplitName, { correct: number; total: number }>>;
  seconds: number;
  worker: string;
}

/** The result of an `optimize` job: the run's result.json, and where its folder is. */
export interface OptimizationJobResult extends RunResult {
  kind: "optimize";
  worker: string;
}

export type JobResult = OptimizationJobResult | EvaluationJobResult;

export interface JobInfo {
  id: string;
  status: JobStatus;
  /** The spec's name, else its task. */
  label: string;
  spec: JobSpec;
  device: DeviceClass;
  progress: JobProgress | null;
  result: JobResult | null;
  /** Why it failed or was cancelled. */
  error: string | null;
  /** Attempts started (a worker that died or was stopped and handed the job back does not use one up). */
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** One entry of a job's event stream: the run's own events (start, step, eval, …) and the job's. */
export interface JobEvent {
  /** Position in the stream; pass it as `after` to continue from here. */
  seq: string;
  type: string;
  [field: string]: unknown;
}
