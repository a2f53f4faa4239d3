// The jobs bench's machinery (bench/jobs.mjs --quick): it starts its own Redis and workers, measures, prints its
// table and writes its results files. It checks shapes, never the figures (those are the bench's).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, inject, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");
const results = mkdtempSync(join(tmpdir(), "greater-bench-jobs-"));
afterAll(() => rmSync(results, { recursive: true, force: true }));

it("npm run bench:jobs -- --quick writes jobs-<date>-<machine>-quick.json and .md", () => {
  const run = spawnSync(process.execPath, [join(root, "bench", "jobs.mjs"), "--quick", "--machine", "test-box", "--results-dir", results], {
    encoding: "utf8",
    timeout: 240_000,
    env: { ...process.env, GREATER_REDIS_SERVER: inject("redisServer") },
  });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/^\| queue overhead per step \(mean ± sd of the rounds' differences\) \| -?\d+\.\d ± \d+\.\d ms/m);
  const date = new Date().toISOString().slice(0, 10);
  expect(readdirSync(results).sort()).toEqual([`jobs-${date}-test-box-quick.json`, `jobs-${date}-test-box-quick.md`]);
  const result = JSON.parse(readFileSync(join(results, `jobs-${date}-test-box-quick.json`), "utf8"));
  expect(result.overhead).toMatchObject({ steps: 4, rounds: 1 });
  expect(result.overhead.perRound).toHaveLength(1);
  expect(result.overhead.stepMsInProcess).toBeGreaterThan(0);
  expect(result.throughput).toMatchObject({ jobs: 2, stepsPerJob: 2 });
  expect(result.throughput.oneWorkerSeconds).toBeGreaterThan(0);
  expect(result.throughput.twoWorkersSeconds).toBeGreaterThan(0);
});
