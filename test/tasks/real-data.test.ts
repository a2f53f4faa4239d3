// The loaders on the real benchmark files that ship with the package (data/), found without a dataDir.
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTask } from "../../ts/tasks/load.js";
import { presetNames } from "../../ts/tasks/presets.js";

const dataDir = resolve(import.meta.dirname, "../../data");

describe("real benchmark files", () => {
  it("loads every BBH file: the paper's 21 with presets, the others with an inferred format", () => {
    const files = readdirSync(join(dataDir, "bbh")).filter((name) => name.endsWith(".csv"));
    expect(files.length).toBeGreaterThanOrEqual(23);
    const presets = new Set(presetNames());
    for (const file of files) {
      const name = `bbh:${file.replace(/\.csv$/, "")}`;
      const task = loadTask(name);
      expect(task.formatOrigin, name).toBe(presets.has(name) ? "preset" : "inferred");
      expect(task.split.sizes.train, name).toBe(50);
      expect(task.split.sizes.test, name).toBeGreaterThanOrEqual(20);
      for (const example of [...task.train, ...task.dev, ...task.test]) {
        // Every gold answer, as the optimizer appends it, normalises to itself.
        expect(task.normalise(example.answer), `${name} ${example.id}`).toBe(task.normalise(`$${example.answer}$`));
        expect(example.question.length).toBeGreaterThan(0);
      }
    }
  });

  it("reads known BBH rows exactly", () => {
    const navigate = loadTask("bbh:navigate");
    const all = [...navigate.train, ...navigate.dev, ...navigate.test];
    expect(all).toHaveLength(250);
    // The first record of navigate.csv starts on line 2 and spans 4 lines.
    const first = all.find((example) => example.source.line === 2)!;
    expect(first.question.startsWith("If you follow these instructions, do you return to the starting point?")).toBe(true);
    expect(first.question.endsWith("Options:\n- Yes\n- No")).toBe(true);
    expect(first.answer).toBe("No");
    expect(all.find((example) => example.source.line === 6)).toBeDefined();

    const hyperbaton = loadTask("bbh:hyperbaton");
    expect(new Set([...hyperbaton.train, ...hyperbaton.dev, ...hyperbaton.test].map((example) => example.answer))).toEqual(new Set(["A", "B"]));
  });

  it("reports the known flaws of the upstream BBH files", () => {
    const movies = loadTask("bbh:movie_recommendation");
    expect(movies.issues).toEqual([expect.objectContaining({ kind: "answer-format", message: expect.stringContaining("Monsters, Inc") })]);
    const causal = loadTask("bbh:causal_judgement");
    expect(causal.issues.filter((issue) => issue.kind === "duplicate-question")).toHaveLength(4);
    const penguins = loadTask("bbh:penguins_in_a_table");
    expect(penguins.split.sizes).toEqual({ train: 50, dev: 48, test: 48 });
  });

  it("loads GSM8K: 100 train and 100 dev from train.jsonl, the 1319 test questions", () => {
    const task = loadTask("gsm8k");
    expect(task.split.sizes).toEqual({ train: 100, dev: 100, test: 1319 });
    expect(task.issues).toEqual([]);
    expect(task.test[0].question.startsWith("Janet’s ducks lay 16 eggs per day.")).toBe(true);
    expect(task.test[0].answer).toBe("18");
    expect(task.split.files.map((file) => file.sha256)).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/), expect.stringMatching(/^[0-9a-f]{64}$/)]);
    for (const example of [...task.train, ...task.dev, ...task.test]) expect(example.answer).toMatch(/^-?\d+(\.\d+)?$/);
  });

  it("loads FOLIO with True/False/Uncertain answers", () => {
    const task = loadTask("folio");
    expect(task.split.sizes).toEqual({ train: 100, dev: 100, test: 203 });
    expect(task.issues).toEqual([]);
    expect(new Set(task.test.map((example) => example.answer))).toEqual(new Set(["True", "False", "Uncertain"]));
  });
});
