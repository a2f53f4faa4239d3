// The step projection counts the engine calls a step makes.
import { describe, expect, it } from "vitest";
import { projectStepWork } from "../../ts/optimizer/workload.js";

describe("projectStepWork", () => {
  const config = { candidatesToScore: 3, maxNewTokens: 64, reasoning: true, ranking: "gradient" as const };

  it("counts topCandidates, oneHotGradient, and a generateForScoring + scoreContinuations pair per generation", () => {
    const work = projectStepWork([10, 20], config);
    expect(work.engineCalls).toBe(6);
    expect(work.generatedSequences).toEqual({ refresh: 2, selection: 6, total: 8 });
    expect(work.prefixTokens).toBe(30 * 4);
    expect(work.maxNewTokens).toBe(8 * 64);
  });

  it("leaves out the refresh's pair without reasoning and the gradient pass under random ranking", () => {
    expect(projectStepWork([10, 20], { ...config, reasoning: false }).engineCalls).toBe(4);
    expect(projectStepWork([10, 20], { ...config, reasoning: false, ranking: "random" as const }).engineCalls).toBe(3);
    expect(projectStepWork([10, 20], { ...config, ranking: "random" as const }).engineCalls).toBe(5);
  });
});
