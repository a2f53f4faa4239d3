import { describe, expect, it } from "vitest";
import { drawCandidateSet, proposeCandidates, unionOfIntersections } from "../../ts/optimizer/candidates.js";
import { resolveConfig } from "../../ts/optimizer/config.js";
import { canonicalPrompt, placesVerbatim, type StepContext } from "../../ts/optimizer/context.js";
import { RowSplitter } from "../../ts/optimizer/row-splitter.js";
import { Mulberry32 } from "../../ts/optimizer/prng.js";
import { prefixesOnly } from "../../ts/optimizer/reasoning.js";
import { FakeModel, FakeTokenizer, fakeExamples, fakeLayout, fakeTextFunctions } from "./fakes.js";

// Seed 3 draws, for 3 of 5 examples: [3, 1, 0], then [0, 4, 3], then [2, 1, 0]
// (tools/reference/mulberry32.py: Mulberry32(3).sample_without_replacement(5, 3) three times).
const TOP_LISTS = [
  [1, 2, 3], // e0
  [1, 2, 4], // e1
  [5, 6, 7], // e2 (not drawn by the first two intersections)
  [3, 1, 2], // e3
  [3, 7, 1], // e4
];

describe("unionOfIntersections", () => {
  it("unions topQ intersections of randomly drawn examples' top-k sets", () => {
    // e3 ∩ e1 ∩ e0 = {1, 2};  e0 ∩ e4 ∩ e3 = {1, 3};  union = {1, 2, 3}
    expect(unionOfIntersections(TOP_LISTS, 2, 3, new Mulberry32(3))).toEqual([1, 2, 3]);
    // third draw e2 ∩ e1 ∩ e0 = {} adds nothing
    expect(unionOfIntersections(TOP_LISTS, 3, 3, new Mulberry32(3))).toEqual([1, 2, 3]);
  });

  it("draws no more examples than there are", () => {
    // 2 examples, 5 per intersection: every intersection spans both → {2}
    expect(unionOfIntersections([[1, 2], [2, 3]], 4, 5, new Mulberry32(0))).toEqual([2]);
  });
});

describe("drawCandidateSet", () => {
  const settings = { topK: 3, topQ: 2, examplesPerIntersection: 3, minCandidates: 3, kIncrement: 2 };

  it("adds the current token after the union when it is not in it", async () => {
    const proposal = await drawCandidateSet(() => TOP_LISTS, 8, settings, new Mulberry32(3));
    expect(proposal).toEqual({ candidates: [1, 2, 3, 8], k: 3, raises: 0 });
  });

  it("does not repeat the current token when the union holds it", async () => {
    const proposal = await drawCandidateSet(() => TOP_LISTS, 2, settings, new Mulberry32(3));
    expect(proposal.candidates).toEqual([1, 2, 3]);
  });

  it("raises k by kIncrement and draws again until the set is large enough", async () => {
    // Every intersection spans all three examples, so the draws do not matter:
    // k = 2: {10, 11} (2 < 4), k = 4: {10, 11, 12, 13} (4 ≥ 4).
    const lists = [
      [10, 11, 12, 13, 14, 15],
      [11, 10, 13, 12, 15, 14],
      [10, 11, 13, 12, 20, 21],
    ];
    const asked: number[] = [];
    const rng = new Mulberry32(5);
    const proposal = await drawCandidateSet(
      (k) => {
        asked.push(k);
        return lists.map((list) => list.slice(0, k));
      },
      99,
      { topK: 2, topQ: 2, examplesPerIntersection: 3, minCandidates: 4, kIncrement: 2 },
      rng,
    );
    expect(proposal).toEqual({ candidates: [10, 11, 12, 13, 99], k: 4, raises: 1 });
    expect(asked).toEqual([2, 4]);
    // Two attempts × topQ draws of 3 out of 3 examples were consumed.
    const expected = new Mulberry32(5);
    for (let i = 0; i < 4; i++) expected.sampleWithoutReplacement(3, 3);
    expect(rng.getState()).toBe(expected.getState());
  });

  it("stops raising when the lists cannot grow any more", async () => {
    const lists = [[1, 2], [2, 3]];
    const proposal = await drawCandidateSet((k) => lists.map((l) => l.slice(0, k)), 1, {
      topK: 2, topQ: 1, examplesPerIntersection: 2, minCandidates: 6, kIncrement: 2,
    }, new Mulberry32(0));
    expect(proposal).toEqual({ candidates: [2, 1], k: 4, raises: 1 });
  });
});

describe("proposeCandidates against a model", () => {
  const tokenizer = new FakeTokenizer();
  const text = fakeTextFunctions(tokenizer);

  function contextFor(model: FakeModel): StepContext {
    return {
      model,
      tokenizer,
      config: resolveConfig({ topK: 4, minCandidates: 2 }),
      examples: fakeExamples(6),
      extractor: "Therefore, the answer is $",
      layout: text.layout,
      disallowed: text.disallowed,
      stopTokenIds: [1],
      splitter: new RowSplitter(null),
      probes: fakeExamples(1),
      initialPromptLength: 4, // " proper logical reasoning."
    };
  }

  it("reads position i of every example in one call, masking the token at i-1 (the last token at i = 0)", async () => {
    const model = new FakeModel(tokenizer);
    const seen: { positions: number[]; exclude?: number[][]; disallowed?: unknown; rows: number }[] = [];
    const original = model.topCandidates.bind(model);
    model.topCandidates = async (sequences, options) => {
      seen.push({ positions: options.positions, exclude: options.exclude, disallowed: options.disallowed, rows: sequences.length });
      return original(sequences, options);
    };
    const context = contextFor(model);
    const prompt = tokenizer.encode(" proper logical reasoning.");
    const current = prefixesOnly(context, prompt);

    await proposeCandidates(context, current, 2, new Mulberry32(1));
    expect(seen[0].rows).toBe(6);
    expect(seen[0].positions).toEqual(current.prefixes.map((l) => l.spans.prompt.start + 2));
    expect(seen[0].exclude).toEqual(Array(6).fill([tokenizer.id(" logical")]));
    expect(seen[0].disallowed).toBe(text.disallowed);

    await proposeCandidates(context, current, 0, new Mulberry32(1));
    expect(seen[1].exclude).toEqual(Array(6).fill([tokenizer.id(".")]));
  });

  it("returns the intersections of the model's top-k lists plus the current token", async () => {
    const model = new FakeModel(tokenizer);
    const context = contextFor(model);
    const prompt = tokenizer.encode(" proper logical reasoning.");
    const current = prefixesOnly(context, prompt);
    const listsFor = (k: number) =>
      model.topCandidates(
        current.prefixes.map((l) => l.ids),
        {
          positions: current.prefixes.map((l) => l.spans.prompt.start + 1),
          k,
          disallowed: text.disallowed,
          exclude: current.prefixes.map(() => [prompt[0]]),
        },
      );
    const proposal = await proposeCandidates(context, current, 1, new Mulberry32(21));
    const expected = await drawCandidateSet(listsFor, prompt[1], context.config, new Mulberry32(21));
    expect(proposal).toEqual(expected);
    expect(proposal.candidates).toContain(prompt[1]);
  });
});

describe("candidates that would not survive the prompt's round trip through text", () => {
  const tokenizer = new FakeTokenizer([" think_"]);
  const text = fakeTextFunctions(tokenizer);
  const context = (model: FakeModel): StepContext => ({
    model,
    tokenizer,
    config: resolveConfig({ topK: 3, topQ: 1, examplesPerIntersection: 2, minCandidates: 2 }),
    examples: fakeExamples(2),
    extractor: "So $",
    layout: fakeLayout(tokenizer, true),
    disallowed: text.disallowed,
    stopTokenIds: [1],
    splitter: new RowSplitter(null),
    probes: fakeExamples(1),
    initialPromptLength: 3, // " proper", " ", "."
  });

  it("are dropped from the union before its size is checked", async () => {
    const model = new FakeModel(tokenizer);
    const ids = (...texts: string[]) => texts.map((t) => tokenizer.id(t));
    // Both examples propose "a", " careful", " exact" first, then " quick", " sum".
    model.topCandidates = async (sequences, options) =>
      sequences.map(() => ids("a", " careful", " exact", " quick", " sum").slice(0, options.k));
    const c = context(model);
    const prompt = ids(" proper", " ", ".");
    // " " followed by "a" reads " a", which the tokenizer writes as one token: "a" cannot sit at position 2.
    const proposal = await proposeCandidates(c, prefixesOnly(c, prompt), 2, new Mulberry32(0));
    expect(proposal.candidates).toEqual([...ids(" careful", " exact")].sort((a, b) => a - b).concat(ids(".")));
    expect(proposal.k).toBe(3);
  });

  it("a prompt whose text tokenizes otherwise is replaced by that tokenization", () => {
    const c = context(new FakeModel(tokenizer));
    const ids = (...texts: string[]) => texts.map((t) => tokenizer.id(t));
    expect(canonicalPrompt(c, ids(" proper", " think"))).toEqual(ids(" proper", " think"));
    expect(canonicalPrompt(c, ids(" ", "a", " think", "_"))).toEqual(ids(" a", " think_"));
    expect(placesVerbatim(c, ids(" think", "_"))).toBe(false);
  });
});
