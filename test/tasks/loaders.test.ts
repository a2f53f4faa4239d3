import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeTask } from "../../ts/tasks/describe.js";
import { TaskFileError } from "../../ts/tasks/files.js";
import { loadTask } from "../../ts/tasks/load.js";
import { gsm8kGold, loadBbhTask, loadCustomTask, loadFolioTask, loadGsm8kTask } from "../../ts/tasks/loaders.js";
import type { Task } from "../../ts/tasks/types.js";

const workDir = mkdtempSync(join(tmpdir(), "greater-tasks-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

function writeData(name: string, content: string): string {
  const path = join(workDir, name);
  writeFileSync(path, content);
  return path;
}

function csvField(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

/** A BBH CSV of `count` two-line yes/no questions; returns the path. */
function bbhCsv(name: string, count: number, answer = (index: number) => (index % 3 === 0 ? "Yes" : "No")): string {
  const rows = Array.from({ length: count }, (_, index) => {
    const gold = answer(index);
    return `${csvField(`Question ${index}: is it so?\nOptions:\n- Yes\n- No`)},${gold},${gold}`;
  });
  return writeData(name, ["goal,target,final_target", ...rows].join("\n") + "\n");
}

function allExamples(task: Task) {
  return [...task.train, ...task.dev, ...task.test];
}

function expectFileError(load: () => unknown, file: string, reason: RegExp): void {
  let caught: unknown;
  try {
    load();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(TaskFileError);
  expect((caught as TaskFileError).file).toBe(file);
  expect((caught as Error).message).toContain(file);
  expect((caught as Error).message).toMatch(reason);
}

describe("BBH CSV", () => {
  it("reads multi-line quoted questions, records where each record starts, and splits 50/100/rest", () => {
    const path = bbhCsv("my_yes_no.csv", 200);
    const task = loadBbhTask(path);
    expect(task.name).toBe("bbh:my_yes_no");
    expect(task.split.sizes).toEqual({ train: 50, dev: 100, test: 50 });
    const examples = allExamples(task);
    expect(examples).toHaveLength(200);
    // Each record takes 4 lines (the question has 3 newlines inside quotes); the header is line 1.
    const third = examples.find((example) => example.question.startsWith("Question 2:"))!;
    expect(third.source.line).toBe(2 + 2 * 4);
    expect(third.id).toBe(`my_yes_no.csv:${2 + 2 * 4}`);
    expect(third.question).toBe("Question 2: is it so?\nOptions:\n- Yes\n- No");
    expect(new Set(examples.map((example) => example.id)).size).toBe(200);
  });

  it("infers the format for a file without a preset and says so", () => {
    const task = loadBbhTask(bbhCsv("custom_yes_no.csv", 160));
    expect(task.formatOrigin).toBe("inferred");
    expect(task.format).toEqual({ kind: "choices", choices: ["Yes", "No"] });
    expect(task.extractor).toBe("Therefore, the final answer (use exact format: '$ Yes' or '$ No') is $ ");
    expect(task.formatNote).toMatch(/160 of 160 are Yes\/No/);
    expect(describeTask(task)).toMatchObject({ name: "bbh:custom_yes_no", formatOrigin: "inferred", formatNote: task.formatNote });
  });

  it("uses the preset when the file is named after a paper task, and letters lose their parentheses", () => {
    const rows = Array.from({ length: 160 }, (_, index) => {
      const letter = "AB"[index % 2];
      return `${csvField(`Which sentence ${index}?\nOptions:\n(A) one\n(B) two`)},(${letter}),(${letter})`;
    });
    const path = writeData("hyperbaton.json", ["goal,target,final_target", ...rows].join("\n"));
    const task = loadTask(path);
    expect(task.name).toBe("bbh:hyperbaton");
    expect(task.formatOrigin).toBe("preset");
    expect(task.extractor).toBe("Therefore, the final answer (use exact format: '$A' or '$B') is $");
    expect(new Set(allExamples(task).map((example) => example.answer))).toEqual(new Set(["A", "B"]));
    expect(task.normalise("(B)")).toBe(task.normalise("B$ because"));
  });

  it("reports bad rows with file and line and leaves them out", () => {
    const good = Array.from({ length: 160 }, (_, index) => `${csvField(`Good question ${index}\nsecond line`)},No,No`);
    const lines = [
      "goal,target,final_target",
      ...good.slice(0, 3), // records on lines 2, 4, 6
      `"",Yes,Yes`, // line 8: empty question
      `${csvField("No answer here")},,`, // line 9: missing answer
      `${csvField("Good question 0\nsecond line")},No,No`, // line 10: duplicate of line 2, same answer
      `${csvField("only two fields")},No`, // line 12: wrong field count
      ...good.slice(3),
    ];
    const path = writeData("bad_rows.csv", lines.join("\n") + "\n");
    const task = loadBbhTask(path);
    expect(task.issues.map((issue) => [issue.kind, issue.line])).toEqual([
      ["empty-question", 8],
      ["missing-answer", 9],
      ["duplicate-question", 10],
      ["invalid-record", 12],
    ]);
    expect(task.issues.every((issue) => issue.file === path)).toBe(true);
    expect(task.issues[2].message).toContain("bad_rows.csv line 2");
    expect(allExamples(task)).toHaveLength(160);
  });

  it("leaves out every copy of a question whose copies disagree", () => {
    const rows = Array.from({ length: 160 }, (_, index) => `${csvField(`Q${index}`)},Yes,Yes`);
    rows.push(`${csvField("Q5")},No,No`);
    const task = loadBbhTask(writeData("conflict.csv", ["goal,target,final_target", ...rows].join("\n")));
    expect(task.issues.map((issue) => [issue.kind, issue.line])).toEqual([
      ["duplicate-question", 7],
      ["duplicate-question", 162],
    ]);
    expect(allExamples(task).some((example) => example.question === "Q5")).toBe(false);
  });

  it("reports answers that do not fit a preset's format", () => {
    const rows = Array.from({ length: 160 }, (_, index) => `${csvField(`Movie ${index}\nOptions:\n(A) x\n(B) y`)},(A),(A)`);
    rows.splice(10, 1, `${csvField("Movie odd\nOptions:\n(A) Monsters\n(B) Inc")},"Monsters, Inc","Monsters, Inc"`);
    const path = writeData("movie_recommendation.csv", ["goal,target,final_target", ...rows].join("\n"));
    const task = loadTask("bbh:movie_recommendation", { file: path });
    expect(task.issues).toEqual([
      expect.objectContaining({ kind: "answer-format", file: path, line: 2 + 10 * 4, message: expect.stringContaining("Monsters, Inc") }),
    ]);
  });

  it("handles CRLF line endings and a byte-order mark", () => {
    const rows = Array.from({ length: 155 }, (_, index) => `${csvField(`Line one ${index}\r\nline two`)},valid,valid`);
    const path = writeData("crlf.csv", "\uFEFF" + ["goal,target,final_target", ...rows].join("\r\n") + "\r\n");
    const task = loadBbhTask(path);
    const examples = allExamples(task);
    expect(examples).toHaveLength(155);
    expect(examples.find((example) => example.question.startsWith("Line one 1\r"))!.source.line).toBe(4);
    expect(task.format).toEqual({ kind: "choices", choices: ["valid", "invalid"] });
  });

  it("gives one clear error for a wrong header, broken quoting, or too few rows", () => {
    const wrongHeader = writeData("wrong_header.csv", "question,answer\nq,a\n");
    expectFileError(() => loadBbhTask(wrongHeader), wrongHeader, /lacks the columns "goal", "target", "final_target"/);
    const unclosed = writeData("unclosed.csv", 'goal,target,final_target\n"never closed,Yes,Yes\n');
    expectFileError(() => loadBbhTask(unclosed), unclosed, /not a valid CSV file/);
    const small = bbhCsv("small.csv", 40);
    expectFileError(() => loadBbhTask(small), small, /has 40 usable examples, too few for the split \(train 50/);
    const missing = join(workDir, "missing.csv");
    expectFileError(() => loadBbhTask(missing), missing, /no such file/);
  });

  it("shrinks the default dev split of a small file but not a chosen one", () => {
    const path = bbhCsv("small_pool.csv", 146);
    expect(loadBbhTask(path).split.sizes).toEqual({ train: 50, dev: 48, test: 48 });
    expect(loadBbhTask(path, { sizes: { train: 20, dev: 100 } }).split.sizes).toEqual({ train: 20, dev: 100, test: 26 });
    expect(loadBbhTask(path, { sizes: { test: 10 } }).split.sizes).toEqual({ train: 50, dev: 48, test: 10 });
  });
});

describe("BBH JSON", () => {
  it("reads the original {examples:[{input,target}]} format with the line each example starts on", () => {
    const examples = Array.from({ length: 160 }, (_, index) => ({ input: `Is ${index} even?`, target: index % 2 === 0 ? "True" : "False" }));
    const text = JSON.stringify({ canary: "BENCHMARK DATA", examples }, null, 2);
    const path = writeData("parity.json", text);
    const task = loadBbhTask(path);
    expect(task.format).toEqual({ kind: "choices", choices: ["True", "False"] });
    const lines = text.split("\n");
    for (const example of allExamples(task).slice(0, 20)) {
      expect(lines[example.source.line - 1].trim()).toBe("{");
      expect(lines[example.source.line]).toContain(JSON.stringify(example.question));
    }
  });

  it("gives a clear error for invalid JSON or a JSON file without examples", () => {
    const broken = writeData("broken.json", '{"examples": [{"input": "x", "target": "y"},]');
    expectFileError(() => loadBbhTask(broken), broken, /not valid JSON/);
    const noExamples = writeData("no_examples.json", '{"data": []}');
    expectFileError(() => loadBbhTask(noExamples), noExamples, /"examples" array/);
    const jsonLines = writeData("lines.json", '{"question": "a", "answer": "b"}\n{"question": "c", "answer": "d"}\n');
    expectFileError(() => loadBbhTask(jsonLines), jsonLines, /holds JSON lines/);
  });
});

describe("GSM8K", () => {
  function gsm8kLines(count: number, offset = 0): string {
    return Array.from({ length: count }, (_, index) => {
      const value = (index + offset) * 1000;
      return JSON.stringify({
        question: `How much is ${index + offset} thousand?`,
        answer: `It is <<${index + offset}*1000=${value}>>${value}.\n#### ${value.toLocaleString("en-US")}`,
      });
    }).join("\n");
  }

  it("takes the number after ####, commas removed", () => {
    expect(gsm8kGold("work\n#### 1,080")).toBe("1080");
    expect(gsm8kGold("#### -5")).toBe("-5");
    expect(gsm8kGold("no marker")).toBeNull();
  });

  it("draws train and dev from train.jsonl and keeps test.jsonl whole, in order", () => {
    const train = writeData("gsm_train.jsonl", gsm8kLines(250) + "\n");
    const test = writeData("gsm_test.jsonl", gsm8kLines(30, 1000));
    const task = loadGsm8kTask({ train, test }, { seed: 7 });
    expect(task.split.sizes).toEqual({ train: 100, dev: 100, test: 30 });
    expect(task.test.map((example) => example.source.line)).toEqual(Array.from({ length: 30 }, (_, index) => index + 1));
    expect(task.test[2]).toMatchObject({ answer: "1002000", id: "gsm_test.jsonl:3" });
    expect(task.extractor).toBe("Therefore, the final numerical answer is $ ");
    expect(task.split.files.map((file) => file.path)).toEqual([train, test]);
  });

  it("reports an answer without #### and a broken line, and refuses a CSV", () => {
    const lines = gsm8kLines(210).split("\n");
    lines[4] = JSON.stringify({ question: "No marker?", answer: "just text" });
    lines[6] = "{broken json";
    const train = writeData("gsm_bad.jsonl", lines.join("\n"));
    const test = writeData("gsm_test2.jsonl", gsm8kLines(5, 5000));
    const task = loadGsm8kTask({ train, test });
    expect(task.issues.map((issue) => [issue.kind, issue.line])).toEqual([
      ["missing-answer", 5],
      ["invalid-record", 7],
    ]);
    const csv = bbhCsv("not_gsm.jsonl", 3);
    expectFileError(() => loadGsm8kTask({ train: csv, test }), csv, /expected GSM8K records .* as JSON lines, but the content is CSV/);
    const wrongKeys = writeData("wrong_keys.jsonl", '{"q": "x", "a": "y"}\n');
    expectFileError(() => loadGsm8kTask({ train: wrongKeys, test }), wrongKeys, /no record has the field "question"/);
  });
});

describe("FOLIO", () => {
  function folioCsv(name: string, count: number): string {
    const rows = Array.from({ length: count }, (_, index) => {
      const letter = "ABC"[index % 3];
      const goal = `Premise:\nFact ${name} ${index}.\n\nStatement: S${index}.\n\nOptions:\n(A) True\n(B) False\n(C) Uncertain`;
      return `${csvField(goal)},(${letter}),(${letter})`;
    });
    return writeData(name, ["goal,target,final_target", ...rows].join("\n"));
  }

  it("maps option letters to True/False/Uncertain and keeps each file as its split", () => {
    const task = loadFolioTask({ train: folioCsv("f_train.csv", 12), dev: folioCsv("f_dev.csv", 9), test: folioCsv("f_test.csv", 15) });
    expect(task.split.sizes).toEqual({ train: 12, dev: 9, test: 15 });
    expect(task.train[0].answer).toBe("True");
    expect(task.train[1].answer).toBe("False");
    expect(task.train[2].answer).toBe("Uncertain");
    expect(task.extractor).toBe("Therefore, the final answer (use exact format: '$ True' or '$ False' or '$ Uncertain') is $ ");
    expect(task.normalise(" uncertain.")).toBe(task.normalise("Uncertain"));
  });

  it("accepts answers written as words, and reports a letter the question does not list", () => {
    const rows = [
      `${csvField("Premise: a.\nOptions:\n(A) True\n(B) False\n(C) Uncertain")},False,False`,
      `${csvField("Premise: b.\nOptions:\n(A) True\n(B) False\n(C) Uncertain")},(D),(D)`,
      `${csvField("Premise: c.")},uncertain,uncertain`,
    ];
    const train = writeData("f_words.csv", ["goal,target,final_target", ...rows].join("\n"));
    const task = loadFolioTask({ train, dev: folioCsv("f_dev2.csv", 3), test: folioCsv("f_test2.csv", 3) });
    expect(task.train.map((example) => example.answer)).toEqual(["False", "Uncertain"]);
    expect(task.issues).toEqual([expect.objectContaining({ kind: "answer-format", file: train, line: 7 })]);
  });
});

describe("custom files", () => {
  it("reads JSON lines with a column mapping and infers the format", () => {
    const lines = Array.from({ length: 170 }, (_, index) => JSON.stringify({ prompt: `What is ${index} + 1?`, label: index + 1 }));
    const path = writeData("sums.jsonl", lines.join("\n"));
    const task = loadCustomTask({ name: "sums", file: path, columns: { question: "prompt", answer: "label" } });
    expect(task.format).toEqual({ kind: "integer", signed: false });
    expect(task.formatOrigin).toBe("inferred");
    expect(task.split.sizes).toEqual({ train: 50, dev: 100, test: 20 });
    expect(allExamples(task).find((example) => example.question === "What is 4 + 1?")!.answer).toBe("5");
  });

  it("reads CSV with a column mapping, a caller's extractor and normaliser", () => {
    const rows = Array.from({ length: 30 }, (_, index) => `${csvField(`Capital of country ${index}?`)},City${index}`);
    const path = writeData("capitals.csv", ["country,capital", ...rows].join("\n"));
    const test = writeData("capitals_test.csv", ["country,capital", `"Capital of Peru?",Lima`].join("\n"));
    const normalise = (answer: string) => answer.trim().toUpperCase();
    const task = loadCustomTask({
      name: "capitals",
      files: { train: path, test },
      columns: { question: "country", answer: "capital" },
      extractor: "So the capital is $ ",
      normalise,
      sizes: { train: 10, dev: 20 },
    });
    expect(task.extractor).toBe("So the capital is $ ");
    expect(task.normalise).toBe(normalise);
    expect(task.formatOrigin).toBe("custom");
    expect(task.split.sizes).toEqual({ train: 10, dev: 20, test: 1 });
    const missingColumn = writeData("no_capital.csv", "country,city\nx,y\n");
    expectFileError(
      () => loadCustomTask({ name: "x", file: missingColumn, columns: { question: "country", answer: "capital" } }),
      missingColumn,
      /lacks the column "capital"/,
    );
  });
});

describe("loadTask", () => {
  it("finds bbh:<task>, gsm8k and folio files under dataDir and explains a missing one", () => {
    const dataDir = join(workDir, "data");
    expect(() => loadTask("bbh:navigate", { dataDir })).toThrow(/bbh:navigate: no task file at .*navigate\.csv or .*navigate\.json/);
    expect(() => loadTask("gsm8k", { dataDir })).toThrow(/train\.jsonl: no such file/);
    expect(() => loadTask("no-such-task")).toThrow(/unknown task "no-such-task"/);
  });
});

describe("split", () => {
  it("is reproducible from the seed, disjoint, and recorded with file hashes", () => {
    const path = bbhCsv("seeded.csv", 200);
    const first = loadBbhTask(path, { seed: 3 });
    const again = loadBbhTask(path, { seed: 3 });
    const other = loadBbhTask(path, { seed: 4 });
    const ids = (task: Task) => ({ train: task.train.map((e) => e.id), dev: task.dev.map((e) => e.id), test: task.test.map((e) => e.id) });
    expect(ids(again)).toEqual(ids(first));
    expect(ids(other).train).not.toEqual(ids(first).train);
    const all = [...first.train, ...first.dev, ...first.test].map((example) => example.id);
    expect(new Set(all).size).toBe(200);
    // Shuffled, not file order.
    expect(first.train.map((example) => example.source.line)).not.toEqual([...first.train.map((example) => example.source.line)].sort((a, b) => a - b));
    expect(first.split).toMatchObject({ seed: 3, sizes: { train: 50, dev: 100, test: 50 } });
    expect(first.split.files).toEqual([{ path, sha256: createHash("sha256").update(readFileSync(path)).digest("hex") }]);
  });
});
