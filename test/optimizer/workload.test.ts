// The step projection counts the engine calls each scoring path makes.
import { describe, expect, it } from "vitest";
import { projectStepWork } from "../../ts/optimizer/workload.js";

describe("projectStepWork", () => {
  const config = { candidatesToScore: 3, maxNewTokens: 64, reasoning: true, ranking: "gradient" as const };

  it("counts generate, topCandidates, oneHotGradient, generate and scoreAnswers without cached scoring", () => {
    const work = projectStepWork([10, 20], config);
    expect(work.engineCalls).toBe(5);
    expect(work.generatedSequences).toEqual({ refresh: 2, selection: 6, total: 8 });
    expect(work.prefixTokens).toBe(30 * 4);
    expect(work.maxNewTokens).toBe(8 * 64);
  });

  it("counts a generateForScoring + scoreContinuations pair per generation with cached scoring", () => {
    expect(projectStepWork([10, 20], config, true).engineCalls).toBe(6);
    expect(projectStepWork([10, 20], { ...config, reasoning: false }, true).engineCalls).toBe(4);
    expect(projectStepWork([10, 20], { ...config, reasoning: false, ranking: "random" as const }, false).engineCalls).toBe(3);
  });
});
