// bench/profile.mjs: profiles of greedy generation at the batch sizes asked for, with the top of each summary
// printed; bad options are refused with the usage.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(__dirname, "..", "..");
const script = join(root, "bench", "profile.mjs");
const out = mkdtempSync(join(tmpdir(), "greater-bench-profile-"));

describe("bench/profile.mjs", () => {
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("profiles generate at each batch size and prints where the time went", () => {
    const run = spawnSync(process.execPath, [script, "--profile", "quick", "--batches", "1,3", "--tokens", "3", "--prompt-tokens", "20", "--out", out], {
      cwd: root,
      encoding: "utf8",
      timeout: 120_000,
    });
    // Kineto may log a line or two of its own on stderr; the script's own errors start with its name.
    expect(run.stderr).not.toMatch(/bench\/profile\.mjs:/);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/== batch 1: \d+ ms, [\d.]+ ms per new token/);
    expect(run.stdout).toMatch(/== batch 3: \d+ ms/);
    expect(run.stdout).toMatch(/CPU self time per op/);
    expect(run.stdout).toMatch(/aten::/);
    const files = readdirSync(out);
    expect(files.filter((f) => f.endsWith("-generate.txt"))).toHaveLength(2);
    expect(files.filter((f) => f.endsWith("-generate.json"))).toHaveLength(2);
  });

  it("refuses a bad batch list with the usage", () => {
    const run = spawnSync(process.execPath, [script, "--batches", "1,x"], { cwd: root, encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--batches must list whole numbers >= 1, got "1,x"/);
    expect(run.stderr).toMatch(/usage: node bench\/profile.mjs/);
  });
});
