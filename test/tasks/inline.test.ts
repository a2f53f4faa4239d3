// Tasks given as data (a queued job's inline examples): split like a custom file, recorded with a content hash.
import { describe, expect, it } from "vitest";
import { loadInlineTask } from "../../ts/tasks/index.js";

const pairs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ question: `What is ${from + i} + 1?`, answer: String(from + i + 1) }));

describe("loadInlineTask", () => {
  it("keeps given splits as they are, infers the format and hashes each split", () => {
    const task = loadInlineTask({ name: "sums", examples: { train: pairs(5), dev: pairs(2, 10), test: pairs(3, 20) } });
    expect([task.train.length, task.dev.length, task.test.length]).toEqual([5, 2, 3]);
    expect(task.format).toEqual({ kind: "integer", signed: false });
    expect(task.train[0]).toMatchObject({ id: "train:1", question: "What is 0 + 1?", answer: "1", source: { file: "inline:sums/train", line: 1 } });
    expect(task.split.files.map((f) => f.path)).toEqual(["inline:sums/train", "inline:sums/dev", "inline:sums/test"]);
    const again = loadInlineTask({ name: "sums", examples: { train: pairs(5), dev: pairs(2, 10), test: pairs(3, 20) } });
    expect(again.split.files).toEqual(task.split.files);
    const changed = loadInlineTask({ name: "sums", examples: { train: pairs(5, 1), dev: pairs(2, 10), test: pairs(3, 20) } });
    expect(changed.split.files[0].sha256).not.toBe(task.split.files[0].sha256);
  });

  it("deals train out to train and dev when no dev is given, by seed, and reports bad rows with their line", () => {
    const train = [...pairs(8), { question: "What is 3 + 1?", answer: "5" }];
    const a = loadInlineTask({ name: "t", examples: { train, test: pairs(2, 50) }, sizes: { train: 4, dev: 2 }, seed: 1 });
    const b = loadInlineTask({ name: "t", examples: { train, test: pairs(2, 50) }, sizes: { train: 4, dev: 2 }, seed: 2 });
    expect([a.train.length, a.dev.length]).toEqual([4, 2]);
    expect(a.train.map((e) => e.id)).not.toEqual(b.train.map((e) => e.id));
    // The same question with another answer: neither copy is trusted.
    expect(a.issues.filter((i) => i.kind === "duplicate-question").map((i) => i.line).sort()).toEqual([4, 9]);
    expect(loadInlineTask({ name: "t", extractor: "So the answer is $", examples: { train: pairs(4), test: pairs(2, 9) } }).extractor).toBe("So the answer is $");
  });
});
