// The release's shape: the variant table (scripts/prebuilt-variants.mjs), package.json and the platform
// packages agree; and the ELF edits that make a staged binary portable do what they claim.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readDynamicSection, replaceRunpath } from "../../scripts/elf.mjs";
import { PREBUILT_VARIANTS } from "../../scripts/prebuilt-variants.mjs";
import { variantMismatch } from "../../scripts/stage-prebuilt.mjs";
import { realBinary, root } from "./helpers.js";

const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

describe("the prebuilt variants", () => {
  it("ship the CPU variants as optional dependencies at the package's own version, and nothing else", () => {
    const expected = Object.fromEntries(PREBUILT_VARIANTS.filter((v) => v.delivery === "optional-dependency").map((v) => [v.package, manifest.version]));
    expect(manifest.optionalDependencies).toEqual(expected);
    // A CUDA variant listed there would be downloaded by every user of that os/cpu.
    expect(Object.keys(manifest.optionalDependencies).some((name) => name.includes("cuda"))).toBe(false);
  });

  it.each(PREBUILT_VARIANTS.map((v) => [v.dir, v] as const))("packages/%s/package.json describes its variant", (dir, variant) => {
    const platformManifest = JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8"));
    expect(platformManifest).toMatchObject({
      name: variant.package,
      version: manifest.version,
      os: [variant.platform],
      cpu: [variant.arch],
      files: ["greater.node", "libtorch.json"],
    });
    expect(platformManifest.scripts).toBeUndefined(); // installing it runs nothing
    expect(variant.pipInstall).toContain(`torch==${variant.libtorchVersion}`);
  });

  it("keep binaries out of the main package, which ships the sources for a source build", () => {
    expect(manifest.files).not.toContain("prebuilds");
    expect(manifest.files).not.toContain("packages");
    for (const needed of ["dist", "bin", "scripts", "native", "CMakeLists.txt"]) expect(manifest.files).toContain(needed);
    expect(manifest.scripts.install).toBe("node scripts/install.mjs");
    // npm runs "pre<name>" before "<name>": `npm run prebuild` (the foundation's prebuildify command) is
    // safe only while there is no "build" script for it to hook.
    for (const name of ["prebuild", "prebuilt:cpu", "prebuilt:cuda"]) {
      expect(manifest.scripts[name]).toMatch(/^node scripts\/prebuild\.mjs/);
      expect(manifest.scripts[name.slice(3)], `"${name}" would run before "${name.slice(3)}"`).toBeUndefined();
    }
  });

  it("refuse to stage a binary built against another libtorch than the variant's", () => {
    const [cpu, cuda] = [PREBUILT_VARIANTS.find((v) => v.variant === "cpu")!, PREBUILT_VARIANTS.find((v) => v.variant === "cuda")!];
    const cpuRecord = { libtorchVersion: `${cpu.libtorchVersion}+cpu`, variant: "cpu", platform: "linux", arch: "x64" };
    expect(variantMismatch(cpuRecord, cpu)).toBeNull();
    expect(variantMismatch({ ...cpuRecord, libtorchVersion: "2.12.0+cpu" }, cpu)).toMatch(/built against libtorch 2\.12\.0\+cpu/);
    expect(variantMismatch(cpuRecord, cuda)).toMatch(/built against libtorch/);
    expect(variantMismatch({ ...cpuRecord, libtorchVersion: cuda.libtorchVersion }, cuda)).toMatch(/it is the cpu variant/);
    expect(variantMismatch({ libtorchVersion: cuda.libtorchVersion, variant: "cuda", cudaVersion: "12.8" }, cuda)).toMatch(/CUDA 12\.8/);
    expect(variantMismatch(undefined, cpu)).toMatch(/no libtorch.json/);
  });
});

describe("ELF dynamic section", () => {
  const work = mkdtempSync(join(tmpdir(), "greater-elf-test-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.runIf(existsSync(realBinary))("reads the libtorch libraries the addon needs, and replaces its runpath in place", () => {
    const copy = join(work, "greater.node");
    copyFileSync(realBinary, copy);
    const before = readDynamicSection(copy)!;
    expect(before.arch).toBe(process.arch);
    expect(before.needed).toEqual(expect.arrayContaining(["libc10.so", "libtorch_cpu.so", "libtorch.so"]));
    expect(before.runpath?.value).toContain("/lib"); // the build machine's libtorch

    expect(() => replaceRunpath(copy, "x".repeat(before.runpath!.value.length + 1))).toThrow(/longer than the present one/);
    expect(replaceRunpath(copy, "$ORIGIN")).toBe(before.runpath!.value);
    const after = readDynamicSection(copy)!;
    expect(after.runpath?.value).toBe("$ORIGIN");
    expect(after.needed).toEqual(before.needed); // nothing else moved
    expect(readFileSync(copy).length).toBe(readFileSync(realBinary).length);
  });

  it("answers null for a file that is not ELF", () => {
    expect(readDynamicSection(join(root, "package.json"))).toBeNull();
  });
});
