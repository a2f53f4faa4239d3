// The layout of one example: spans that tile the ids, the whole text's tokenization, the prompt's ids verbatim, and
// every kind of token merge across a boundary, on the real Llama 3 and Qwen 3 tokenizers and the tiny one.
import { describe, expect, test } from "vitest";
import {
  buildExampleLayout,
  encodePrompt,
  filterCandidatesAtPosition,
  LayoutError,
  loadTokenizer,
  promptRoundTrips,
  type BuiltExampleLayout,
  type ModelTokenizer,
} from "../../ts/text/index.js";
import { CHAT_TOKENIZERS, TOKENIZER_DIRS, tokenizer } from "./helpers.js";

const INITIAL_PROMPT = " proper logical reasoning and think step by step. Finally give the actual correct answer.";
const NAVIGATE_EXTRACTOR = "Therefore, the final answer (use exact format: '$ Yes' or '$ No') is $ ";
const QUESTION = "If you follow these instructions, do you return to the starting point? Take 3 steps. Turn around. Take 3 steps.\nOptions:\n- Yes\n- No";
const REASONING = "Let's think step by step.\nWe take 3 steps, turn around and take 3 steps back, so we return.";

function decodeSpan(tok: ModelTokenizer, layout: BuiltExampleLayout, part: keyof BuiltExampleLayout["spans"]): string {
  const span = layout.spans[part];
  return tok.decode(layout.ids.slice(span.start, span.end));
}

/**
 * A word and a split of it into two texts that tokenize differently apart than together (the whole word's tokens
 * merge across the split): the stuff of boundary merges. Searched per tokenizer, since the tiny one knows fewer words.
 */
function mergingSplit(tok: ModelTokenizer): [string, string] {
  for (const word of [" Useful", " Therefore", " forward", " backward", " steps", " answer", " number"]) {
    for (let k = 2; k < word.length; k++) {
      const [left, right] = [word.slice(0, k), word.slice(k)];
      const apart = [...tok.encode(left), ...tok.encode(right)];
      if (JSON.stringify(tok.encode(word)) !== JSON.stringify(apart)) return [left, right];
    }
  }
  throw new Error("no merging split found");
}

/** The spans, in order, tile ids from the question (or prompt) to the end. */
function expectSpansTile(layout: BuiltExampleLayout): void {
  const { question, prompt, header, reasoning, extractor, answer } = layout.spans;
  const userParts = question.start <= prompt.start ? [question, prompt] : [prompt, question];
  const ordered = [...userParts, header, reasoning, extractor, answer];
  for (let k = 1; k < ordered.length; k++) expect(ordered[k].start).toBe(ordered[k - 1].end);
  expect(answer.end).toBe(layout.ids.length);
}

describe.each(CHAT_TOKENIZERS)("%s", (name) => {
  test("a full example: spans tile the ids, ids are the whole text's tokenization, parts decode to their texts", async () => {
    const tok = await tokenizer(name);
    const prompt = encodePrompt(tok, INITIAL_PROMPT);
    const layout = buildExampleLayout(tok, {
      question: QUESTION, prompt, reasoning: tok.encode(REASONING), extractor: NAVIGATE_EXTRACTOR, answer: "Yes",
    });
    expectSpansTile(layout);
    expect(layout.ids).toEqual(tok.encode(layout.text));
    expect(layout.text).toBe(tok.renderUserTurn('"' + QUESTION + '. Use"' + INITIAL_PROMPT) + REASONING + " " + NAVIGATE_EXTRACTOR + "Yes");
    expect(layout.canonical).toBe(true);
    expect(layout.promptVerbatim).toBe(true);
    expect(layout.ids.slice(layout.spans.prompt.start, layout.spans.prompt.end)).toEqual(prompt);
    expect(decodeSpan(tok, layout, "question")).toBe('"' + QUESTION + '. Use"');
    expect(decodeSpan(tok, layout, "reasoning")).toBe(REASONING);
    expect(decodeSpan(tok, layout, "header").startsWith(tok.renderUserTurn("").slice(-3))).toBe(false); // a real header, not empty
    expect(layout.ids.slice(0, layout.spans.header.end)).toEqual(tok.encode(tok.renderUserTurn('"' + QUESTION + '. Use"' + INITIAL_PROMPT)));
  });

  test("the extractor's trailing space merges into the answer's first token: it belongs to the answer", async () => {
    const tok = await tokenizer(name);
    const layout = buildExampleLayout(tok, {
      question: QUESTION, prompt: encodePrompt(tok, INITIAL_PROMPT), reasoning: tok.encode(REASONING), extractor: NAVIGATE_EXTRACTOR, answer: "Yes",
    });
    expect(decodeSpan(tok, layout, "extractor")).toBe(" " + NAVIGATE_EXTRACTOR.trimEnd());
    expect(decodeSpan(tok, layout, "answer")).toBe(" Yes");
    expect(layout.ids.slice(layout.spans.answer.start)).toEqual(tok.encode(" Yes"));
    expect(layout.merges).toEqual([{ before: "extractor", after: "answer", tokenIndex: layout.spans.answer.start }]);
    expect(layout.canonical).toBe(true);
  });

  test("a non-ASCII answer (byte-level pieces of characters) after the extractor's space", async () => {
    const tok = await tokenizer(name);
    for (const answer of ["Köln", "日本語", "€ 5"]) {
      const layout = buildExampleLayout(tok, {
        question: QUESTION, prompt: encodePrompt(tok, INITIAL_PROMPT), reasoning: tok.encode(REASONING), extractor: "The city is", answer: " " + answer,
      });
      expect(layout.ids).toEqual(tok.encode(layout.text));
      expect(decodeSpan(tok, layout, "answer")).toBe(" " + answer);
      expect(layout.ids.slice(layout.spans.answer.start)).toEqual(tok.encode(" " + answer));
      const merged = buildExampleLayout(tok, {
        question: QUESTION, prompt: encodePrompt(tok, INITIAL_PROMPT), reasoning: tok.encode(REASONING), extractor: "The city is ", answer,
      });
      // Same text, same ids; the space joins the answer's first token where the vocabulary has " K", " 日", ...
      expect(merged.ids).toEqual(layout.ids);
      const spaceJoined = merged.spans.answer.start === layout.spans.answer.start;
      expect(decodeSpan(tok, merged, "answer")).toBe(spaceJoined ? " " + answer : answer);
      expect(merged.merges).toEqual(spaceJoined ? [{ before: "extractor", after: "answer", tokenIndex: merged.spans.answer.start }] : []);
    }
  });

  test("an answer with its own leading space after an extractor without one: no merge, the answer's own tokens", async () => {
    const tok = await tokenizer(name);
    const layout = buildExampleLayout(tok, {
      question: QUESTION, prompt: encodePrompt(tok, INITIAL_PROMPT), reasoning: tok.encode(REASONING),
      extractor: "Therefore, the final answer is", answer: " (A)",
    });
    expect(layout.merges).toEqual([]);
    expect(layout.ids.slice(layout.spans.answer.start)).toEqual(tok.encode(" (A)"));
    expect(decodeSpan(tok, layout, "extractor")).toBe(" Therefore, the final answer is");
  });

  test("a prefix without reasoning, extractor or answer is the generation prefix of the full example", async () => {
    const tok = await tokenizer(name);
    const prompt = encodePrompt(tok, INITIAL_PROMPT);
    const full = buildExampleLayout(tok, { question: QUESTION, prompt, reasoning: tok.encode(REASONING), extractor: NAVIGATE_EXTRACTOR, answer: "No" });
    const prefix = buildExampleLayout(tok, { question: QUESTION, prompt });
    expect(prefix.ids).toEqual(full.ids.slice(0, full.spans.header.end));
    expect(prefix.spans.reasoning).toEqual({ start: prefix.ids.length, end: prefix.ids.length });
    expect(prefix.spans.extractor).toEqual(prefix.spans.reasoning);
    expect(prefix.spans.answer).toEqual(prefix.spans.reasoning);
    expect({ ...prefix.spans, reasoning: undefined, extractor: undefined, answer: undefined })
      .toEqual({ ...full.spans, reasoning: undefined, extractor: undefined, answer: undefined });
  });

  test("the optimizer's edit: the token at prompt.start + i is prompt[i], and the edited layout matches", async () => {
    const tok = await tokenizer(name);
    const prompt = encodePrompt(tok, " think step by step and give the answer.");
    const layout = buildExampleLayout(tok, { question: QUESTION, prompt });
    const replacement = tok.encode(" carefully")[0];
    const edited = [...prompt];
    edited[2] = replacement;
    const editedLayout = buildExampleLayout(tok, { question: QUESTION, prompt: edited });
    const byHand = [...layout.ids];
    byHand[layout.spans.prompt.start + 2] = replacement;
    expect(editedLayout.promptVerbatim).toBe(true);
    expect(editedLayout.ids).toEqual(byHand);
  });

  test("the reasoning's ids are kept as generated even where encoding its text would differ", async () => {
    const tok = await tokenizer(name);
    // A word split in two pieces, as a model may generate it; encoding the text gives other tokens.
    const [left, right] = mergingSplit(tok);
    const split = [...tok.encode(left), ...tok.encode(right)];
    expect(tok.encode(left + right)).not.toEqual(split);
    const reasoning = [...tok.encode("We return."), ...split, ...tok.encode(" yes.")];
    const layout = buildExampleLayout(tok, { question: QUESTION, prompt: encodePrompt(tok, INITIAL_PROMPT), reasoning, extractor: NAVIGATE_EXTRACTOR, answer: "Yes" });
    expect(layout.ids.slice(layout.spans.reasoning.start, layout.spans.reasoning.end)).toEqual(reasoning);
    expect(layout.canonical).toBe(false);
    expect(decodeSpan(tok, layout, "answer")).toBe(" Yes");
  });

  test("an empty prompt gives an empty prompt span between question and header", async () => {
    const tok = await tokenizer(name);
    const layout = buildExampleLayout(tok, { question: QUESTION, prompt: [] });
    expect(layout.spans.prompt.start).toBe(layout.spans.prompt.end);
    expect(layout.spans.prompt.start).toBe(layout.spans.question.end);
    expect(layout.promptVerbatim).toBe(true);
  });

  test("plain template: a prompt that merges with the question's last word is detected", async () => {
    const tok = await tokenizer(name);
    // e.g. "... is Use" + "ful" → " Useful" in the whole text; the prompt's first token is not "ful" there.
    const [left, right] = mergingSplit(tok);
    const question = "What word is" + left;
    const prompt = tok.encode(right + " reasoning");
    expect(tok.encode(question + right + " reasoning").slice(-prompt.length)).not.toEqual(prompt);
    const layout = buildExampleLayout(tok, { question, prompt }, { userTurnTemplate: "plain" });
    expect(layout.promptVerbatim).toBe(false);
    expect(layout.merges.map((m) => [m.before, m.after])).toEqual([["question", "prompt"]]);
    expect(layout.ids).toEqual(tok.encode(layout.text)); // the whole text's tokenization was chosen
    expectSpansTile(layout);
  });

  test("prompt-first template: a prompt ending in '.' merges with the newline before the question", async () => {
    const tok = await tokenizer(name);
    const prompt = encodePrompt(tok, "Think step by step.", "prompt-first");
    const layout = buildExampleLayout(tok, { question: QUESTION, prompt }, { userTurnTemplate: "prompt-first" });
    const merged = tok.encode(".\n").length === 1;
    expect(layout.promptVerbatim).toBe(!merged);
    expect(layout.merges.map((m) => [m.before, m.after])).toEqual(merged ? [["prompt", "question"]] : []);
    expect(layout.spans.prompt.start).toBeLessThan(layout.spans.question.start);
    expect(layout.ids).toEqual(tok.encode(layout.text));
    // Without the final ".", the prompt is intact and the question follows it.
    const intact = buildExampleLayout(tok, { question: QUESTION, prompt: encodePrompt(tok, "Think step by step", "prompt-first") }, { userTurnTemplate: "prompt-first" });
    expect(intact.promptVerbatim).toBe(true);
    expect(decodeSpan(tok, intact, "question")).toBe("\n" + QUESTION);
    expect(decodeSpan(tok, intact, "prompt")).toBe("Think step by step");
  });

  test("reasoning whose last token merges with the answer: reasoning kept, tail tokenized alone, merge reported", async () => {
    const tok = await tokenizer(name);
    const [left, right] = mergingSplit(tok);
    const reasoning = tok.encode("The word is" + left);
    const layout = buildExampleLayout(tok, { question: QUESTION, prompt: encodePrompt(tok, INITIAL_PROMPT), reasoning, answer: right });
    expect(tok.encode("The word is" + left + right).slice(0, reasoning.length)).not.toEqual(reasoning);
    expect(layout.ids.slice(layout.spans.reasoning.start, layout.spans.reasoning.end)).toEqual(reasoning);
    expect(layout.ids.slice(layout.spans.answer.start)).toEqual(tok.encode(right));
    expect(layout.merges).toEqual([{ before: "reasoning", after: "answer", tokenIndex: layout.spans.answer.start }]);
    expect(layout.canonical).toBe(false);
  });
});

test("Llama 3: an answer (A) right after '$' merges into the token ' $(' and the answer span starts there", async () => {
  const tok = await tokenizer("llama3");
  const layout = buildExampleLayout(tok, {
    question: QUESTION, prompt: encodePrompt(tok, INITIAL_PROMPT), reasoning: tok.encode(REASONING), extractor: "Therefore, the final answer is $", answer: "(A)",
  });
  expect(tok.idToToken(layout.ids[layout.spans.answer.start])).toBe("Ġ$(");
  expect(decodeSpan(tok, layout, "extractor")).toBe(" Therefore, the final answer is");
  expect(decodeSpan(tok, layout, "answer")).toBe(" $(A)");
  expect(layout.merges).toEqual([{ before: "extractor", after: "answer", tokenIndex: layout.spans.answer.start }]);
  expect(layout.ids).toEqual(tok.encode(layout.text));
});

test("Llama 3: a prompt ending in a space loses it to the template's trim, and is reported as not verbatim", async () => {
  const tok = await tokenizer("llama3");
  const prompt = [...encodePrompt(tok, " think step by step"), tok.encode(" ")[0]];
  const layout = buildExampleLayout(tok, { question: QUESTION, prompt });
  expect(layout.promptVerbatim).toBe(false);
  expect(layout.ids.slice(layout.spans.prompt.start, layout.spans.prompt.end)).toEqual(prompt.slice(0, -1));
});

test("a template whose text around the message changes between calls (e.g. today's date) is followed", async () => {
  const tok = await tokenizer("tiny-bytelevel");
  let day = "1";
  const dated: ModelTokenizer = {
    vocabSize: tok.vocabSize, bosTokenId: tok.bosTokenId, eosTokenId: tok.eosTokenId, padTokenId: tok.padTokenId,
    stopTokenIds: tok.stopTokenIds, specialTokenIds: tok.specialTokenIds,
    encode: (text, options) => tok.encode(text, options), decode: (ids, options) => tok.decode(ids, options),
    renderUserTurn: (content) => `<|begin_of_text|>Day ${day}\n${content}<|eot_id|>`,
  };
  const prompt = encodePrompt(tok, " think");
  const first = buildExampleLayout(dated, { question: "Why", prompt });
  day = "22 May 2031";
  const second = buildExampleLayout(dated, { question: "Why", prompt });
  expect(second.text).toContain("Day 22 May 2031");
  expect(second.promptVerbatim).toBe(true);
  expect(tok.decode(second.ids.slice(second.spans.question.start, second.spans.question.end))).toBe('"Why. Use"');
  expect(second.spans.question.start).toBeGreaterThan(first.spans.question.start);
});

describe("errors", () => {
  test("a prompt id outside the vocabulary is named", async () => {
    const tok = await tokenizer("tiny-bytelevel");
    expect(() => buildExampleLayout(tok, { question: "Q", prompt: [5, tok.vocabSize] })).toThrow(/ExampleInput\.prompt\[1\] = 1200 is not a token id below 1200/);
  });

  test("a chat template that rewrites the user message is refused", async () => {
    const tok = await loadTokenizer(TOKENIZER_DIRS["tiny-bytelevel"], { chatTemplate: "<|begin_of_text|>{{ messages[0]['content'] | upper }}" });
    expect(() => buildExampleLayout(tok, { question: "Why?", prompt: tok.encode(" think") })).toThrow(LayoutError);
    expect(() => buildExampleLayout(tok, { question: "Why?", prompt: tok.encode(" think") })).toThrow(/changes the user message/);
  });
});

describe("prompt round trip (the official filter of candidates)", () => {
  test("a prompt of canonical tokens round-trips; a word split in two tokens does not (its length would change)", async () => {
    const tok = await tokenizer("llama3");
    expect(promptRoundTrips(tok, encodePrompt(tok, INITIAL_PROMPT))).toBe(true);
    const split = [...tok.encode(" th"), ...tok.encode("ese"), ...tok.encode(" steps")];
    expect(promptRoundTrips(tok, split)).toBe(false);
  });

  test("'exact' mode also rejects a re-encoding of the same length but other ids", async () => {
    const tok = await tokenizer("llama3");
    const otherSplit = [...tok.encode(" Be"), ...tok.encode("ware")]; // encodes back as " Bew" + "are"
    expect(otherSplit.length).toBe(2);
    expect(tok.encode(" Beware")).not.toEqual(otherSplit);
    expect(promptRoundTrips(tok, otherSplit)).toBe(true);
    expect(promptRoundTrips(tok, otherSplit, { mode: "exact" })).toBe(false);
  });

  test("candidates at a position that would merge with a neighbour are dropped; the others are kept in order", async () => {
    const tok = await tokenizer("llama3");
    const prompt = encodePrompt(tok, " proper logical reasoning");
    const [logical, ly, reasoning, careful] = [" logical", "ly", " reasoning", " careful"].map((t) => tok.encode(t)[0]);
    // " proper" + "ly" → " properly", one token: the prompt would shrink, so "ly" is dropped.
    expect(filterCandidatesAtPosition(tok, prompt, 1, [careful, ly, logical, reasoning])).toEqual([careful, logical, reasoning]);
    expect(() => filterCandidatesAtPosition(tok, prompt, 3, [careful])).toThrow(RangeError);
  });
});
