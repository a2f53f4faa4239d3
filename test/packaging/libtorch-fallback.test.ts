// The CPU libtorch fallback (scripts/ensure-libtorch.mjs): one pinned wheel, wheels only, checked against the SHA-256
// recorded for the user's Python, from PyTorch's CPU index added as an extra index. The install tests run the same
// hash-checked pip command on the real wheel, with the tests' Python; the extra index points at an empty local folder
// so that nothing here reaches for the network.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { CPU_TORCH_WHEEL, fallbackWheel, installVerifiedWheel, pipInstallArgs, pythonTag } from "../../scripts/ensure-libtorch.mjs";
import { describeLibtorch } from "../../scripts/find-libtorch.mjs";

const work = mkdtempSync(join(tmpdir(), "greater-fallback-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const python = inject("testPython");
const emptyIndex = join(work, "empty-index");
mkdirSync(emptyIndex);
const localOnly = { GREATER_TORCH_INDEX_URL: `file://${emptyIndex}` };

describe("which wheel the fallback installs", () => {
  it("pins the CPU wheel, adds PyTorch's CPU index, and takes the hash recorded for this Python", () => {
    expect(fallbackWheel({}, "cp311")).toEqual({
      requirement: "torch==2.13.0+cpu",
      indexUrl: "https://download.pytorch.org/whl/cpu",
      hashes: [CPU_TORCH_WHEEL.sha256.cp311],
    });
    expect(fallbackWheel({ GREATER_TORCH_INDEX_URL: "https://mirror.example/whl/cpu" }, "cp311").indexUrl).toBe("https://mirror.example/whl/cpu");
  });

  it("refuses a Python whose wheel has no recorded hash, saying what to do", () => {
    expect(() => fallbackWheel({}, "cp399")).toThrow(/records the SHA-256 of the torch==2\.13\.0\+cpu wheel only for cp311, and this Python is cp399; .*GREATER_TORCH_WHEEL_SHA256/);
  });

  it("takes another wheel only with its hash", () => {
    expect(() => fallbackWheel({ GREATER_TORCH_WHEEL: "torch==2.13.0" }, "cp311")).toThrow(/GREATER_TORCH_WHEEL=torch==2\.13\.0 needs GREATER_TORCH_WHEEL_SHA256/);
    expect(() => fallbackWheel({ GREATER_TORCH_WHEEL: "torch==2.13.0", GREATER_TORCH_WHEEL_SHA256: "abc" }, "cp311")).toThrow(/GREATER_TORCH_WHEEL_SHA256: "abc" is not a SHA-256/);
    const a = "a".repeat(64), b = "b".repeat(64);
    expect(fallbackWheel({ GREATER_TORCH_WHEEL: "torch==2.13.0", GREATER_TORCH_WHEEL_SHA256: `${a}, ${b}` }, "cp312").hashes).toEqual([a, b]);
  });

  it("asks pip for wheels only, hash-checked, without dependencies, into the target folder", () => {
    const args = pipInstallArgs(fallbackWheel({}, "cp311"), "/t", "/r.txt");
    expect(args.join(" ")).toContain("--only-binary :all: --require-hashes --extra-index-url https://download.pytorch.org/whl/cpu --target /t -r /r.txt");
    expect(args).toContain("--no-deps");
  });
});

describe("the hash-checked install, on the real wheel", () => {
  it("installs the wheel whose hash matches, and the folder is a libtorch", () => {
    const target = join(work, "good");
    installVerifiedWheel(python, fallbackWheel(localOnly, pythonTag(python)), target);
    const found = describeLibtorch(join(target, "torch"), "test");
    expect(found?.version).toBe("2.13.0+cpu");
    expect(found?.cuda).toBe(false);
  }, 600_000);

  it("refuses the same wheel when the recorded hash differs, naming both", () => {
    const wrong = "0".repeat(64);
    const wheel = { ...fallbackWheel(localOnly, pythonTag(python)), hashes: [wrong] };
    expect(() => installVerifiedWheel(python, wheel, join(work, "bad"))).toThrow(new RegExp(`DO NOT MATCH THE HASHES[\\s\\S]*${wrong}[\\s\\S]*Got`));
  }, 600_000);
});
