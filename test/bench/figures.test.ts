// The bench's arithmetic on made-up child results: medians, ratio directions, the GPU-only figures (the decode
// bandwidth fraction cannot run on a machine without a GPU, so its formula is checked here) and the targets.
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module without types (bench/ is JavaScript run by node directly)
import { figure, markdownTable, median, profileFigures, stepAgreement, targets } from "../../bench/lib/figures.mjs";

const gpuProfile = {
  name: "gpu-1b",
  device: "cuda",
  generate: [
    { name: "generate_b1", batch: 1, newTokens: 128 },
    { name: "generate_b9", batch: 9, newTokens: 128 },
    { name: "generate_b50", batch: 50, newTokens: 128 },
    { name: "generate_b1_t1", batch: 1, newTokens: 1 },
  ],
};

function side(scale: number) {
  const samples = (ms: number) => ({ samplesMs: [ms * scale * 1.1, ms * scale, ms * scale * 0.9] });
  return {
    load: [{ loadMs: 100 * scale, peakRssMiB: 1000 * scale }, { loadMs: 300 * scale, peakRssMiB: 1200 * scale }],
    micro: {
      figures: {
        forward_logprobs: samples(10),
        generate_b1: samples(1000 + 127 * 4), // 4 ms per decoded token after a 1 s prefill
        generate_b9: samples(2000),
        generate_b50: samples(4000),
        generate_b1_t1: samples(1000),
        one_hot_gradient: samples(50),
      },
    },
    step: { step: { ms: 60_000 * scale, outcome: { candidates: [1, 2, 3], ranked: [2, 1], chosen: 2, loss: 0.5 }, prompt: [7, 8] }, peakRssMiB: 2000 * scale, gpuPeakMiB: 5000 * scale },
  };
}

describe("bench figures", () => {
  it("median of odd and even counts", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/no values/);
  });

  it("ratio > 1 when ours is better, whatever the unit; null without a reference", () => {
    expect(figure("step", "ms", 10, 50, "m").ratio).toBe(5);
    expect(figure("step_peak_memory", "MiB", 200, 100, "m").ratio).toBe(0.5);
    expect(figure("generate_b50", "tokens/s", 300, 100, "m").ratio).toBe(3);
    expect(figure("decode_bandwidth_fraction", "fraction", 0.6, 0.2, "m").ratio).toBeCloseTo(3, 12);
    expect(figure("step", "ms", 10, null, "m").ratio).toBeNull();
    expect(() => figure("x", "seconds", 1, 1, "m")).toThrow(/unknown unit/);
  });

  it("GPU figures: decode time per token without the prefill against the bandwidth bound, and GPU memory", () => {
    const ours = side(1);
    const reference = side(2);
    const results = {
      load: { ours: ours.load, reference: reference.load },
      micro: { ours: ours.micro, reference: reference.micro },
      step: { ours: [ours.step], reference: [reference.step] },
    };
    const boundSeconds = 0.002; // e.g. 2.5 GB of weights at 1250 GB/s
    const figures = profileFigures(gpuProfile, results, boundSeconds);
    const byName = Object.fromEntries(figures.map((f: { name: string }) => [f.name, f]));
    expect(Object.keys(byName)).toEqual([
      "load_time", "load_peak_memory", "forward_logprobs", "generate_b1", "generate_b9", "generate_b50",
      "one_hot_gradient", "decode_bandwidth_fraction", "step", "step_peak_memory", "step_peak_gpu_memory",
    ]);
    expect(byName.load_time).toMatchObject({ ours: 200, reference: 400, ratio: 2 });
    expect(byName.generate_b9.ours).toBeCloseTo((9 * 128) / 2, 9);
    // ours decodes a token in 4 ms: the 2 ms bound is half of it; the reference is twice as slow.
    expect(byName.decode_bandwidth_fraction.ours).toBeCloseTo(0.5, 9);
    expect(byName.decode_bandwidth_fraction.reference).toBeCloseTo(0.25, 9);
    expect(byName.decode_bandwidth_fraction.ratio).toBeCloseTo(2, 9);
    expect(byName.step_peak_gpu_memory).toMatchObject({ ours: 5000, reference: 10000, ratio: 2, unit: "MiB" });
    expect(figures.every((f: { model: string }) => f.model === "gpu-1b")).toBe(true);
    expect(targets(figures, "gpu")).toEqual([]);
  });

  it("targets: met, not met, or unknown without a reference", () => {
    const figures = [figure("step", "ms", 10, 60, "m"), figure("generate_b50", "tokens/s", 150, 100, "m"), figure("step_peak_memory", "MiB", 100, null, "m")];
    expect(targets(figures, "cpu").map((t: { met: boolean | null }) => t.met)).toEqual([true, false, null]);
    const markdown = markdownTable({ machine: "box", device: "cpu", date: "2026-01-01", threads: 2, note: "Quiet.", figures, targets: targets(figures, "cpu") });
    expect(markdown).toContain("| step | 10.0 | 60.0 | ms | 6.00x |");
    expect(markdown).toContain("- generation tokens/s at batch 50 at least 2x the reference: NOT met (1.50x)");
    expect(markdown).toContain("not measured");
  });

  it("step agreement compares candidates, ranking and choice", () => {
    const a = side(1).step;
    const b = structuredClone(a);
    expect(stepAgreement(a, b)).toMatchObject({ prompt: true, candidates: true, ranked: true, chosen: true });
    b.step.outcome.ranked = [1, 2];
    expect(stepAgreement(a, b)).toMatchObject({ candidates: true, ranked: false, chosen: true });
    expect(stepAgreement(a, null)).toBeNull();
  });
});
