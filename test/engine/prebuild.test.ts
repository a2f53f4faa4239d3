// `npm run prebuild` (scripts/prebuild.mjs: prebuildify over node-gyp and binding.gyp) must place a binary where node-gyp-build
// finds it first, and that binary must load and work. This is also the CI proof that the node-gyp build of
// binding.gyp works. It compiles the whole addon without a precompiled header: a few minutes on 2 cores.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(__dirname, "..", "..");
const out = mkdtempSync(join(tmpdir(), "greater-prebuild-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("npm run prebuild", () => {
  it("builds into prebuilds/, where node-gyp-build resolves and loads it", () => {
    execFileSync(process.execPath, [join(root, "scripts", "prebuild.mjs"), "--out", out], { stdio: "pipe", timeout: 1_500_000 });
    const folder = join(out, "prebuilds", `${process.platform}-${process.arch}`);
    expect(existsSync(join(folder, "libtorch.json"))).toBe(true);
    // node-gyp-build resolves against a package root: give the output folder the package's manifest.
    copyFileSync(join(root, "package.json"), join(out, "package.json"));
    const nodeGypBuild = createRequire(import.meta.url)("node-gyp-build") as { resolve(dir: string): string };
    const binary = nodeGypBuild.resolve(out);
    expect(binary.startsWith(folder)).toBe(true);
    const info = JSON.parse(
      execFileSync(process.execPath, ["-p", `JSON.stringify(require(${JSON.stringify(binary)}).engineInfo())`], { encoding: "utf8" }),
    );
    expect(info.libtorchVersion).toMatch(/^\d+\.\d+/);
    expect(info.devices).toContain("cpu");
  }, 1_600_000);
});
