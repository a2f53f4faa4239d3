// The engine as a library tested without Node: native/check/engine_check.cpp, linked against the static
// greater_engine library and run by ctest, checks generation and a gradient against transformers on a tiny fixture and
// the errors for malformed files. Built here with plain CMake (no cmake-js, no addon) into build/engine-check/, which
// later runs reuse.
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");
const buildDir = join(root, "build", "engine-check");

function run(command: string, args: string[]) {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8", timeout: 1_500_000, maxBuffer: 64 * 1024 * 1024 });
  return { ...result, output: `${result.stdout}\n${result.stderr}` };
}

describe("the engine without Node (ctest)", () => {
  it("builds engine_check against the static engine library and passes it", () => {
    const configure = run("cmake", ["-S", root, "-B", buildDir, "-DGREATER_ADDON=OFF", "-DGREATER_ENGINE_CHECK=ON", "-DCMAKE_BUILD_TYPE=Release"]);
    expect(configure.status, configure.output.slice(-3000)).toBe(0);
    const build = run("cmake", ["--build", buildDir, "--target", "engine_check", "--parallel", String(cpus().length)]);
    expect(build.status, build.output.slice(-3000)).toBe(0);
    const ctest = run("ctest", ["--test-dir", buildDir, "--output-on-failure"]);
    expect(ctest.status, ctest.output.slice(-3000)).toBe(0);
    expect(ctest.output).toMatch(/100% tests passed, 0 tests failed out of 1/);
    const direct = run(join(buildDir, "engine_check"), [join(root, "test", "fixtures", "tiny-models")]);
    expect(direct.stdout).toContain("ok    greedy generation gives transformers' tokens");
    expect(direct.stdout).toContain("ok    one-hot gradients match transformers'");
    expect(direct.stdout).toMatch(/ok {4}a truncated safetensors file is refused, named: .*model\.safetensors/);
    expect(direct.stdout).toContain("engine_check: all passed");
  }, 1_800_000);
});
