// The mask of tokens a prompt may never take: the paper's rule and its options, special tokens, the on-disk cache.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { disallowedTokenMask, isAllowedTokenText, type ModelTokenizer } from "../../ts/text/index.js";
import { tokenizer } from "./helpers.js";

const scratch = mkdtempSync(join(tmpdir(), "greater-mask-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the rule on a token's text", () => {
  const cases: Array<[string, boolean, boolean, boolean]> = [
    // text, strict, punctuation, ascii
    [" the", true, true, true],
    ["Hello", true, true, true],
    ["  ", true, true, true],
    [".", true, true, true],
    [",", true, true, true],
    [" ", true, true, true],
    [" .", false, true, true],
    ["?", false, true, true],
    ["'s", false, true, true],
    ["_", false, true, true],
    [" 12", false, false, true],
    ["\n", false, false, false],
    ["\t", false, false, false],
    [" café", false, false, false],
    ["\uFFFD", false, false, false],
    ["", false, false, false],
  ];
  for (const [text, strict, punctuation, ascii] of cases) {
    test(JSON.stringify(text), () => {
      expect([isAllowedTokenText(text, "strict"), isAllowedTokenText(text, "punctuation"), isAllowedTokenText(text, "ascii")])
        .toEqual([strict, punctuation, ascii]);
    });
  }
  test("strict is the default; an unknown rule is refused", () => {
    expect(isAllowedTokenText("?")).toBe(false);
    expect(() => isAllowedTokenText("a", "loose" as never)).toThrow(/unknown candidate filter rule "loose"/);
  });
});

describe.each(["llama3", "qwen3", "tiny-bytelevel", "tiny-bytelevel-gpt2"] as const)("%s mask", (name) => {
  test("1 for special, added, digit, newline and non-ASCII tokens; 0 for words, '.', ','", async () => {
    const tok = await tokenizer(name);
    const started = performance.now();
    const mask = disallowedTokenMask(tok, { cacheDir: null });
    console.log(`${name}: candidate mask over ${tok.vocabSize} tokens computed in ${(performance.now() - started).toFixed(0)} ms`);
    expect(mask).toBeInstanceOf(Uint8Array);
    expect(mask.length).toBe(tok.vocabSize);
    for (const id of [...tok.specialTokenIds, ...tok.addedTokenIds]) expect(mask[id], tok.idToToken(id)).toBe(1);
    const single = (text: string) => {
      const ids = tok.encode(text);
      expect(ids.length, text).toBe(1);
      return ids[0];
    };
    for (const text of [" the", ".", ",", " and"]) expect(mask[single(text)], text).toBe(0);
    for (const text of ["\n", "1", "?", " $"]) expect(mask[single(text)], text).toBe(1);
    // Every allowed token decodes to letters and spaces or is one of ".", ",", " ".
    const allowed = [...mask.keys()].filter((id) => mask[id] === 0);
    expect(allowed.length).toBeGreaterThan(100);
    for (const id of allowed) expect(tok.decode([id])).toMatch(/^([A-Za-z ]+|\.|,)$/);
  });

  test("the punctuation rule allows more, never less", async () => {
    const tok = await tokenizer(name);
    const strict = disallowedTokenMask(tok, { cacheDir: null });
    const punctuation = disallowedTokenMask(tok, { cacheDir: null, rule: "punctuation" });
    expect(punctuation[tok.encode("?")[0]]).toBe(0);
    expect(strict.every((blocked, id) => blocked === 1 || punctuation[id] === 0)).toBe(true);
  });
});

test("Qwen 3: a non-ASCII token (a byte of a multi-byte character) is disallowed", async () => {
  const tok = await tokenizer("qwen3");
  const mask = disallowedTokenMask(tok, { cacheDir: null });
  for (const id of tok.encode("日本 café")) if (!/^[A-Za-z ]+$/.test(tok.decode([id]))) expect(mask[id]).toBe(1);
});

describe("cache", () => {
  test("written once per tokenizer and rule, read back on the next call", async () => {
    const tok = await tokenizer("llama3");
    const cacheDir = join(scratch, "llama3");
    const computed = disallowedTokenMask(tok, { cacheDir });
    const files = readdirSync(cacheDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^candidate-mask-strict-[0-9a-f]{32}\.bin$/);
    // Tamper with the cached file: the next call must return what the file says, proving it was read.
    const tampered = Uint8Array.from(computed);
    tampered[tok.encode(" the")[0]] = 1;
    writeFileSync(join(cacheDir, files[0]), tampered);
    expect(disallowedTokenMask(tok, { cacheDir })).toEqual(tampered);
    disallowedTokenMask(tok, { cacheDir, rule: "punctuation" });
    expect(readdirSync(cacheDir)).toHaveLength(2);
  });

  test("a cached file of the wrong length is ignored and rewritten", async () => {
    const tok = await tokenizer("tiny-bytelevel");
    const cacheDir = join(scratch, "tiny");
    const computed = disallowedTokenMask(tok, { cacheDir });
    const [file] = readdirSync(cacheDir);
    writeFileSync(join(cacheDir, file), new Uint8Array(10));
    expect(disallowedTokenMask(tok, { cacheDir })).toEqual(computed);
    expect(disallowedTokenMask(tok, { cacheDir })).toEqual(computed);
  });

  test("a tokenizer without a fingerprint is not cached", async () => {
    const tok = await tokenizer("tiny-bytelevel");
    const anonymous: ModelTokenizer = {
      vocabSize: tok.vocabSize, bosTokenId: tok.bosTokenId, eosTokenId: tok.eosTokenId, padTokenId: tok.padTokenId,
      stopTokenIds: tok.stopTokenIds, specialTokenIds: tok.specialTokenIds,
      encode: (text, options) => tok.encode(text, options), decode: (ids, options) => tok.decode(ids, options),
      renderUserTurn: (content) => tok.renderUserTurn(content),
    };
    const cacheDir = join(scratch, "anonymous");
    expect(disallowedTokenMask(anonymous, { cacheDir })).toEqual(disallowedTokenMask(tok, { cacheDir: null }));
    expect(existsSync(cacheDir)).toBe(false);
  });
});

test("vocabSize pads the mask for a model's extra embedding rows, which are disallowed", async () => {
  const tok = await tokenizer("tiny-bytelevel");
  const mask = disallowedTokenMask(tok, { cacheDir: null, vocabSize: tok.vocabSize + 8 });
  expect(mask.length).toBe(tok.vocabSize + 8);
  expect([...mask.slice(tok.vocabSize)]).toEqual(new Array(8).fill(1));
  expect(() => disallowedTokenMask(tok, { cacheDir: null, vocabSize: 10 })).toThrow(/smaller than the tokenizer's vocabulary/);
});
