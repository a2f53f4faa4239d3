// scripts/gpu-check.sh (npm run check:gpu) refuses at once, and says why, on a machine without an NVIDIA GPU.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(__dirname, "..", "..");
const hasGpu = spawnSync("nvidia-smi", ["-L"]).status === 0;

describe("npm run check:gpu", () => {
  it.skipIf(hasGpu)("exits 2 naming the missing GPU, before building anything", () => {
    const run = spawnSync("bash", [join(root, "scripts", "gpu-check.sh")], { cwd: root, encoding: "utf8", timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/no NVIDIA GPU here \(nvidia-smi -L failed\)/);
    expect(run.stdout).not.toMatch(/build the CUDA addon/);
  });
});
