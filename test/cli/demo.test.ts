// The README's main job, shortened: `greater demo --json` on the shipped tiny reasoning model must raise
// held-out accuracy. The demo's whole point is that GReaTer finds the words that matter, so the test
// asserts the improvement, on test questions the model and the optimizer never saw.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(__dirname, "..", "..");
const work = mkdtempSync(join(tmpdir(), "greater-demo-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("greater demo", () => {
  it("improves held-out test accuracy by at least 30 points and reports it as a JSON result line", () => {
    const out = join(work, "run");
    const r = spawnSync(process.execPath, [join(root, "bin", "greater.js"), "demo", "--json", "--steps", "4", "--train-size", "12", "--test-size", "120", "--out", out], {
      encoding: "utf8",
      timeout: 110_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(lines.some((e) => e.type === "step")).toBe(true);
    const result = lines.at(-1);
    expect(result.type).toBe("result");
    for (const field of ["initialAccuracy", "finalAccuracy", "initialPrompt", "finalPrompt", "seconds", "runDir"]) expect(result).toHaveProperty(field);
    expect(result.initialPrompt).toBe(" the answer and think.");
    expect(result.finalPrompt).not.toBe(result.initialPrompt);
    expect(result.finalAccuracy - result.initialAccuracy).toBeGreaterThanOrEqual(0.3);
    expect(result.runDir).toBe(out);
    for (const f of ["config.json", "events.jsonl", "state.json", "result.json", "plot.png"]) expect(existsSync(join(out, f))).toBe(true);
  }, 120_000);
});
