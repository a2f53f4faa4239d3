// Encodings equal the Python `tokenizers` library's on the strings of the fixture (drawn from data/ by
// tools/make_tokenizer_fixtures.py), for real tokenizers and the tiny ByteLevel one.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { readFixture, TOKENIZER_DIRS, tokenizer, type TokenizerName } from "./helpers.js";

interface EncodingsFixture {
  tokenizerJsonSha256: string;
  idsWithoutSpecialTokens: number[][];
  idsWithSpecialTokens: number[][];
}

const strings = readFixture<string[]>("strings.json");

test("the fixture strings are many and cover leading spaces, newlines, digits and non-ASCII text", () => {
  expect(strings.length).toBeGreaterThanOrEqual(500);
  expect(strings.filter((s) => s.startsWith(" ")).length).toBeGreaterThan(50);
  expect(strings.filter((s) => s.includes("\n")).length).toBeGreaterThan(50);
  expect(strings.filter((s) => /\d/.test(s)).length).toBeGreaterThan(50);
  expect(strings.filter((s) => /[^\x00-\x7f]/.test(s)).length).toBeGreaterThan(50);
});

const NAMES: TokenizerName[] = ["llama3", "qwen3", "llama2", "mistral", "tiny-bytelevel", "tiny-bytelevel-gpt2"];
/** Tokenizers whose decode gives back every string (Llama 2's and Mistral's SentencePiece decoders drop a leading space). */
const LOSSLESS: TokenizerName[] = ["llama3", "qwen3", "tiny-bytelevel", "tiny-bytelevel-gpt2"];

describe.each(NAMES)("%s", (name) => {
  const fixture = readFixture<EncodingsFixture>(`encodings/${name}.json`);

  test("the fixture was made from this tokenizer.json", () => {
    const sha = createHash("sha256").update(readFileSync(join(TOKENIZER_DIRS[name], "tokenizer.json"))).digest("hex");
    expect(sha, "tokenizer.json changed: run python3 tools/make_tokenizer_fixtures.py").toBe(fixture.tokenizerJsonSha256);
  });

  test(`encodes all ${strings.length} strings as the Python tokenizers library does`, async () => {
    const tok = await tokenizer(name);
    const mismatches = strings
      .map((s, k) => ({ s, expected: fixture.idsWithoutSpecialTokens[k], actual: tok.encode(s) }))
      .filter(({ expected, actual }) => JSON.stringify(expected) !== JSON.stringify(actual));
    expect(mismatches.slice(0, 3)).toEqual([]);
  });

  test("with special tokens too (the post-processor's BOS, where it has one)", async () => {
    const tok = await tokenizer(name);
    fixture.idsWithSpecialTokens.forEach((expected, k) => {
      expect(tok.encode(strings[k], { addSpecialTokens: true })).toEqual(expected);
    });
  });

  if (LOSSLESS.includes(name)) {
    test("decode gives every string back", async () => {
      const tok = await tokenizer(name);
      const lost = strings.filter((s, k) => tok.decode(fixture.idsWithoutSpecialTokens[k]) !== s);
      expect(lost).toEqual([]);
    });
  }
});

interface DecodingsFixture {
  [name: string]: { tokenizerJsonSha256: string; cases: Array<{ ids: number[]; text: string }> };
}

// Byte tokens decode as the Python library decodes them: a run that is valid UTF-8 becomes its text, a broken run
// one U+FFFD per byte (ts/text/byte-fallback.ts), where @huggingface/tokenizers alone gives one per broken sequence.
describe.each(["llama2", "mistral"] as const)("%s: byte-token runs decode as in Python", (name) => {
  const fixture = readFixture<DecodingsFixture>("decodings.json")[name];

  test("the fixture was made from this tokenizer.json", () => {
    const sha = createHash("sha256").update(readFileSync(join(TOKENIZER_DIRS[name], "tokenizer.json"))).digest("hex");
    expect(sha).toBe(fixture.tokenizerJsonSha256);
  });

  test(`all ${fixture.cases.length} runs, valid and broken`, async () => {
    const tok = await tokenizer(name);
    expect(fixture.cases.some((c) => c.text.includes("\ufffd\ufffd"))).toBe(true); // the cases that tell the two rules apart
    for (const c of fixture.cases) expect(tok.decode(c.ids), JSON.stringify(c.ids)).toBe(c.text);
  });
});
