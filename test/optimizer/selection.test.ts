import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../ts/optimizer/config.js";
import type { StepContext } from "../../ts/optimizer/context.js";
import { RowSplitter } from "../../ts/optimizer/row-splitter.js";
import { generateReasoning } from "../../ts/optimizer/reasoning.js";
import {
  candidatesWorthTrying,
  chooseCandidate,
  endsSentenceEarly,
  ScoreCache,
  selectByRegeneratedReasoning,
  selectionScore,
} from "../../ts/optimizer/selection.js";
import { FakeModel, FakeTokenizer, fakeExamples, fakeTextFunctions } from "./fakes.js";

const exitRule = { sentenceEnd: ".", earlyExitFraction: 0.5 };

describe("selection score and choice", () => {
  it("is mean mistake + (λ/10) · mean prompt NLL", () => {
    // 2 mistakes in 5 examples, prompt NLL 2.5, λ = 0.2: 0.4 + 0.02 · 2.5 = 0.45
    expect(selectionScore(0.4, 2.5, 0.2)).toBeCloseTo(0.45, 12);
    expect(selectionScore(0.4, 2.5, 0)).toBe(0.4);
  });

  it("keeps the lowest score, ties going to the later candidate", () => {
    const c = (token: number, score: number) => ({ token, score, endsSentenceEarly: false });
    expect(chooseCandidate([c(1, 0.5), c(2, 0.3), c(3, 0.4)]).chosen.token).toBe(2);
    expect(chooseCandidate([c(1, 0.3), c(2, 0.5), c(3, 0.3)]).chosen.token).toBe(3);
    expect(chooseCandidate([c(1, 0.3), c(2, 0.5), c(3, 0.3)]).earlyExit).toBe(false);
  });

  it("takes a sentence-ending candidate at once, whatever its score", () => {
    const scored = [
      { token: 1, score: 0.2, endsSentenceEarly: false },
      { token: 2, score: 0.9, endsSentenceEarly: true },
      { token: 3, score: 0.1, endsSentenceEarly: false },
    ];
    expect(chooseCandidate(scored)).toEqual({ chosen: scored[1], earlyExit: true });
  });

  it("allows the early exit only for a '.' at i ≥ 0.5 × the initial prompt length", () => {
    expect(endsSentenceEarly(".", 5, 10, exitRule)).toBe(true);
    expect(endsSentenceEarly(" end.", 7, 10, exitRule)).toBe(true);
    expect(endsSentenceEarly(".", 4, 10, exitRule)).toBe(false); // 4 < 5
    expect(endsSentenceEarly(".", 3, 7, exitRule)).toBe(false); // 3 < 3.5
    expect(endsSentenceEarly(".", 4, 7, exitRule)).toBe(true);
    expect(endsSentenceEarly(",", 9, 10, exitRule)).toBe(false);
  });

  it("tries only the candidates up to the first early exit", () => {
    expect(candidatesWorthTrying([1, 2, 3], (t) => t === 2)).toEqual([1, 2]);
    expect(candidatesWorthTrying([1, 2, 3], () => false)).toEqual([1, 2, 3]);
  });
});

describe("selectByRegeneratedReasoning", () => {
  const tokenizer = new FakeTokenizer();
  const text = fakeTextFunctions(tokenizer);
  const examples = fakeExamples(5);
  const prompt = tokenizer.encode(" proper logical reasoning and think.");

  function contextFor(model: FakeModel, tok = tokenizer): StepContext {
    return {
      model,
      tokenizer: tok,
      config: resolveConfig({}),
      examples,
      extractor: "Therefore, the answer is $",
      layout: text.layout,
      disallowed: text.disallowed,
      stopTokenIds: [1],
      splitter: new RowSplitter(null),
      probes: fakeExamples(1),
    };
  }

  it("regenerates all candidates × examples in one generate call and scores them in one scoreAnswers call", async () => {
    const model = new FakeModel(tokenizer);
    const context = contextFor(model);
    const [current] = await generateReasoning(context, [prompt]);
    model.calls.length = 0;
    const ranked = [tokenizer.id(" careful"), tokenizer.id(" quick"), tokenizer.id(" exact")];
    const selection = await selectByRegeneratedReasoning(context, current, true, 1, ranked, prompt.length, new ScoreCache());
    expect(model.calls).toEqual([
      { kind: "generate", rows: 15 },
      { kind: "scoreAnswers", rows: 15 },
    ]);
    expect(selection.scored.map((c) => c.token)).toEqual(ranked);

    // Each score is the formula over the fake model's own per-row answers, recomputed here.
    for (const candidate of selection.scored) {
      const candidatePrompt = prompt.slice();
      candidatePrompt[1] = candidate.token;
      const [regenerated] = await generateReasoning(context, [candidatePrompt]);
      const layouts = examples.map((example, i) =>
        text.layout({ question: example.question, prompt: candidatePrompt, reasoning: regenerated.reasoning[i], extractor: context.extractor, answer: example.answer }),
      );
      const rows = await model.scoreAnswers({
        sequences: layouts.map((l) => l.ids),
        answerSpans: layouts.map((l) => l.spans.answer),
        promptSpans: layouts.map((l) => l.spans.prompt),
      });
      const mistakeRate = rows.exactMatch.reduce((sum, m) => sum + 1 - m, 0) / examples.length;
      const promptNll = rows.promptNll.reduce((sum, v) => sum + v, 0) / examples.length;
      expect(candidate.mistakeRate).toBe(mistakeRate);
      expect(candidate.promptNll).toBeCloseTo(promptNll, 6);
      expect(candidate.score).toBeCloseTo(mistakeRate + 0.02 * promptNll, 6);
    }
    const lowest = Math.min(...selection.scored.map((c) => c.score));
    expect(selection.chosen.score).toBe(lowest);
    expect(selection.chosen.token).toBe(selection.scored.findLast((c) => c.score === lowest)?.token);
  });

  it("reuses the step's reasoning for the current token instead of generating it again", async () => {
    const model = new FakeModel(tokenizer);
    const context = contextFor(model);
    const [current] = await generateReasoning(context, [prompt]);
    model.calls.length = 0;
    await selectByRegeneratedReasoning(context, current, true, 1, [prompt[1], tokenizer.id(" quick")], prompt.length, new ScoreCache());
    expect(model.calls).toEqual([
      { kind: "generate", rows: 5 },
      { kind: "scoreAnswers", rows: 10 },
    ]);
  });

  it("does not try candidates ranked after an early exit", async () => {
    const model = new FakeModel(tokenizer);
    const context = contextFor(model);
    const [current] = await generateReasoning(context, [prompt]);
    model.calls.length = 0;
    const ranked = [tokenizer.id(" quick"), tokenizer.id("."), tokenizer.id(" careful")];
    // position 3 ≥ 0.5 × 6: the "." exits early
    const selection = await selectByRegeneratedReasoning(context, current, true, 3, ranked, prompt.length, new ScoreCache());
    expect(selection.earlyExit).toBe(true);
    expect(selection.chosen.token).toBe(tokenizer.id("."));
    expect(selection.scored.map((c) => c.token)).toEqual(ranked.slice(0, 2));
    expect(model.calls[0]).toEqual({ kind: "generate", rows: 10 });
  });

  it("caches scores by prompt text within a position", async () => {
    // A tokenizer where " exact" reads like " careful": the two candidate prompts have the same text.
    const twin = new FakeTokenizer();
    const careful = twin.id(" careful");
    const exact = twin.id(" exact");
    const decode = twin.decode.bind(twin);
    twin.decode = (ids, options) => decode(ids.map((id) => (id === exact ? careful : id)), options);
    const model = new FakeModel(twin);
    const context = contextFor(model, twin);
    const [current] = await generateReasoning(context, [prompt]);
    const cache = new ScoreCache();
    model.calls.length = 0;

    const first = await selectByRegeneratedReasoning(context, current, true, 1, [careful, exact], prompt.length, cache);
    expect(model.calls).toEqual([
      { kind: "generate", rows: 5 },
      { kind: "scoreAnswers", rows: 5 },
    ]);
    expect(first.scored.map((c) => c.cached)).toEqual([false, true]);
    expect(first.scored[1].score).toBe(first.scored[0].score);
    expect(first.chosen.token).toBe(exact); // equal scores: the later one

    model.calls.length = 0;
    const again = await selectByRegeneratedReasoning(context, current, true, 1, [careful], prompt.length, cache);
    expect(model.calls).toEqual([]);
    expect(again.scored[0].cached).toBe(true);
    expect(cache.size).toBe(1);
  });
});
