import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../ts/optimizer/config.js";
import type { StepContext } from "../../ts/optimizer/context.js";
import { RowSplitter } from "../../ts/optimizer/row-splitter.js";
import { generateReasoning, prefixesOnly } from "../../ts/optimizer/reasoning.js";
import {
  candidatesWorthTrying,
  chooseCandidate,
  endsSentenceEarly,
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

  function contextFor(model: FakeModel, tok = tokenizer, overrides: Partial<StepContext> = {}): StepContext {
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
      initialPromptLength: prompt.length,
      ...overrides,
    };
  }

  /** A fresh fake model and context, and the step's reasoning under `prompt`; the refresh's calls are cleared. */
  async function afterRefresh(tok = tokenizer, overrides: Partial<StepContext> = {}) {
    const model = new FakeModel(tok);
    const context = contextFor(model, tok, overrides);
    const [current] = await generateReasoning(context, [prompt]);
    model.calls.length = 0;
    return { model, context, current };
  }

  /** The selection score of `candidatePrompt` the long way: plain generate, then scoreAnswers over each full layout. */
  async function scoreByFullForward(context: StepContext, candidatePrompt: number[]) {
    const prefixes = examples.map((example) => context.layout({ question: example.question, prompt: candidatePrompt }));
    const { tokens } = await context.model.generate(
      prefixes.map((layout) => layout.ids),
      { maxNewTokens: context.config.maxNewTokens, stopTokenIds: context.stopTokenIds },
    );
    const layouts = examples.map((example, i) =>
      context.layout({ question: example.question, prompt: candidatePrompt, reasoning: tokens[i], extractor: context.extractor, answer: example.answer }),
    );
    const rows = await context.model.scoreAnswers({
      sequences: layouts.map((l) => l.ids),
      answerSpans: layouts.map((l) => l.spans.answer),
      promptSpans: layouts.map((l) => l.spans.prompt),
    });
    const mistakeRate = rows.exactMatch.reduce((sum, m) => sum + 1 - m, 0) / examples.length;
    const promptNll = rows.promptNll.reduce((sum, v) => sum + v, 0) / examples.length;
    return { mistakeRate, promptNll };
  }

  /** The model's calls were one generation of `rows` rows and the scoring through its caches, nothing else. */
  function expectOneScoredGeneration(model: FakeModel, rows: number) {
    expect(model.calls).toEqual([
      { kind: "generateForScoring", rows },
      { kind: "scoreContinuations", rows },
    ]);
  }

  async function expectScoresOfFullForward(context: StepContext, selection: Awaited<ReturnType<typeof selectByRegeneratedReasoning>>) {
    for (const candidate of selection.scored) {
      const candidatePrompt = prompt.slice();
      candidatePrompt[1] = candidate.token;
      const { mistakeRate, promptNll } = await scoreByFullForward(context, candidatePrompt);
      expect(candidate.mistakeRate).toBe(mistakeRate);
      expect(candidate.promptNll).toBeCloseTo(promptNll, 6);
      expect(candidate.score).toBeCloseTo(mistakeRate + 0.02 * promptNll, 6);
    }
  }

  it("regenerates all candidates × examples in one generation and scores every answer through its cache", async () => {
    const { model, context, current } = await afterRefresh();
    const ranked = [tokenizer.id(" careful"), tokenizer.id(" quick"), tokenizer.id(" exact")];
    const selection = await selectByRegeneratedReasoning(context, current, 1, ranked);
    expectOneScoredGeneration(model, 15);
    expect(selection.scored.map((c) => c.token)).toEqual(ranked);
    // Each score is the formula over the fake model's own per-row answers, recomputed with full forwards.
    await expectScoresOfFullForward(context, selection);
    const lowest = Math.min(...selection.scored.map((c) => c.score));
    expect(selection.chosen.score).toBe(lowest);
    expect(selection.chosen.token).toBe(selection.scored.findLast((c) => c.score === lowest)?.token);
  });

  it("scores with scoreAnswers exactly the rows whose layout does not split after the reasoning", async () => {
    // Every other question's layout changes the reasoning's last token once the answer follows it (as a merge
    // across the boundary would).
    const bent = new Set(examples.filter((_, i) => i % 2 === 1).map((e) => e.question));
    const layout: StepContext["layout"] = (input) => {
      const built = text.layout(input);
      const reasoning = built.spans.reasoning;
      if (input.answer === undefined || !bent.has(input.question) || reasoning.end === reasoning.start) return built;
      const ids = built.ids.slice();
      ids[reasoning.end - 1] = tokenizer.id(" quick");
      return { ids, spans: built.spans };
    };
    const { model, context, current } = await afterRefresh(tokenizer, { layout });
    expect(current.scores.map((score) => score === null)).toEqual(examples.map((e) => bent.has(e.question)));
    const ranked = [tokenizer.id(" careful"), tokenizer.id(" exact")];
    const selection = await selectByRegeneratedReasoning(context, current, 1, ranked);
    expect(model.calls).toEqual([
      { kind: "generateForScoring", rows: 10 },
      { kind: "scoreContinuations", rows: 10 },
      { kind: "scoreAnswers", rows: 2 * bent.size },
    ]);
    await expectScoresOfFullForward(context, selection);
  });

  it("reuses the step's reasoning and its scores for the current token instead of generating it again", async () => {
    const { model, context, current } = await afterRefresh();
    const selection = await selectByRegeneratedReasoning(context, current, 1, [prompt[1], tokenizer.id(" quick")]);
    expectOneScoredGeneration(model, 5);
    await expectScoresOfFullForward(context, selection);
  });

  it("generates the current token's reasoning too under the no-reasoning ablation (the step has none to reuse)", async () => {
    const model = new FakeModel(tokenizer);
    const context = contextFor(model, tokenizer, { config: resolveConfig({ reasoning: false }) });
    const selection = await selectByRegeneratedReasoning(context, prefixesOnly(context, prompt), 1, [prompt[1], tokenizer.id(" quick")]);
    expectOneScoredGeneration(model, 10);
    await expectScoresOfFullForward(context, selection);
  });

  it("does not try candidates ranked after an early exit", async () => {
    const { model, context, current } = await afterRefresh();
    const ranked = [tokenizer.id(" quick"), tokenizer.id("."), tokenizer.id(" careful")];
    // position 3 ≥ 0.5 × 6: the "." exits early
    const selection = await selectByRegeneratedReasoning(context, current, 3, ranked);
    expect(selection.earlyExit).toBe(true);
    expect(selection.chosen.token).toBe(tokenizer.id("."));
    expect(selection.scored.map((c) => c.token)).toEqual(ranked.slice(0, 2));
    expect(model.calls[0]).toEqual({ kind: "generateForScoring", rows: 10 });
    // Below half the initial length the "." is an ordinary candidate.
    const later = await selectByRegeneratedReasoning({ ...context, initialPromptLength: 7 }, current, 3, ranked);
    expect(later.earlyExit).toBe(false);
    expect(later.scored.map((c) => c.token)).toEqual(ranked);
  });

  it("measures each prompt text once within a position", async () => {
    // A tokenizer where " exact" reads like " careful": the two candidate prompts have the same text.
    const twin = new FakeTokenizer();
    const careful = twin.id(" careful");
    const exact = twin.id(" exact");
    const decode = twin.decode.bind(twin);
    twin.decode = (ids, options) => decode(ids.map((id) => (id === exact ? careful : id)), options);
    const { model, context, current } = await afterRefresh(twin);

    const selection = await selectByRegeneratedReasoning(context, current, 1, [careful, exact]);
    expectOneScoredGeneration(model, 5);
    expect(selection.scored.map((c) => c.cached)).toEqual([false, true]);
    expect(selection.scored[1].score).toBe(selection.scored[0].score);
    expect(selection.chosen.token).toBe(exact); // equal scores: the later one
  });
});
