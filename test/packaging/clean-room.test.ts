// The user's install, end to end: `npm pack` the package and the CPU platform package, install both tarballs
// into an empty folder with only node, npm, sh and python3 (CPU torch) on the PATH — no compiler, no CMake —
// then run `greater info` and a tiny model's forward pass from the installed package.
// The platform package's binary is the checkout's own build (build/Release, made by `npm install`), staged
// exactly as a release stages it (scripts/stage-prebuilt.mjs: runpath neutralised, build paths dropped), so
// it can reach libtorch only the way a user's copy does: through the loader's discovery and preload.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packPackage, stagePrebuilt } from "../../scripts/stage-prebuilt.mjs";

const root = resolve(__dirname, "..", "..");
const cpuVariant = "linux-x64-cpu-torch2.13";
const work = mkdtempSync(join(tmpdir(), "greater-clean-room-"));
const room = join(work, "room");
const tools = join(work, "tools");
let installLog = "";
let roomEnv: NodeJS.ProcessEnv;

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.runIf(process.platform === "linux" && process.arch === "x64")("a clean-room install from the packed tarballs", () => {
  beforeAll(() => {
    // The platform package, staged from the checkout's build.
    const platformPackage = join(work, cpuVariant);
    mkdirSync(platformPackage);
    for (const f of ["package.json", "README.md"]) cpSync(join(root, "packages", cpuVariant, f), join(platformPackage, f));
    stagePrebuilt({ variantDir: cpuVariant, from: join(root, "build", "Release", "greater.node"), into: platformPackage, log: () => {} });
    const tarballs = join(work, "tarballs");
    const platformTarball = packPackage(platformPackage, tarballs);
    // The main package: `npm pack` runs its prepare script (tsc), as a release does.
    const mainTarball = packPackage(root, tarballs);

    // A PATH with node, npm, python3 and sh only. python3 is the real interpreter (not a pyenv shim), so that
    // its torch is the one the package finds.
    mkdirSync(tools);
    const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();
    const npmCli = realpathSync(execFileSync("/bin/sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim());
    symlinkSync(process.execPath, join(tools, "node"));
    symlinkSync(npmCli, join(tools, "npm"));
    symlinkSync(python, join(tools, "python3"));
    symlinkSync("/bin/sh", join(tools, "sh")); // npm runs lifecycle scripts with the `sh` of the PATH
    roomEnv = {
      PATH: tools,
      HOME: process.env.HOME, // npm's cache: dependencies come from it when they can (--prefer-offline)
      TMPDIR: work,
      GREATER_CACHE_DIR: join(work, "probe-cache"), // no verdicts from this machine's other runs
      GREATER_NO_BUILD: "1", // were a source build attempted, the install would fail loudly
    };
    for (const compiler of ["cc", "gcc", "g++", "c++", "cmake", "make"]) {
      expect(() => execFileSync("/bin/sh", ["-c", `command -v ${compiler}`], { env: roomEnv, stdio: "pipe" })).toThrow();
    }

    mkdirSync(room);
    writeFileSync(join(room, "package.json"), JSON.stringify({ name: "clean-room", version: "1.0.0", private: true }));
    const install = spawnSync(join(tools, "npm"), ["install", mainTarball, platformTarball, "--prefer-offline", "--no-audit", "--no-fund", "--foreground-scripts"], {
      cwd: room,
      env: roomEnv,
      encoding: "utf8",
      timeout: 600_000,
    });
    installLog = `${install.stdout}\n${install.stderr}`;
    if (install.status !== 0) throw new Error(`npm install in the clean room failed (${install.status ?? install.signal}):\n${installLog}`);
  }, 900_000);

  it("installs without compiling, choosing the CPU platform package's binary", () => {
    const installed = join(room, "node_modules", "greater");
    expect(existsSync(join(installed, "dist", "index.js"))).toBe(true);
    expect(existsSync(join(installed, "build"))).toBe(false); // no cmake-js build happened
    expect(existsSync(join(installed, "prebuilds"))).toBe(false); // nothing fetched at install
    expect(existsSync(join(room, "node_modules", "@greater", cpuVariant, "greater.node"))).toBe(true);
    expect(existsSync(join(room, "node_modules", "@greater", "linux-x64-cuda-torch2.14"))).toBe(false);
    const record = JSON.parse(readFileSync(join(room, "node_modules", "@greater", cpuVariant, "libtorch.json"), "utf8"));
    expect(record).toMatchObject({ variant: "cpu", platform: "linux", arch: "x64" });
    expect(record.libtorchRoot).toBeUndefined(); // no build-machine paths ship
    // The install script said what it chose.
    expect(installLog).toMatch(new RegExp(`greater: using \\S+greater\\.node \\(platform package @greater/${cpuVariant.replace(".", "\\.")}\\)`));
  });

  it("runs `greater info`, which shows the binary it chose and the libtorch it found", () => {
    const bin = join(room, "node_modules", ".bin", "greater");
    const info = JSON.parse(execFileSync(bin, ["info", "--json"], { cwd: room, env: roomEnv, encoding: "utf8" }));
    expect(info.binaryOrigin).toBe(`platform package @greater/${cpuVariant}`);
    expect(info.binaryPath).toBe(join(room, "node_modules", "@greater", cpuVariant, "greater.node"));
    expect(info.libtorchSource).toBe("python (python3)");
    expect(info.libtorchVersion).toMatch(/^2\.13\./);
    expect(info.devices).toEqual(["cpu"]);
    const text = execFileSync(bin, ["info"], { cwd: room, env: roomEnv, encoding: "utf8" });
    expect(text).toContain(`chosen:     platform package @greater/${cpuVariant}`);
  });

  it("runs a tiny model's forward pass that matches transformers", () => {
    cpSync(join(__dirname, "clean-room-forward.mjs"), join(room, "forward.mjs"));
    const out = JSON.parse(
      execFileSync(join(tools, "node"), [join(room, "forward.mjs"), join(root, "test", "fixtures", "tiny-models", "llama-untied")], {
        cwd: room,
        env: roomEnv,
        encoding: "utf8",
      }),
    );
    expect(out.binaryOrigin).toBe(`platform package @greater/${cpuVariant}`);
    expect(out.maxAbsDifference).toBeLessThanOrEqual(out.tolerance);
    expect(Number.isFinite(out.checksum)).toBe(true);
  });
});
