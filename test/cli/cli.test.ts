// End to end: the `greater` command as a user runs it — a spawned process on a tiny random Llama and a
// small BBH-format file the test writes — with its output and its run folder checked.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(__dirname, "..", "..");
const bin = join(root, "bin", "greater.js");
const model = join(root, "test", "optimizer", "fixtures", "random-llama");
const work = mkdtempSync(join(tmpdir(), "greater-cli-"));
const data = join(work, "navigate.csv");

function greater(args: string[], options: { timeout?: number } = {}) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: options.timeout ?? 300_000 });
}

const jsonLines = (text: string) => text.trim().split("\n").map((line) => JSON.parse(line));

// A navigate-style task: yes/no answers, so the preset's extractor and normaliser apply.
beforeAll(() => {
  const rows = ["goal,target,final_target"];
  for (let i = 0; i < 14; i++) {
    const steps = 1 + i;
    rows.push(`"If you follow these instructions, do you return to the starting point? Take ${steps} steps. Turn around. Take ${steps + (i % 2)} steps.",,${i % 2 ? "No" : "Yes"}`);
  }
  writeFileSync(data, rows.join("\n") + "\n");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const optimizeArgs = (out: string, steps: number) => [
  "optimize", "--model", model, "--task", "bbh:navigate", "--data", data, "--steps", String(steps),
  "--train-size", "4", "--dev-size", "3", "--test-size", "3", "--max-new-tokens", "6", "--out", out,
  "--init", " think about it step by step.", "--threads", "1",
];

describe("greater info", () => {
  it("prints the engine's libtorch and devices, and JSON with --json", () => {
    const text = greater(["info"]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/libtorch:\s+\d+\.\d+/);
    const info = JSON.parse(greater(["info", "--json"]).stdout);
    expect(info.devices).toContain("cpu");
  });
});

describe("greater optimize", () => {
  it("records a run folder and prints events and a result line with --json", () => {
    const out = join(work, "run-json");
    const r = greater([...optimizeArgs(out, 3), "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.filter((e) => e.type === "step").map((e) => e.step)).toEqual([0, 1, 2]);
    const result = lines.at(-1);
    expect(result.type).toBe("result");
    expect(result.stepsDone).toBe(3);
    expect(result.accuracy.initial.dev).toBeGreaterThanOrEqual(0);
    expect(result.accuracy.best.test).toBeLessThanOrEqual(1);
    for (const f of ["config.json", "events.jsonl", "state.json", "result.json"]) expect(existsSync(join(out, f))).toBe(true);
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(config.taskDescription.split.files[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(config.optimizer.seed).toBe(0);
    expect(jsonLines(readFileSync(join(out, "events.jsonl"), "utf8")).filter((e) => e.type === "step")).toHaveLength(3);
  });

  it("rejects unknown flags and bad values with a message naming them", () => {
    const unknown = greater(["optimize", "--bogus"]);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown option '--bogus'/);
    const bad = greater(["optimize", "--steps", "zero"]);
    expect(bad.stderr).toMatch(/--steps must be an integer/);
    const missing = greater(["optimize", "--model", model, "--task", "bbh:navigate", "--data", join(work, "absent.csv")]);
    expect(missing.stderr).toMatch(/absent\.csv/);
  });

  it("ends a run killed with SIGKILL mid-step, then resumed, with the same result as one never interrupted", async () => {
    const whole = join(work, "run-whole");
    expect(greater(optimizeArgs(whole, 5)).status).toBe(0);

    const killed = join(work, "run-killed");
    const child = spawn(process.execPath, [bin, ...optimizeArgs(killed, 5), "--json"], { stdio: ["ignore", "pipe", "ignore"] });
    // Kill it as soon as the second step has been reported: the third is then in flight.
    await new Promise<void>((resolvePromise) => {
      let seen = "";
      child.stdout.on("data", (chunk: Buffer) => {
        seen += chunk.toString();
        if ((seen.match(/"type":"step"/g) ?? []).length >= 2) {
          child.kill("SIGKILL");
          resolvePromise();
        }
      });
      child.on("exit", () => resolvePromise());
    });
    await new Promise((r) => child.once("close", r));
    expect(existsSync(join(killed, "result.json"))).toBe(false);
    const resumed = greater(["optimize", "--resume", killed, "--json"]);
    expect(resumed.status, resumed.stderr).toBe(0);
    const a = JSON.parse(readFileSync(join(whole, "result.json"), "utf8"));
    const b = JSON.parse(readFileSync(join(killed, "result.json"), "utf8"));
    expect(b.bestPrompt).toEqual(a.bestPrompt);
    expect(b.trainLoss).toBe(a.trainLoss);
    expect(b.accuracy).toEqual(a.accuracy);
    expect(b.topPrompts).toEqual(a.topPrompts);
    const stateA = JSON.parse(readFileSync(join(whole, "state.json"), "utf8"));
    const stateB = JSON.parse(readFileSync(join(killed, "state.json"), "utf8"));
    expect(stateB.optimizer.history.map((h: { chosen: unknown }) => h.chosen)).toEqual(stateA.optimizer.history.map((h: { chosen: unknown }) => h.chosen));
  });
});

describe("greater eval", () => {
  it("measures a text prompt on a split and writes per-example records", () => {
    const records = join(work, "records.jsonl");
    const r = greater(["eval", "--model", model, "--task", "bbh:navigate", "--data", data, "--prompt", " think step by step.",
      "--train-size", "4", "--dev-size", "3", "--split", "test", "--max-new-tokens", "6", "--records", records, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.split).toBe("test");
    const rows = jsonLines(readFileSync(records, "utf8"));
    expect(rows).toHaveLength(summary.total);
    expect(rows.filter((row) => row.correct).length).toBe(summary.correct);
    expect(rows[0]).toHaveProperty("reasoning");
  });
});

describe("greater plot", () => {
  it("draws a run into plot.svg and plot.png", () => {
    const out = join(work, "run-json");
    const r = greater(["plot", out]);
    expect(r.status, r.stderr).toBe(0);
    const svg = readFileSync(join(out, "plot.svg"), "utf8");
    expect(svg).toContain("<svg");
    expect(svg).toContain("train loss");
    const png = readFileSync(join(out, "plot.png"));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(greater(["plot", join(work, "nothing-here")]).stderr).toMatch(/nothing-here/);
  });
});

describe("greater bench --help", () => {
  it("is wired to the bench runner", () => {
    expect(execFileSync(process.execPath, [bin, "--help"], { encoding: "utf8" })).toMatch(/bench/);
  });
});
