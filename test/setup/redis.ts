// vitest's global setup: the job tests need a real `redis-server` (Debian's package, 7.x); each test file starts
// its own server.
import type { TestProject } from "vitest/node";
import { ensureDebianCommand } from "./debian.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The redis-server executable. */
    redisServer: string;
  }
}

export default function setup(project: TestProject): void {
  project.provide("redisServer", ensureDebianCommand("redis-server", { package: "redis-server", override: "GREATER_REDIS_SERVER", purpose: "the job-queue tests" }));
}
