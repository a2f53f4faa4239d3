// Bytes that are not UTF-8 in a task file are read as U+FFFD and reported in task.issues with file and line
// (issue "Hostile input"); the rows stay in the task. A task path that does not exist, an empty file and an
// unclosed quote each get a message that says what is wrong, and where.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCustomTask } from "../../ts/tasks/loaders.js";
import { loadTask } from "../../ts/tasks/load.js";

const work = mkdtempSync(join(tmpdir(), "greater-utf8-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("task files with bytes that are not UTF-8", () => {
  it("reports each line holding them, and keeps the rows", () => {
    const lines = Array.from({ length: 12 }, (_, i) => Buffer.from(JSON.stringify({ question: `What is ${i} + 1?`, answer: String(i + 1) }) + "\n"));
    lines[3] = Buffer.concat([Buffer.from('{"question": "caf'), Buffer.from([0xe9]), Buffer.from(' 3 + 1?", "answer": "4"}\n')]);
    lines[7] = Buffer.concat([Buffer.from('{"question": "x '), Buffer.from([0xff, 0xfe]), Buffer.from(' 7 + 1?", "answer": "8"}\n')]);
    const file = join(work, "sums.jsonl");
    writeFileSync(file, Buffer.concat(lines));
    const task = loadCustomTask({ name: "sums", file, columns: { question: "question", answer: "answer" }, sizes: { train: 4, dev: 4 } });
    const utf8 = task.issues.filter((issue) => issue.kind === "invalid-utf8");
    expect(utf8.map((issue) => [issue.file, issue.line])).toEqual([[file, 4], [file, 8]]);
    expect(utf8[0].message).toMatch(/not UTF-8; they were read as U\+FFFD/);
    const all = [...task.train, ...task.dev, ...task.test];
    expect(all).toHaveLength(12);
    expect(all.some((example) => example.question.includes("caf\ufffd 3 + 1?"))).toBe(true);
  });

  it("a valid file has no such issue", () => {
    const file = join(work, "clean.jsonl");
    writeFileSync(file, Array.from({ length: 12 }, (_, i) => JSON.stringify({ question: `Q ${i} é?`, answer: String(i) })).join("\n") + "\n");
    const task = loadCustomTask({ name: "clean", file, columns: { question: "question", answer: "answer" }, sizes: { train: 4, dev: 4 } });
    expect(task.issues.filter((issue) => issue.kind === "invalid-utf8")).toEqual([]);
  });
});

describe("a task path that does not exist", () => {
  it("says there is no such file, instead of 'unknown task'", () => {
    expect(() => loadTask("/nonexistent.json")).toThrow("/nonexistent.json: no such task file (the path does not exist)");
    expect(() => loadTask("navigate")).toThrow(/unknown task "navigate"/);
  });
});

describe("messages that say what is wrong, and where", () => {
  it("an empty file is called empty, whatever its extension", () => {
    const file = join(work, "empty.jsonl");
    writeFileSync(file, "\n \n");
    expect(() => loadCustomTask({ name: "x", file, columns: { question: "question", answer: "answer" } })).toThrow(`${file}: the file is empty: no header and no rows`);
  });

  it("an unclosed quote is reported at the line where it opens, not where the file ends", () => {
    const file = join(work, "unclosed.csv");
    writeFileSync(file, 'goal,target,final_target\n"Fine, ""quoted"" question",,Yes\n"Never closed,,No\nthird,,Yes\nfourth,,No\n');
    expect(() => loadTask(file)).toThrow(`${file}: not a valid CSV file: the quote that opens at line 3 is never closed`);
  });
});
