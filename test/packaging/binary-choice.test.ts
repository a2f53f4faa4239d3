// The loader's choice (scripts/binary-choice.mjs, used by ts/engine/binding.ts and the install script):
// which binary fits which libtorch, child-process probes that keep a bad binary from crashing the host,
// cached verdicts, and the checklist error.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { chooseBinary, libtorchLoadFailure, listCandidates, noFitMessage, recordMismatch, type BinaryRecord } from "../../scripts/binary-choice.mjs";
import type { Libtorch } from "../../scripts/find-libtorch.mjs";
import { INTEGRITY_FILE, recordIntegrity } from "../../scripts/fetch-prebuilt.mjs";
import { PREBUILT_VARIANTS } from "../../scripts/prebuilt-variants.mjs";
import { packPackage, stagePrebuilt } from "../../scripts/stage-prebuilt.mjs";
import {
  cleanEnv,
  copyRealBinary,
  haveCompiler,
  makeBinaryNeedingMissingLibrary,
  makeCrashingBinary,
  makeFakeLibtorch,
  makeLibtorchMissingItsDependency,
  root,
  writeRecord,
} from "./helpers.js";

const work = mkdtempSync(join(tmpdir(), "greater-choice-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** An empty package folder (package.json only) in which binaries can be placed. */
function fakePackageRoot(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "greater", version: "0.1.0" }));
  return dir;
}

function libtorch(version: string, cuda: string | null, extra: Partial<Libtorch> = {}): Libtorch {
  return { source: "test", root: "/x", cmakeDir: "", includeDirs: [], libDir: "/x/lib", version, cuda: cuda !== null, cudaVersion: cuda, cxx11Abi: 1, cxxStandard: 17, ...extra };
}

describe("recordMismatch: which libtorch a binary can use", () => {
  const cpu213: BinaryRecord = { libtorchVersion: "2.13.0+cpu", variant: "cpu", cxx11Abi: 1, platform: "linux", arch: "x64" };
  const cuda214: BinaryRecord = { libtorchVersion: "2.14.1+cu130", variant: "cuda", cudaVersion: "13.0", platform: "linux", arch: "x64" };

  it.each([
    ["the CPU binary, its own CPU libtorch", cpu213, libtorch("2.13.0+cpu", null), null],
    ["the CPU binary, a libtorch zip without local tag", cpu213, libtorch("2.13.0", null), null],
    ["the CPU binary, another release", cpu213, libtorch("2.14.1+cpu", null), /2\.14\.1\+cpu, another release/],
    ["the CPU binary, the CUDA build of its release", cpu213, libtorch("2.13.0", "12.8"), /a CUDA build \(2\.13\.0\), this binary is for the CPU build/],
    ["the CPU binary, another C++ ABI", cpu213, libtorch("2.13.0+cpu", null, { cxx11Abi: 0 }), /_GLIBCXX_USE_CXX11_ABI=0/],
    ["the CUDA binary, its CUDA libtorch", cuda214, libtorch("2.14.1+cu130", "13.0"), null],
    ["the CUDA binary, the PyPI build of that release (no local tag)", cuda214, libtorch("2.14.1", "13.0"), null],
    ["the CUDA binary, the CPU build", cuda214, libtorch("2.14.1+cpu", null), /the CPU-only build/],
    ["the CUDA binary, another CUDA major", cuda214, libtorch("2.14.1+cu128", "12.8"), /built for CUDA 12\.8/],
    ["a CPU-only build over a CUDA libtorch, that libtorch", { ...cuda214, variant: "cpu" as const, cudaVersion: null }, libtorch("2.14.1+cu130", "13.0"), null],
  ])("%s", (_, record, found, expected) => {
    const reason = recordMismatch(record, found, "linux", "x64");
    if (expected === null) expect(reason).toBeNull();
    else expect(reason).toMatch(expected);
  });

  it("refuses another platform's binary", () => {
    expect(recordMismatch(cpu213, libtorch("2.13.0+cpu", null), "darwin", "arm64")).toMatch(/built for linux-x64, this is darwin-arm64/);
  });
});

describe("chooseBinary over the checkout's real build", () => {
  const cache = join(work, "probe-cache");
  const env = cleanEnv({ GREATER_CACHE_DIR: cache });

  it("probes it in a child process, then answers from the cache until the binary changes", () => {
    const packageRoot = fakePackageRoot("real");
    const binary = copyRealBinary(join(packageRoot, "build", "Release"));
    const first = chooseBinary({ packageRoot, env });
    expect(first.chosen?.path).toBe(binary);
    expect(first.chosen?.info).toMatchObject({ variant: "cpu", devices: ["cpu"] });
    expect(first.considered.map((c) => c.outcome)).toEqual(["fits (probed)"]);
    expect(readFileSync(join(cache, "binary-probes.json"), "utf8")).toContain(binary);

    expect(chooseBinary({ packageRoot, env }).considered.map((c) => c.outcome)).toEqual(["fits (cached probe)"]);
    // A rebuilt binary (another mtime) is probed again; so is every binary under GREATER_REPROBE=1.
    utimesSync(binary, new Date(), new Date(Date.now() + 5_000));
    expect(chooseBinary({ packageRoot, env }).considered.map((c) => c.outcome)).toEqual(["fits (probed)"]);
    expect(chooseBinary({ packageRoot, env: { ...env, GREATER_REPROBE: "1" } }).considered.map((c) => c.outcome)).toEqual(["fits (probed)"]);
  });

  it("keeps a local build usable with the libtorch it was built against when python3 finds none", () => {
    const packageRoot = fakePackageRoot("recorded");
    copyRealBinary(join(packageRoot, "build", "Release"));
    const choice = chooseBinary({ packageRoot, env: { ...env, PYTHON: join(work, "no-such-python"), GREATER_LIBTORCH_CACHE: join(work, "empty-cache") } });
    expect(choice.libtorch).toBeNull();
    expect(choice.chosen?.libtorch?.source).toBe("recorded at build time");
  });

  it("explains how to get a libtorch when none is found and no binary is there", () => {
    const packageRoot = fakePackageRoot("nothing");
    const noLibtorch = { ...env, PYTHON: join(work, "no-such-python"), GREATER_LIBTORCH_CACHE: join(work, "empty-cache") };
    const choice = chooseBinary({ packageRoot, env: noLibtorch });
    expect(choice).toMatchObject({ libtorch: null, considered: [] });
    const message = noFitMessage(choice, { packageRoot, env: noLibtorch });
    expect(message).toContain("libtorch found:  none");
    expect(message).toContain("binaries:        none installed");
    expect(message).toContain("download the CPU libtorch with pip");
    expect(message).toContain("python3 -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu");
  });

  it("obeys an explicit LIBTORCH: a binary built for another release is passed over, with the reason", () => {
    const packageRoot = fakePackageRoot("explicit");
    copyRealBinary(join(packageRoot, "build", "Release"));
    const fake = makeFakeLibtorch(join(work, "libtorch-2.12"), "2.12.0+cpu", null);
    const choice = chooseBinary({ packageRoot, env: { ...env, LIBTORCH: fake } });
    expect(choice.chosen).toBeUndefined();
    expect(choice.considered[0].outcome).toBe("the found libtorch is 2.12.0+cpu, another release");
    const message = noFitMessage(choice, { packageRoot, env });
    expect(message).toContain("libtorch found:  libtorch 2.12.0+cpu (CPU)");
    expect(message).toContain("needs libtorch 2.13.0");
    expect(message).toContain("npm run build:native"); // not inside node_modules: the checkout's command
  });

  it("lists local builds, installed platform packages, fetched variants and prebuildify output, in that order", () => {
    const packageRoot = fakePackageRoot("all-kinds");
    copyRealBinary(join(packageRoot, "build", "Release"));
    const platformPackage = join(packageRoot, "node_modules", "@greater", "linux-x64-cpu-torch2.13");
    mkdirSync(platformPackage, { recursive: true });
    writeFileSync(join(platformPackage, "package.json"), JSON.stringify({ name: "@greater/linux-x64-cpu-torch2.13", version: "0.1.0" }));
    copyRealBinary(platformPackage);
    copyRealBinary(join(packageRoot, "prebuilds", "linux-x64-cuda-torch2.14"));
    cpSync(join(packageRoot, "build", "Release", "greater.node"), join(packageRoot, "prebuilds", "linux-x64", "greater.napi.node"), { recursive: true });
    mkdirSync(join(packageRoot, "prebuilds", "unrelated"));
    expect(listCandidates(packageRoot, env).map((c) => c.kind)).toEqual(["build", "package", "fetched", "prebuildify"]);
    expect(listCandidates(packageRoot, { ...env, GREATER_BINARY: join(platformPackage, "greater.node") }).map((c) => c.kind)).toEqual(["env"]);
  });
});

describe("the TypeScript loader", () => {
  it("with GREATER_NO_BUILD=1 the loader refuses to fetch or build, and throws the checklist", async () => {
    const fake = makeFakeLibtorch(join(work, "libtorch-2.12-loader"), "2.12.0+cpu", null);
    const saved = { LIBTORCH: process.env.LIBTORCH, GREATER_NO_BUILD: process.env.GREATER_NO_BUILD, GREATER_BINARY: process.env.GREATER_BINARY };
    Object.assign(process.env, { LIBTORCH: fake, GREATER_NO_BUILD: "1" });
    delete process.env.GREATER_BINARY;
    try {
      vi.resetModules();
      const { loadBinding } = await import("../../ts/engine/binding.js");
      expect(() => loadBinding()).toThrow(/libtorch found: {2}libtorch 2\.12\.0\+cpu[\s\S]*with GREATER_NO_BUILD unset \(it is 1 now\)/);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      vi.resetModules();
    }
  });
});

describe.runIf(haveCompiler())("a binary that does not fit never reaches the host process", () => {
  const env = cleanEnv({ GREATER_CACHE_DIR: join(work, "probe-cache-bad") });

  it("a binary that aborts on load fails in the probe, and the loader throws the checklist instead", async () => {
    const crasher = makeCrashingBinary(join(work, "crasher"));
    const choice = chooseBinary({ packageRoot: fakePackageRoot("crash"), env: { ...env, GREATER_BINARY: crasher } });
    expect(choice.chosen).toBeUndefined();
    expect(choice.considered[0].outcome).toMatch(/crashed the probe process \(SIGABRT\)/);

    // Through the real TypeScript loader, in this very process: it throws, and we are still here.
    const saved = process.env.GREATER_BINARY;
    process.env.GREATER_BINARY = crasher;
    try {
      vi.resetModules();
      const { loadBinding } = await import("../../ts/engine/binding.js");
      expect(() => loadBinding()).toThrow(/No native addon of greater fits this machine\. Checklist:[\s\S]*SIGABRT/);
    } finally {
      if (saved === undefined) delete process.env.GREATER_BINARY;
      else process.env.GREATER_BINARY = saved;
      vi.resetModules();
    }
  });

  it("a CUDA binary whose CUDA libraries are missing is rejected with the library named", () => {
    const fakeCuda = makeFakeLibtorch(join(work, "libtorch-cuda"), "2.14.1+cu130", "13.0");
    const packageRoot = fakePackageRoot("cuda-missing");
    const binary = makeBinaryNeedingMissingLibrary(join(packageRoot, "prebuilds", "linux-x64-cuda-torch2.14"), "libcusparse.so.12");
    writeRecord(binary, { libtorchVersion: "2.14.1+cu130", variant: "cuda", cudaVersion: "13.0", cxx11Abi: 1, platform: "linux", arch: "x64" });
    const choice = chooseBinary({ packageRoot, env: { ...env, LIBTORCH: fakeCuda } });
    expect(choice.chosen).toBeUndefined();
    expect(choice.considered[0].outcome).toMatch(/libcusparse\.so\.12: cannot open shared object file/);
    const message = noFitMessage(choice, { packageRoot, env });
    for (const line of [
      "platform:        linux-x64",
      `libtorch found:  libtorch 2.14.1+cu130 with CUDA 13.0 at ${fakeCuda} (from LIBTORCH)`,
      "variant wanted:  cuda (the found libtorch has CUDA 13.0)",
      "needs libtorch 2.14.1+cu130 with CUDA 13.0: failed to load in a probe process",
      "install the missing library libcusparse.so.12",
      "python3 -m pip install torch==2.14.1 --index-url https://download.pytorch.org/whl/cu130",
    ]) {
      expect(message).toContain(line);
    }
  });

  it("when libtorch's own libraries do not load, the install script warns instead of building from source", () => {
    const packageRoot = fakePackageRoot("libtorch-broken");
    cpSync(join(root, "package.json"), join(packageRoot, "package.json"));
    cpSync(join(root, "scripts"), join(packageRoot, "scripts"), { recursive: true });
    const fakeCuda = join(work, "libtorch-cuda-broken");
    const binary = makeLibtorchMissingItsDependency(fakeCuda, join(packageRoot, "prebuilds", "linux-x64-cuda-torch2.14"), "libcusparse.so.12");
    writeRecord(binary, { libtorchVersion: "2.14.1+cu130", variant: "cuda", cudaVersion: "13.0", cxx11Abi: 1, platform: "linux", arch: "x64" });

    const choice = chooseBinary({ packageRoot, env: { ...env, LIBTORCH: fakeCuda } });
    expect(libtorchLoadFailure(choice)).toMatch(new RegExp(`cannot load ${fakeCuda}/lib/libtorch_cuda\\.so: libcusparse\\.so\\.12`));

    const run = spawnSync(process.execPath, [join(packageRoot, "scripts", "install.mjs")], { env: { ...env, LIBTORCH: fakeCuda }, encoding: "utf8" });
    expect(run.status).toBe(0); // the environment at run time may differ (LD_LIBRARY_PATH): warn, do not fail
    expect(run.stderr).toContain("install the missing library libcusparse.so.12");
    expect(run.stderr).toContain("a source build would not help");
    expect(existsSync(join(packageRoot, "build"))).toBe(false);
  });

  it("the install script fetches the CUDA variant for a CUDA libtorch, and with GREATER_NO_BUILD=1 refuses to compile", () => {
    // A release-shaped CUDA platform package holding the binary that needs a missing library.
    const staged = join(work, "cuda-package");
    mkdirSync(staged);
    cpSync(join(root, "packages", "linux-x64-cuda-torch2.14", "package.json"), join(staged, "package.json"));
    const binary = makeBinaryNeedingMissingLibrary(join(work, "cuda-build"), "libcusparse.so.12");
    writeRecord(binary, { libtorchVersion: "2.14.1+cu130", variant: "cuda", cudaVersion: "13.0", cxx11Abi: 1, platform: "linux", arch: "x64" });
    stagePrebuilt({ variantDir: "linux-x64-cuda-torch2.14", from: binary, into: staged, log: () => {} });
    const tarballs = join(work, "tarballs");
    const tarball = packPackage(staged, tarballs);

    // An installed copy of the package's scripts, run as npm runs the install hook.
    const packageRoot = fakePackageRoot("install");
    cpSync(join(root, "package.json"), join(packageRoot, "package.json"));
    cpSync(join(root, "scripts"), join(packageRoot, "scripts"), { recursive: true });
    const fakeCuda = makeFakeLibtorch(join(work, "libtorch-cuda-install"), "2.14.1+cu130", "13.0");
    const install = () => spawnSync(process.execPath, [join(packageRoot, "scripts", "install.mjs")], {
      env: { ...env, LIBTORCH: fakeCuda, GREATER_PREBUILT_DIR: tarballs, GREATER_NO_BUILD: "1" },
      encoding: "utf8",
    });

    // Without a hash recorded by the release, nothing is fetched, whatever the registry (here the folder) holds.
    const unrecorded = install();
    expect(unrecorded.status).toBe(1);
    expect(unrecorded.stderr).toContain("could not fetch @greater/linux-x64-cuda-torch2.14: this release records no hash for @greater/linux-x64-cuda-torch2.14@0.1.0 (prebuilt-integrity.json), so it is not fetched");
    expect(existsSync(join(packageRoot, "prebuilds"))).toBe(false);

    // A recorded hash that the served tarball does not have: refused, nothing unpacked.
    const cuda = PREBUILT_VARIANTS.find((v) => v.variant === "cuda")!;
    writeFileSync(join(packageRoot, INTEGRITY_FILE), JSON.stringify({ [cuda.package]: { version: "0.1.0", integrity: `sha512-${Buffer.alloc(64).toString("base64")}` } }));
    const tampered = install();
    expect(tampered.status).toBe(1);
    expect(tampered.stderr).toMatch(/is not the tarball this release recorded: its SHA-512 is sha512-\S+, the release's sha512-AAAA/);
    expect(existsSync(join(packageRoot, "prebuilds", "linux-x64-cuda-torch2.14", "greater.node"))).toBe(false);

    // The release's own record: fetched and unpacked.
    expect(recordIntegrity(packageRoot, cuda.package, "0.1.0", tarball).integrity).toMatch(/^sha512-/);
    const run = install();
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("fetching the prebuilt cuda binary");
    expect(existsSync(join(packageRoot, "prebuilds", "linux-x64-cuda-torch2.14", "greater.node"))).toBe(true);
    expect(run.stderr).toMatch(/@greater\/linux-x64-cuda-torch2\.14 \(fetched at install[\s\S]*libcusparse\.so\.12/);
    expect(run.stderr).toContain("GREATER_NO_BUILD=1, so no source build was attempted");
    expect(existsSync(join(packageRoot, "build"))).toBe(false);
  });
});

// The real CUDA build (`npm run build:cuda`), where one was made on this machine: on a machine without the
// CUDA libraries it must be rejected with the checklist; with them it must load as the CUDA variant.
const cudaBuild = join(root, "build-cuda", "Release", "greater.node");
const cudaRecord = existsSync(join(root, "build-cuda", "Release", "libtorch.json"))
  ? (JSON.parse(readFileSync(join(root, "build-cuda", "Release", "libtorch.json"), "utf8")) as BinaryRecord)
  : undefined;
describe.runIf(existsSync(cudaBuild) && cudaRecord?.libtorchRoot && existsSync(cudaRecord.libtorchRoot))("the real CUDA build", () => {
  it("is probed against its CUDA libtorch and either loads as the CUDA variant or is rejected with the checklist", () => {
    const packageRoot = fakePackageRoot("real-cuda");
    const env = cleanEnv({ GREATER_CACHE_DIR: join(work, "probe-cache-cuda"), LIBTORCH: cudaRecord!.libtorchRoot!, GREATER_BINARY: cudaBuild });
    const choice = chooseBinary({ packageRoot, env });
    if (choice.chosen) {
      expect(choice.chosen.info).toMatchObject({ variant: "cuda", cudaCompiled: true });
    } else {
      expect(choice.considered[0].outcome).toMatch(/^failed to load in a probe process: cannot load .*cannot open shared object file/);
      expect(noFitMessage(choice, { packageRoot, env })).toMatch(/install the missing library lib[\w.]+\.so/);
    }
  });
});
