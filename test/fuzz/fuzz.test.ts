// Fuzzing the loaders (issue "Hostile input"): seeded mutations of safetensors headers, config.json, tokenizer.json /
// tokenizer_config.json and task files (CSV and JSON lines), each kind loaded one after another in a child process
// (test/fuzz/runner.mjs, over the compiled package) under a time limit. Every mutation must load, or be refused with a
// typed error (EngineError, TokenizerFileError, TaskFileError) whose message names the file; the process must
// neither crash nor hang. The seed and the counts are in the test names: a failure is reproduced with
// `node test/fuzz/runner.mjs KIND SEED COUNT /tmp/fuzz` and the case number it reports.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");
const SEED = 20261205;
const COUNT = 1500;
const TYPED = ["EngineError", "TokenizerFileError", "TaskFileError"];
const work = mkdtempSync(join(tmpdir(), "greater-fuzz-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface CaseLine { case: number; outcome: "loaded" | "refused"; error?: string; message?: string; file?: string }

describe.each(["safetensors", "config", "tokenizer", "task"])("fuzz %s", (kind) => {
  it(`${COUNT} mutations (seed ${SEED}): no crash, no hang, every refusal typed and naming the file`, () => {
    const dir = join(work, kind);
    const run = spawnSync(process.execPath, [join(root, "test", "fuzz", "runner.mjs"), kind, String(SEED), String(COUNT), dir], {
      encoding: "utf8",
      timeout: 240_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const lines = run.stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as CaseLine & { start?: number });
    const lastStarted = lines.filter((line) => line.start !== undefined).at(-1)?.start;
    const ended = run.signal ? `killed by ${run.signal}` : `exit ${run.status}`;
    expect(run.status, `the runner ${ended} at case ${lastStarted} (node test/fuzz/runner.mjs ${kind} ${SEED} ${COUNT} DIR): ${run.stderr.slice(-2000)}`).toBe(0);

    const cases = lines.filter((line) => line.case !== undefined);
    expect(cases).toHaveLength(COUNT);
    const refused = cases.filter((c) => c.outcome === "refused");
    const untyped = refused.filter((c) => !TYPED.includes(c.error ?? ""));
    expect(untyped.slice(0, 5), "refusals with an untyped error").toEqual([]);
    const unnamed = refused.filter((c) => !(c.message ?? "").includes(join(dir, "")));
    expect(unnamed.slice(0, 5), "refusals that do not name the file").toEqual([]);
    // The mutations must exercise both paths: some inputs still load, most are refused.
    expect(refused.length).toBeGreaterThan(COUNT / 4);
    expect(cases.length - refused.length).toBeGreaterThan(0);
  }, 300_000);
});
