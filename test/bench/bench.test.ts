// The bench suite's machinery, end to end, on the tiny committed model (`--quick`): both sides in their own
// processes, the figures, the results file and its table. It checks shapes and that both sides did the same
// step, never speed (a bench records figures; this only proves the recording works).
// The reference side runs in the tests' own Python environment (test/setup/python.ts: torch, transformers,
// safetensors), whatever the machine's python3 has, so the same-step check always runs.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const root = resolve(__dirname, "..", "..");
const work = mkdtempSync(join(tmpdir(), "greater-bench-"));
const resultsDir = join(work, "results");
const python = inject("testPython");
const hasGpu = spawnSync("nvidia-smi", ["-L"]).status === 0;

const FIGURES = [
  "load_time",
  "load_peak_memory",
  "forward_logprobs",
  "generate_b1",
  "generate_b9",
  "generate_b50",
  "one_hot_gradient",
  "step",
  "step_peak_memory",
];
const UNITS: Record<string, string> = {
  load_time: "ms",
  load_peak_memory: "MiB",
  forward_logprobs: "ms",
  one_hot_gradient: "ms",
  step: "ms",
  step_peak_memory: "MiB",
};

interface Figure {
  name: string;
  ours: number;
  reference: number | null;
  unit: string;
  ratio: number | null;
}
let run: ReturnType<typeof spawnSync>;
let result: {
  machine: string;
  date: string;
  device: string;
  threads: number;
  figures: Figure[];
  targets: { figure: string; met: boolean | null; ratio: number | null }[];
  stepAgreement: Record<string, { candidates: boolean; ranked: boolean; chosen: boolean } | null>;
};

beforeAll(() => {
  const args = [join(root, "bench", "run.mjs"), "--quick", "--results-dir", resultsDir, "--work-dir", join(work, "work"), "--machine", "test-box"];
  run = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", timeout: 240_000, env: { ...process.env, PYTHON: python } });
  const file = join(resultsDir, readdirSync(resultsDir).find((name) => name.endsWith(".json")) ?? "missing.json");
  result = JSON.parse(readFileSync(file, "utf8"));
}, 260_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("npm run bench -- --quick", () => {
  it("exits 0 and prints the table", () => {
    expect(run.status, String(run.stderr)).toBe(0);
    expect(String(run.stdout)).toMatch(/^figure\s+ours\s+reference\s+unit/m);
    for (const name of FIGURES) expect(String(run.stdout)).toContain(name);
  });

  it("writes <date>-<machine>-quick.json and its Markdown table", () => {
    const date = new Date().toISOString().slice(0, 10);
    expect(readdirSync(resultsDir).sort()).toEqual([`${date}-test-box-quick.json`, `${date}-test-box-quick.md`]);
    expect(result).toMatchObject({ machine: "test-box", date, threads: 2 });
    expect(result.device).toMatch(/^cpu/);
    const markdown = readFileSync(join(resultsDir, `${date}-test-box-quick.md`), "utf8");
    expect(markdown).toContain("| figure | ours | reference | unit |");
    expect(markdown).toContain("other processes may have been running");
  });

  it("has every figure once, with the results file's keys, units and positive numbers", () => {
    expect(result.figures.map((f) => f.name)).toEqual(FIGURES);
    for (const f of result.figures) {
      expect(Object.keys(f).sort()).toEqual(expect.arrayContaining(["name", "ours", "reference", "unit", "ratio"]));
      expect(f.unit).toBe(UNITS[f.name] ?? "tokens/s");
      expect(f.ours).toBeGreaterThan(0);
      expect(f.reference).toBeGreaterThan(0);
    }
  });

  it("gives ratios > 1 when ours is better: reference/ours for times and memory, ours/reference for tokens/s", () => {
    for (const f of result.figures) {
      const expected = f.unit === "tokens/s" ? f.ours / f.reference! : f.reference! / f.ours;
      expect(f.ratio).toBeCloseTo(expected, 10);
    }
    expect(result.targets.map((t) => t.figure)).toEqual(["step", "generate_b50", "step_peak_memory"]);
  });

  it("ran the same step on both sides: same candidates, ranking and chosen token", () => {
    expect(result.stepAgreement.quick).toEqual(expect.objectContaining({ candidates: true, ranked: true, chosen: true }));
  });
});

describe("the command line", () => {
  it("greater bench passes its arguments to the bench runner (-- --help prints the usage)", () => {
    const help = spawnSync(process.execPath, [join(root, "bin", "greater.js"), "bench", "--", "--help"], { cwd: root, encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--quick");
    expect(help.stdout).toContain("--gpu");
  });

  it("refuses unknown flags and bad thread counts, naming them", () => {
    const bench = (...args: string[]) => spawnSync(process.execPath, [join(root, "bench", "run.mjs"), ...args], { cwd: root, encoding: "utf8" });
    const unknown = bench("--fast");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/--fast/);
    const threads = bench("--threads", "0");
    expect(threads.status).toBe(2);
    expect(threads.stderr).toMatch(/--threads must be a positive integer, got 0/);
  });

  it.skipIf(hasGpu)("--gpu without a CUDA device says what it needs, before anything about Python", () => {
    const gpu = spawnSync(process.execPath, [join(root, "bench", "run.mjs"), "--gpu", "--no-reference", "--results-dir", join(work, "gpu")], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, PYTHON: join(work, "no-such-python") },
    });
    expect(gpu.status).toBe(1);
    expect(gpu.stderr).toMatch(/--gpu needs nvidia-smi and a CUDA device \(cuda\)/);
    expect(existsSync(join(work, "gpu"))).toBe(false);
  });
});
