import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, GreaterConfigError, resolveConfig } from "../../ts/optimizer/config.js";

describe("resolveConfig", () => {
  it("fills in the documented defaults", () => {
    const config = resolveConfig();
    expect(config).toMatchObject({
      topK: 11,
      topQ: 6,
      examplesPerIntersection: 5,
      minCandidates: 6,
      kIncrement: 2,
      candidatesToScore: 3,
      answerTemperature: 0.2,
      controlWeight: 0.2,
      patience: 150,
      lossThreshold: 0.12,
      userTurnTemplate: "authors",
      candidateFilter: "strict",
      fillerText: "_",
      reasoning: true,
      ranking: "gradient",
    });
    expect(config).toEqual(DEFAULT_CONFIG);
  });

  it("keeps given values and ignores undefined ones", () => {
    expect(resolveConfig({ topK: 40, seed: undefined }).topK).toBe(40);
    expect(resolveConfig({ controlWeight: 0 }).controlWeight).toBe(0);
    expect(resolveConfig({ ranking: "random", reasoning: false })).toMatchObject({ ranking: "random", reasoning: false });
  });

  it.each([
    [{ topK: 0 }, "config.topK must be a positive integer (got 0)"],
    [{ topQ: 2.5 }, "config.topQ must be a positive integer (got 2.5)"],
    [{ answerTemperature: 0 }, "config.answerTemperature must be a positive finite number"],
    [{ controlWeight: -1 }, "config.controlWeight must be a non-negative finite number"],
    [{ earlyExitFraction: 2 }, "config.earlyExitFraction must be a number in [0, 1]"],
    [{ ranking: "best" }, 'config.ranking must be one of "gradient", "random" (got "best")'],
    [{ userTurnTemplate: "chat" }, "config.userTurnTemplate must be one of"],
    [{ seed: -3 }, "config.seed must be an integer in [0, 2^32)"],
    [{ initialPrompt: "" }, "config.initialPrompt must be a non-empty string"],
    [{ reasoning: "no" }, "config.reasoning must be true or false"],
    [{ maxBatchRows: 0 }, "config.maxBatchRows must be a positive integer"],
    [{ topk: 5 }, "config.topk is not a GReaTer option"],
  ])("rejects %j naming the field", (partial, message) => {
    expect(() => resolveConfig(partial as never)).toThrow(GreaterConfigError);
    expect(() => resolveConfig(partial as never)).toThrow(message);
  });
});
