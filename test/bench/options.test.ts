// The bench's command line: what --step-tokens changes, and what it refuses.
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module without types (bench/ is JavaScript run by node directly)
import { PROFILES, parseOptions } from "../../bench/lib/options.mjs";

describe("bench options", () => {
  it("--step-tokens sets the full step's reasoning length of every profile and remembers the profile's own", () => {
    const gpu = parseOptions(["--gpu", "--step-tokens", "128"], "/repo");
    expect(gpu.profiles.map((p: { name: string }) => p.name)).toEqual(["gpu-1b", "gpu-8b"]);
    for (const profile of gpu.profiles) {
      expect(profile.stepTokens).toBe(128);
      expect(profile.profileStepTokens).toBe(512);
    }
    const cpu = parseOptions([], "/repo");
    expect(cpu.profiles[0].stepTokens).toBe(PROFILES["cpu-35m"].stepTokens);
    expect(cpu.profiles[0].profileStepTokens).toBeUndefined();
  });

  it("refuses a --step-tokens that is not a positive integer, naming it", () => {
    for (const bad of ["0", "1.5", "many"]) {
      expect(() => parseOptions(["--step-tokens", bad], "/repo")).toThrow(`--step-tokens must be a positive integer, got ${bad}`);
    }
  });
});
