// vitest's global setup: the job tests need a real `redis-server` (Debian's package, 7.x). When it is missing
// and this is a Debian machine where we may install packages (root with apt-get), it is installed, as .ci/run
// does; otherwise the setup says exactly what to install. Each test file starts its own server.
import { execFileSync, spawnSync } from "node:child_process";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** The redis-server executable. */
    redisServer: string;
  }
}

function which(command: string): string | null {
  const r = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

export function ensureRedisServer(log: (line: string) => void = (line) => console.error(line)): string {
  const found = process.env.GREATER_REDIS_SERVER ?? which("redis-server");
  if (found) return found;
  if (process.getuid?.() === 0 && which("apt-get")) {
    log("greater tests: installing redis-server (Debian's package) for the job-queue tests");
    execFileSync("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null"], { stdio: "inherit", timeout: 600_000 });
    const installed = which("redis-server");
    if (installed) return installed;
  }
  throw new Error("the job-queue tests need redis-server (7.x): install it (Debian: apt-get install redis-server) or set GREATER_REDIS_SERVER");
}

export default function setup(project: TestProject): void {
  project.provide("redisServer", ensureRedisServer());
}
