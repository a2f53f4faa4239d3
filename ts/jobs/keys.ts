// Where the job layer keeps things in Redis, beside BullMQ's own keys. One prefix namespaces a whole
// installation (BullMQ's queues use it too), so several can share one Redis.
export type DeviceClass = "cpu" | "cuda";

export const DEVICE_CLASSES: readonly DeviceClass[] = ["cpu", "cuda"];

export class JobKeys {
  constructor(readonly prefix = "greater") {
    if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) throw new Error(`job prefix ${JSON.stringify(prefix)}: use letters, digits, "_", "." or "-"`);
  }

  /** The BullMQ queue a device class's workers take jobs from. */
  queue(device: DeviceClass): string {
    return `jobs-${device}`;
  }
  /** Hash: job id -> device class (so a lookup by id knows the queue). */
  get index(): string {
    return `${this.prefix}:index`;
  }
  /** Stream of the run's events (history and live). */
  events(id: string): string {
    return `${this.prefix}:run:${id}:events`;
  }
  /** The optimizer state after the last completed step (JSON), written before the step is reported. */
  state(id: string): string {
    return `${this.prefix}:run:${id}:state`;
  }
  /** The run's config.json, fixed when the run first starts, so every attempt continues the same run. */
  config(id: string): string {
    return `${this.prefix}:run:${id}:config`;
  }
  /** Set when a caller cancels the job (the reason). */
  cancel(id: string): string {
    return `${this.prefix}:run:${id}:cancel`;
  }
  /** Hash of jobs cancelled before any worker took them (they leave the queue). */
  get cancelled(): string {
    return `${this.prefix}:cancelled`;
  }
  /** Pub/sub channel on which cancellations reach the worker running the job. */
  get cancelChannel(): string {
    return `${this.prefix}:cancel`;
  }
  /** Hash: worker id -> JSON heartbeat (device, host, pid, current job, last seen). */
  get workers(): string {
    return `${this.prefix}:workers`;
  }
}
