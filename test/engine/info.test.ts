import { describe, expect, it } from "vitest";
import { engineInfo, matmulChecksum } from "../../ts/engine/index.js";

describe("engineInfo", () => {
  it("reports the libtorch the addon was built against and the CPU device", () => {
    const info = engineInfo();
    expect(info.libtorchVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.devices[0]).toBe("cpu");
    expect(info.threads).toBeGreaterThan(0);
    expect(info.cudaAvailable).toBe(info.devices.some((d) => d.startsWith("cuda")));
    expect(info.binaryPath).toMatch(/\.node$/);
  });
});

describe("asynchronous tensor work", () => {
  it("resolves with the same checksum for the same seed and another for another seed", async () => {
    const [a, b, c] = await Promise.all([matmulChecksum(32, 7), matmulChecksum(32, 7), matmulChecksum(32, 8)]);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(Number.isFinite(a)).toBe(true);
  });

  it("does not block the JS thread while it runs", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await matmulChecksum(700, 1);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
  });

  it("turns a C++ exception into a rejected Promise carrying its message", async () => {
    await expect(matmulChecksum(-3)).rejects.toThrow(/size must be positive, got -3/);
  });
});
