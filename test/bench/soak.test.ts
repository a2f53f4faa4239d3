// The soak bench's machinery (bench/soak.mjs --quick): it runs, prints its table and writes its results files with
// RSS at start, middle and end of both phases. It checks shapes, never memory figures (those are the bench's).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");
const results = mkdtempSync(join(tmpdir(), "greater-soak-"));
afterAll(() => rmSync(results, { recursive: true, force: true }));

describe("npm run bench:soak -- --quick", () => {
  it("writes soak-<date>-<machine>-quick.json and .md with RSS samples of both phases", () => {
    const run = spawnSync(process.execPath, ["--expose-gc", join(root, "bench", "soak.mjs"), "--quick", "--machine", "test-box", "--results-dir", results],
      { encoding: "utf8", timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^\| phase \| calls \| RSS start/m);
    const date = new Date().toISOString().slice(0, 10);
    expect(readdirSync(results).sort()).toEqual([`soak-${date}-test-box-quick.json`, `soak-${date}-test-box-quick.md`]);
    const result = JSON.parse(readFileSync(join(results, `soak-${date}-test-box-quick.json`), "utf8"));
    expect(result.generations.count).toBe(20);
    expect(result.loadDispose.count).toBe(4);
    for (const phase of [result.generations.rssMiB, result.loadDispose.rssMiB]) {
      for (const key of ["start", "middle", "end"]) expect(phase[key]).toBeGreaterThan(50);
    }
    expect(result.generations.tokens).toBeGreaterThan(0);
  });

  it("refuses a bad count, naming the flag", () => {
    const run = spawnSync(process.execPath, [join(root, "bench", "soak.mjs"), "--cycles", "0"], { encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--cycles must be a positive integer, got 0/);
  });
});
