// A run's events in Redis: one stream per job, one entry per event, the event as JSON in field "e". Writers and
// readers (worker, producer, API) go through these so that the encoding is said once.
import type { ChainableCommander, Redis } from "ioredis";
import type { JobEvent } from "./types.js";

const FIELD = "e";

/** Appends `event` to the stream `key` (on a connection, or inside a MULTI). */
export function appendEvent<T extends Redis | ChainableCommander>(client: T, key: string, event: object): ReturnType<T["xadd"]> {
  return client.xadd(key, "*", FIELD, JSON.stringify(event)) as ReturnType<T["xadd"]>;
}

/** One stream entry as the event it holds, with its position in the stream as `seq`. */
export function entryEvent([seq, fields]: [string, string[]]): JobEvent {
  return { ...(JSON.parse(fields[fields.indexOf(FIELD) + 1]) as { type: string }), seq };
}

/** Every event in the stream `key` so far. */
export async function readEvents(redis: Redis, key: string): Promise<JobEvent[]> {
  return ((await redis.xrange(key, "-", "+")) as [string, string[]][]).map(entryEvent);
}
