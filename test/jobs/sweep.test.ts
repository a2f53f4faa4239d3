// `greater sweep` against a real Redis and two real workers: one job per task, run two at a time, and the
// paper-style table written to a file.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { CLI, ROOT, startRedis, startWorkerProcess, stopWorkerProcess, TINY, type RedisHandle, type WorkerProcess } from "./services.js";

const work = mkdtempSync(join(tmpdir(), "greater-sweep-"));
let redis: RedisHandle;
let workers: WorkerProcess[] = [];

beforeAll(async () => {
  redis = await startRedis(inject("redisServer"));
  workers = [
    await startWorkerProcess(redis.url, ["--runs", join(work, "runs"), "--allow-root", work]),
    await startWorkerProcess(redis.url, ["--runs", join(work, "runs"), "--allow-root", work]),
  ];
}, 120_000);

afterAll(async () => {
  await Promise.all(workers.map(stopWorkerProcess));
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
});

it("submits one job per task, runs two at once on two workers, and writes the table", async () => {
  // Three BBH-format task files made from the tiny model's questions.
  const questions = readFileSync(join(TINY, "task", "train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { question: string; answer: string });
  const files = ["alpha", "beta", "gamma"].map((name, i) => {
    const file = join(work, `${name}.json`);
    const examples = questions.slice(i * 30, i * 30 + 30).map((q) => ({ input: q.question, target: q.answer }));
    writeFileSync(file, JSON.stringify({ examples }));
    return file;
  });
  const out = join(work, "table.md");
  const args = [CLI, "sweep", "--redis", redis.url, "--model", TINY, "--tasks", files.join(","), "--steps", "2", "--train-size", "8", "--dev-size", "4",
    "--max-new-tokens", "40", "--eval-splits", "test", "--eval-limit", "6", "--init", " the answer and think.", "--out", out, "--json"];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise((r) => child.once("exit", r));
  expect(code, stderr).toBe(0);
  const lines = stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; task?: string; status?: string; rows?: { task: string; status: string; result: { accuracy: { initial: { test: number } }; startedAt?: string } }[] });
  const table = lines.find((l) => l.type === "table")!;
  expect(table.rows!.map((r) => [r.task, r.status])).toEqual(files.map((f) => [f, "completed"]));
  // One progress line per job as it moves (waiting/active/completed), never a wall of repeats.
  expect(lines.filter((l) => l.type === "job" && l.status === "completed").map((l) => l.task).sort()).toEqual([...files].sort());

  const markdown = readFileSync(out, "utf8");
  expect(markdown.split("\n")[0]).toBe("| task | status | test before | test after | best prompt |");
  for (const file of files) expect(markdown).toMatch(new RegExp(`\\| ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} \\| completed \\| \\d+\\.\\d% \\| \\d+\\.\\d% \\| ".*" \\|`));
  const details = JSON.parse(readFileSync(join(work, "table.json"), "utf8")) as { task: string; startedAt: string; finishedAt: string; result: { worker: string } }[];
  // Both workers took jobs, and two jobs ran at the same time.
  expect(new Set(details.map((d) => d.result.worker)).size).toBe(2);
  const overlaps = details.some((a) => details.some((b) => a !== b && a.startedAt < b.finishedAt && b.startedAt < a.finishedAt));
  expect(overlaps).toBe(true);
});
