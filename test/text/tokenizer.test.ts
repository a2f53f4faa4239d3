// loadTokenizer: special tokens and stop tokens from the model folder's files, the chat template against
// transformers' apply_chat_template, and errors that name the file and field at fault.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { loadTokenizer, TokenizerFileError } from "../../ts/text/index.js";
import { CHAT_TOKENIZERS, readFixture, TOKENIZER_DIRS, tokenizer } from "./helpers.js";

interface ChatFixture {
  cases: Array<{ kwargs: Record<string, unknown>; content: string; text: string; ids: number[] }>;
}

describe("special tokens and stop tokens", () => {
  test("Llama 3: BOS and EOS from tokenizer_config.json, <|eot_id|> found as the assistant's end of turn", async () => {
    const tok = await tokenizer("llama3");
    expect(tok.vocabSize).toBe(128256);
    expect(tok.idToToken(tok.bosTokenId!)).toBe("<|begin_of_text|>");
    expect(tok.idToToken(tok.eosTokenId!)).toBe("<|end_of_text|>");
    expect(tok.padTokenId).toBeNull();
    expect(tok.stopTokenIds).toEqual([tok.tokenToId("<|end_of_text|>"), tok.tokenToId("<|eot_id|>")]);
    expect(tok.specialTokenIds.size).toBe(256);
    expect(tok.specialTokenIds.has(tok.tokenToId("<|reserved_special_token_0|>")!)).toBe(true);
  });

  test("Qwen 3: no BOS, pad <|endoftext|>, stop on <|im_end|>; <think> is an added token that is not special", async () => {
    const tok = await tokenizer("qwen3");
    expect(tok.bosTokenId).toBeNull();
    expect(tok.idToToken(tok.eosTokenId!)).toBe("<|im_end|>");
    expect(tok.idToToken(tok.padTokenId!)).toBe("<|endoftext|>");
    expect(tok.stopTokenIds).toEqual([tok.tokenToId("<|im_end|>")]);
    const think = tok.tokenToId("<think>")!;
    expect(tok.addedTokenIds.has(think)).toBe(true);
    expect(tok.specialTokenIds.has(think)).toBe(false);
  });

  test("Llama 2: BOS/EOS/unk, BOS added only when asked for, no chat template", async () => {
    const tok = await tokenizer("llama2");
    expect([tok.bosTokenId, tok.eosTokenId, tok.unkTokenId]).toEqual([1, 2, 0]);
    expect(tok.encode("Hello")[0]).not.toBe(1);
    expect(tok.encode("Hello", { addSpecialTokens: true })[0]).toBe(1);
    expect(tok.hasChatTemplate).toBe(false);
    expect(() => tok.renderUserTurn("Hi")).toThrow(/tokenizer_config\.json has no "chat_template"/);
  });

  test("tiny ByteLevel tokenizer: stop tokens from generation_config.json's eos_token_id list", async () => {
    const tok = await tokenizer("tiny-bytelevel");
    const generation = JSON.parse(readFileSync(join(TOKENIZER_DIRS["tiny-bytelevel"], "generation_config.json"), "utf8"));
    expect(tok.stopTokenIds).toEqual(generation.eos_token_id);
    expect(tok.idToToken(tok.padTokenId!)).toBe("<|pad|>");
    expect(tok.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("chat template equals transformers' apply_chat_template", () => {
  for (const name of [...CHAT_TOKENIZERS, "mistral"] as const) {
    test(name, async () => {
      const fixture = readFixture<ChatFixture>(`chat/${name}.json`);
      for (const c of fixture.cases) {
        const tok = await tokenizer(name, { chatTemplateKwargs: c.kwargs });
        const text = tok.renderUserTurn(c.content);
        expect(text).toBe(c.text);
        expect(tok.encode(text)).toEqual(c.ids);
      }
    });
  }

  test("Qwen 3 with enable_thinking false closes an empty think block in the header", async () => {
    const tok = await tokenizer("qwen3", { chatTemplateKwargs: { enable_thinking: false } });
    expect(tok.renderUserTurn("Hi").endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n")).toBe(true);
  });
});

describe("chat template sources", () => {
  const scratch = mkdtempSync(join(tmpdir(), "greater-tokenizer-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** A copy of the tiny tokenizer's folder with some files replaced. */
  function folder(name: string, replace: Record<string, string | null> = {}): string {
    const dir = join(scratch, name);
    mkdirSync(dir, { recursive: true });
    for (const file of ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]) {
      copyFileSync(join(TOKENIZER_DIRS["tiny-bytelevel"], file), join(dir, file));
    }
    for (const [file, contents] of Object.entries(replace)) {
      if (contents === null) rmSync(join(dir, file));
      else writeFileSync(join(dir, file), contents);
    }
    return dir;
  }
  const tinyConfig = () => JSON.parse(readFileSync(join(TOKENIZER_DIRS["tiny-bytelevel"], "tokenizer_config.json"), "utf8"));

  test("chat_template.jinja takes precedence over tokenizer_config.json's field", async () => {
    const tok = await loadTokenizer(folder("jinja-file", { "chat_template.jinja": "[{{ messages[0]['content'] }}]" }));
    expect(tok.renderUserTurn("Hi")).toBe("[Hi]");
  });

  test("the chatTemplate option gives a tokenizer without one a template", async () => {
    const tok = await loadTokenizer(TOKENIZER_DIRS.llama2, { chatTemplate: "{{ bos_token }}[INST] {{ messages[0]['content'] }} [/INST]" });
    expect(tok.renderUserTurn("Hi")).toBe("<s>[INST] Hi [/INST]");
  });

  test("a list of named templates: the one named default is used", async () => {
    const config = { ...tinyConfig(), chat_template: [{ name: "tool_use", template: "T" }, { name: "default", template: "D" }] };
    const tok = await loadTokenizer(folder("named", { "tokenizer_config.json": JSON.stringify(config) }));
    expect(tok.renderUserTurn("Hi")).toBe("D");
  });
});

describe("errors name the file and field", () => {
  const scratch = mkdtempSync(join(tmpdir(), "greater-tokenizer-errors-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  let count = 0;
  function folder(replace: Record<string, string | null>): string {
    const dir = join(scratch, String(count++));
    mkdirSync(dir);
    for (const file of ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]) {
      copyFileSync(join(TOKENIZER_DIRS["tiny-bytelevel"], file), join(dir, file));
    }
    for (const [file, contents] of Object.entries(replace)) {
      if (contents === null) rmSync(join(dir, file));
      else writeFileSync(join(dir, file), contents);
    }
    return dir;
  }
  const config = (change: Record<string, unknown>) =>
    JSON.stringify({ ...JSON.parse(readFileSync(join(TOKENIZER_DIRS["tiny-bytelevel"], "tokenizer_config.json"), "utf8")), ...change });

  const cases: Array<[string, Record<string, string | null>, RegExp]> = [
    ["missing tokenizer.json", { "tokenizer.json": null }, /tokenizer\.json not found/],
    ["missing tokenizer_config.json", { "tokenizer_config.json": null }, /tokenizer_config\.json not found/],
    ["tokenizer_config.json not JSON", { "tokenizer_config.json": "{ nope" }, /tokenizer_config\.json is not valid JSON/],
    ["tokenizer.json without a model", { "tokenizer.json": "{}" }, /tokenizer\.json has no "model" object/],
    ["bos_token not in the vocabulary", { "tokenizer_config.json": config({ bos_token: "<nope>" }) }, /tokenizer_config\.json field "bos_token": "<nope>" is not a token/],
    ["eos_token of the wrong type", { "tokenizer_config.json": config({ eos_token: 7 }) }, /tokenizer_config\.json field "eos_token" must be a string/],
    ["generation eos id outside the vocabulary", { "generation_config.json": '{"eos_token_id": [1, 99999]}' }, /generation_config\.json field "eos_token_id": 99999 is not a token id/],
    ["a chat template that does not parse", { "tokenizer_config.json": config({ chat_template: "{% for %}" }) }, /tokenizer_config\.json field "chat_template": the chat template does not parse/],
    ["named templates without a default", { "tokenizer_config.json": config({ chat_template: [{ name: "x", template: "y" }] }) }, /"chat_template" is a list without an entry named "default"/],
  ];
  for (const [what, replace, message] of cases) {
    test(what, async () => {
      const error = await loadTokenizer(folder(replace)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TokenizerFileError);
      expect((error as Error).message).toMatch(message);
    });
  }

  test("a template that raises names where the template came from", async () => {
    const tok = await loadTokenizer(folder({ "tokenizer_config.json": config({ chat_template: "{{ raise_exception('only system') }}" }) }));
    expect(() => tok.renderUserTurn("Hi")).toThrow(/tokenizer_config\.json field "chat_template": rendering the chat template failed: .*only system/);
  });
});
