// Tokenizer folders that used to hang loadTokenizer (issue "Hostile input"): a FIFO for a file, a chat template that
// loops or asks range() for 10^8 numbers, a vocabulary id of 10^9. Each is refused within seconds, naming the file.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { ChatTemplate, loadTokenizer, TokenizerFileError } from "../../ts/text/index.js";
import { boundedRange, RANGE_LIMIT } from "../../ts/text/jinja-bounds.js";
import { TOKENIZER_DIRS } from "./helpers.js";

const scratch = mkdtempSync(join(tmpdir(), "greater-hostile-tokenizers-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;

/** A copy of the tiny tokenizer's folder with files replaced (a string) or made into FIFOs ("fifo"). */
function folder(replace: Record<string, string>): string {
  const dir = join(scratch, String(count++));
  mkdirSync(dir);
  for (const file of ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]) copyFileSync(join(TOKENIZER_DIRS["tiny-bytelevel"], file), join(dir, file));
  for (const [file, contents] of Object.entries(replace)) {
    rmSync(join(dir, file), { force: true });
    if (contents === "fifo") execFileSync("mkfifo", [join(dir, file)]);
    else writeFileSync(join(dir, file), contents);
  }
  return dir;
}
const config = (change: Record<string, unknown>) =>
  JSON.stringify({ ...JSON.parse(readFileSync(join(TOKENIZER_DIRS["tiny-bytelevel"], "tokenizer_config.json"), "utf8")), ...change });

async function loadError(dir: string): Promise<Error> {
  const started = Date.now();
  const error = await loadTokenizer(dir).then(() => undefined, (e: unknown) => e);
  expect(Date.now() - started).toBeLessThan(20_000);
  expect(error).toBeInstanceOf(TokenizerFileError);
  return error as Error;
}

describe("tokenizer folders that used to hang", () => {
  test.each(["tokenizer.json", "tokenizer_config.json", "chat_template.jinja"])("%s as a FIFO is refused at once", async (file) => {
    const dir = folder({ [file]: "fifo" });
    expect((await loadError(dir)).message).toBe(`${join(dir, file)} is a FIFO (named pipe), not a regular file`);
  });

  test("a chat template that loops is stopped at load, naming its origin", async () => {
    const dir = folder({ "tokenizer_config.json": config({ chat_template: "{% for i in range(100) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}" }) });
    expect((await loadError(dir)).message).toMatch(/did not finish within 1,000,000 steps \(does it loop\?\)/);
  });

  test("range(10**8) in a chat template is refused before it builds the list", async () => {
    const dir = folder({ "tokenizer_config.json": config({ chat_template: "{% for i in range(100000000) %}x{% endfor %}" }) });
    expect((await loadError(dir)).message).toMatch(/range\(\) of 100000000 numbers in a chat template \(at most 100000 are allowed\)/);
  });

  test("a vocabulary id of 10^9 is refused before the library sizes a table by it", async () => {
    const json = JSON.parse(readFileSync(join(TOKENIZER_DIRS["tiny-bytelevel"], "tokenizer.json"), "utf8"));
    const token = Object.keys(json.model.vocab)[10];
    json.model.vocab[token] = 1e9;
    const dir = folder({ "tokenizer.json": JSON.stringify(json) });
    expect((await loadError(dir)).message).toContain(`field "model.vocab" (token ${JSON.stringify(token)}): the id 1000000000 is not a token id from 0 to 16777215`);
  });
});

describe("the bounds leave real templates alone", () => {
  test("range() as Python's, up to the limit", () => {
    expect(boundedRange(3)).toEqual([0, 1, 2]);
    expect(boundedRange(5, 1, -2)).toEqual([5, 3]);
    expect(boundedRange(RANGE_LIMIT)).toHaveLength(RANGE_LIMIT);
    expect(() => boundedRange(0, 1, 0)).toThrow(/step must not be zero/);
  });

  test("a template using range() and a long conversation renders", () => {
    const template = new ChatTemplate("{% for m in messages %}{% for i in range(2) %}{{ m['content'] }}{% endfor %}{% endfor %}", "test", {});
    const messages = Array.from({ length: 500 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: String(i % 10) }));
    expect(template.render(messages, { addGenerationPrompt: false })).toHaveLength(1000);
  });
});
