// The job layer: GReaTer runs as BullMQ jobs on Redis, for Node services and for several devices and machines.
// It sits above the optimizer, tasks and runs; nothing below imports it.
export { connectJobs, Jobs, CANCELLED_PREFIX, type EventsOptions, type JobsOptions, type SubmitOptions, type WorkerHeartbeat } from "./client.js";
export { startWorker, deviceClassOf, type JobWorker, type WorkerOptions } from "./worker.js";
export { JobSpecSchema, JobSpecError, parseJobSpec, runInputs, jobLabel, type JobSpec } from "./spec.js";
export { JobKeys, DEVICE_CLASSES, type DeviceClass } from "./keys.js";
export { describeRedis, type RedisConnectionOptions, type RedisInput } from "./redis.js";
export { UntrustedPathError } from "./trust.js";
export {
  JOB_STATUSES,
  type EvaluationJobResult,
  type JobEvent,
  type JobInfo,
  type JobProgress,
  type JobResult,
  type JobStatus,
  type OptimizationJobResult,
} from "./types.js";
