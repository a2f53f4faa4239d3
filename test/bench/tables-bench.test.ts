// The tables bench's machinery (bench/tables.mjs) on one family and one seed, both suite models: every method runs,
// every number is scored on the family's held-out test file, random search gets GReaTer's budget, the transfer
// moves GReaTer's prompt between the models, and the README's tables are the committed results' tables.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { editDistance, markdown, meanSd, README_END, README_START, spliceReadme, summarise } from "../../bench/lib/tables.mjs";

const root = resolve(import.meta.dirname, "..", "..");
const suiteDir = join(root, "bench", "suite");
const results = mkdtempSync(join(tmpdir(), "greater-bench-tables-"));
afterAll(() => rmSync(results, { recursive: true, force: true }));

const examples = (family: string, split: string): { input: string; target: string }[] =>
  JSON.parse(readFileSync(join(suiteDir, family, `${split}.json`), "utf8")).examples;

describe("the task suite", () => {
  const suite = JSON.parse(readFileSync(join(suiteDir, "suite.json"), "utf8"));
  const families = Object.keys(suite.families);

  it("has five families, each with its own words, and test questions found in no other split", () => {
    expect(families).toEqual(["arithmetic", "navigate", "boolean", "counting", "ordering"]);
    const words = families.flatMap((f) => [suite.families[f].process, suite.families[f].manner]);
    expect(new Set(words).size).toBe(10);
    for (const family of families) {
      const test = examples(family, "test");
      const seen = new Set([...examples(family, "train"), ...examples(family, "dev")].map((e) => e.input));
      expect(test.length).toBe(180);
      expect(test.filter((e) => seen.has(e.input))).toEqual([]);
      expect(new Set(test.map((e) => e.input)).size).toBe(test.length);
    }
  });
});

describe("table helpers", () => {
  it("counts token edits and summarises seeds", () => {
    expect(editDistance([1, 2, 3, 4], [1, 2, 3, 4])).toBe(0);
    expect(editDistance([1, 2, 3, 4], [9, 2, 8, 4])).toBe(2);
    expect(editDistance([1, 2, 3], [1, 2, 3, 5])).toBe(1);
    expect(meanSd([0.5, 0.7, 0.9]).mean).toBeCloseTo(0.7, 12);
    expect(meanSd([0.5, 0.7, 0.9]).n).toBe(3);
    expect(meanSd([0.5, 0.7, 0.9]).sd).toBeCloseTo(0.2, 12);
    expect(meanSd([])).toEqual({ mean: null, sd: null, n: 0 });
  });

  it("replaces only the README's marked block, and refuses a README without the markers", () => {
    const readme = `# x\n\n${README_START}\nold\n${README_END}\n\nrest\n`;
    const out = spliceReadme(readme, "| new |", "a.json");
    expect(out).toContain("| new |");
    expect(out).not.toContain("old");
    expect(out.endsWith(`${README_END}\n\nrest\n`)).toBe(true);
    expect(() => spliceReadme("# no markers", "t", "a.json")).toThrow(/markers/);
  });
});

it("npm run bench:tables on one family and one seed: every method, held-out scores, transfer both ways", () => {
  const run = spawnSync(
    process.execPath,
    [join(root, "bench", "tables.mjs"), "--families", "counting", "--seeds", "1", "--steps", "2", "--train", "8", "--no-readme", "--machine", "test-box", "--results-dir", results],
    { encoding: "utf8", timeout: 240_000 },
  );
  expect(run.status, run.stderr).toBe(0);
  const date = new Date().toISOString().slice(0, 10);
  expect(readdirSync(results).sort()).toEqual([`tables-${date}.json`, `tables-${date}.md`]);
  const out = JSON.parse(readFileSync(join(results, `tables-${date}.json`), "utf8"));
  expect(out.models).toEqual(["suite-llama", "suite-qwen2"]);
  expect(out.runs).toHaveLength(2 * 5);
  const testSize = examples("counting", "test").length;
  for (const r of out.runs) {
    expect(r.test.total).toBe(testSize);
    expect(r.test.accuracy).toBeCloseTo(r.test.correct / r.test.total, 12);
  }
  for (const model of out.models) {
    const of = (method: string) => out.runs.find((r: { model: string; method: string }) => r.model === model && r.method === method);
    expect(of("initial-prompt")).toMatchObject({ prompt: out.suite.initialPrompt, evaluations: 0, editsFromInitial: 0 });
    expect(of("greater").evaluations).toBeGreaterThan(0);
    expect(of("random-search").evaluations).toBeLessThanOrEqual(of("greater").evaluations);
    for (const method of ["greater", "random-search", "gcg", "greater-no-fluency"]) expect(of(method).steps).toBeGreaterThan(0);
  }
  // The engine's score of the initial prompt is transformers' (tools/tiny_suite/study.py, the same test file).
  for (const model of out.models) {
    const study = JSON.parse(readFileSync(join(root, "models", model, "study.json"), "utf8"));
    const initial = study.families.counting.prompts.find((p: { label: string }) => p.label === "neutral (initial)");
    const ours = out.runs.find((r: { model: string; method: string }) => r.model === model && r.method === "initial-prompt");
    expect(initial.text).toBe(out.suite.initialPrompt);
    expect(ours.test.accuracy).toBeCloseTo(initial.accuracy, 12);
  }
  expect(out.transfers.map((t: { from: string; to: string }) => `${t.from}→${t.to}`)).toEqual(["suite-llama→suite-qwen2", "suite-qwen2→suite-llama"]);
  for (const t of out.transfers) {
    const source = out.runs.find((r: { model: string; method: string }) => r.model === t.from && r.method === "greater");
    expect(t.prompt).toBe(source.prompt);
    expect(t.test.total).toBe(testSize);
  }
  const md = readFileSync(join(results, `tables-${date}.md`), "utf8");
  expect(md).toContain("**Table 1 — suite-llama**");
  expect(md).toMatch(/^\| counting \| \d+\.\d \| /m);
  expect(md).toContain("| suite-qwen2→suite-llama | counting |");
  expect(md.trim()).toBe(markdown(out, summarise(out)).trim());
});

it("the README's tables are those of the latest committed bench/results/tables-*.json", () => {
  const files = readdirSync(join(root, "bench", "results")).filter((f) => /^tables-\d{4}-\d{2}-\d{2}\.json$/.test(f)).sort();
  expect(files.length).toBeGreaterThan(0);
  const latest = JSON.parse(readFileSync(join(root, "bench", "results", files[files.length - 1]), "utf8"));
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const block = readme.slice(readme.indexOf(README_START), readme.indexOf(README_END));
  expect(block).toContain(markdown(latest, summarise(latest)));
});
