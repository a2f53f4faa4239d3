// The user's install, end to end, on two machines: one whose python3 has torch (the tests' Python environment) and
// one whose python3 has none (a bare virtual environment), where the install obtains the CPU libtorch through the
// hash-checked pip fallback (scripts/ensure-libtorch.mjs) into the package's own cache. Each room gets the packed
// package and the CPU platform package, with only node, npm, sh and that python3 on the PATH — no compiler, no
// CMake — then runs `greater info`, a tiny model's forward pass and a shipped BBH task from the installed package.
// The platform package's binary is the checkout's own build (build/Release, made by `npm install`), staged
// exactly as a release stages it (scripts/stage-prebuilt.mjs: runpath neutralised, build paths dropped), so
// it can reach libtorch only the way a user's copy does: through the loader's discovery and preload.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { packPackage, stagePrebuilt } from "../../scripts/stage-prebuilt.mjs";

const root = resolve(__dirname, "..", "..");
const cpuVariant = "linux-x64-cpu-torch2.13";
const work = mkdtempSync(join(tmpdir(), "greater-clean-room-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The two tarballs a user installs: the main package (`npm pack` runs its prepare script) and the CPU platform package. */
let tarballs: { main: string; platform: string } | undefined;
function packTarballs(): { main: string; platform: string } {
  if (tarballs) return tarballs;
  const platformPackage = join(work, cpuVariant);
  mkdirSync(platformPackage);
  for (const f of ["package.json", "README.md"]) cpSync(join(root, "packages", cpuVariant, f), join(platformPackage, f));
  stagePrebuilt({ variantDir: cpuVariant, from: join(root, "build", "Release", "greater.node"), into: platformPackage, log: () => {} });
  const out = join(work, "tarballs");
  const platform = packPackage(platformPackage, out);
  return (tarballs = { main: packPackage(root, out), platform });
}

const machines = [
  {
    name: "python3 has torch",
    python: () => inject("testPython"),
    libtorchSource: /^python \(python3\)$/,
    fallback: false,
  },
  {
    name: "python3 has no torch",
    python: () => {
      const venv = join(work, "bare-python");
      execFileSync("python3", ["-m", "venv", venv]);
      return join(venv, "bin", "python3");
    },
    libtorchSource: /^package cache \(.*\.libtorch\/torch-2\.13\.0\+cpu\)$/,
    fallback: true,
  },
];

describe.runIf(process.platform === "linux" && process.arch === "x64").each(machines)("a clean-room install from the packed tarballs ($name)", (machine) => {
  const room = join(work, `room-${machine.fallback ? "fallback" : "python"}`);
  const tools = join(work, `tools-${machine.fallback ? "fallback" : "python"}`);
  let installLog = "";
  let roomEnv: NodeJS.ProcessEnv;

  beforeAll(() => {
    const { main: mainTarball, platform: platformTarball } = packTarballs();
    // A PATH with node, npm, python3 and sh only. python3 runs the chosen interpreter itself (not a pyenv shim),
    // so that its torch (or its lack of one) is what the package finds; a wrapper rather than a link, since a
    // virtual environment's python knows itself only by its own path.
    mkdirSync(tools);
    const python = execFileSync(machine.python(), ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();
    const npmCli = realpathSync(execFileSync("/bin/sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim());
    symlinkSync(process.execPath, join(tools, "node"));
    symlinkSync(npmCli, join(tools, "npm"));
    writeFileSync(join(tools, "python3"), `#!/bin/sh\nexec '${python}' "$@"\n`, { mode: 0o755 });
    symlinkSync("/bin/sh", join(tools, "sh")); // npm runs lifecycle scripts with the `sh` of the PATH
    const hasTorch = spawnSync(join(tools, "python3"), ["-c", "import torch"]).status === 0;
    expect(hasTorch, `the room's python3 ${hasTorch ? "has" : "lacks"} torch`).toBe(!machine.fallback);
    const emptyIndex = join(work, "empty-index");
    mkdirSync(emptyIndex, { recursive: true });
    roomEnv = {
      PATH: tools,
      HOME: process.env.HOME, // npm's cache: dependencies come from it when they can (--prefer-offline)
      TMPDIR: work,
      GREATER_CACHE_DIR: join(work, `probe-cache-${machine.fallback}`), // no verdicts from this machine's other runs
      GREATER_NO_BUILD: "1", // were a source build attempted, the install would fail loudly
      // The fallback's extra index: an empty local one, so the wheel comes from the machine's own pip indexes
      // and nothing reaches for the network; the command is otherwise the user's.
      GREATER_TORCH_INDEX_URL: `file://${emptyIndex}`,
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
    // The install script said what it chose, and (without torch in python3) how it obtained libtorch.
    expect(installLog).toMatch(new RegExp(`greater: using \\S+greater\\.node \\(platform package @greater/${cpuVariant.replace(".", "\\.")}\\)`));
    if (machine.fallback) {
      expect(installLog).toMatch(/greater: no libtorch found; installing torch==2\.13\.0\+cpu \(sha256 [0-9a-f]{12}…, extra index file:\/\//);
      expect(existsSync(join(installed, ".libtorch", "torch-2.13.0+cpu", "torch", "lib"))).toBe(true);
    } else {
      expect(installLog).not.toMatch(/no libtorch found/);
    }
  });

  it("runs `greater info`, which shows the binary it chose and the libtorch it found", () => {
    const bin = join(room, "node_modules", ".bin", "greater");
    const info = JSON.parse(execFileSync(bin, ["info", "--json"], { cwd: room, env: roomEnv, encoding: "utf8" }));
    expect(info.binaryOrigin).toBe(`platform package @greater/${cpuVariant}`);
    expect(info.binaryPath).toBe(join(room, "node_modules", "@greater", cpuVariant, "greater.node"));
    expect(info.libtorchSource).toMatch(machine.libtorchSource);
    expect(info.libtorchVersion).toMatch(/^2\.13\./);
    expect(info.devices).toEqual(["cpu"]);
    const text = execFileSync(bin, ["info"], { cwd: room, env: roomEnv, encoding: "utf8" });
    expect(text).toContain(`chosen:     platform package @greater/${cpuVariant}`);
  });

  it("loads a BBH task from the data that ships in the package, with no data folder given", () => {
    const script = 'import { loadTask } from "greater"; const t = loadTask("bbh:navigate"); console.log(JSON.stringify([t.train.length, t.dev.length, t.test.length]));';
    const sizes = JSON.parse(execFileSync(join(tools, "node"), ["--input-type=module", "-e", script], { cwd: room, env: roomEnv, encoding: "utf8" }));
    expect(sizes).toEqual([50, 100, 100]);
    expect(existsSync(join(room, "node_modules", "greater", "data", "folio", "LICENSE"))).toBe(true);
  });

  it("has the job layer and the server as subpath exports, with their dependencies and the dashboard's files", () => {
    const script =
      'import { parseJobSpec, JobSpecSchema } from "greater/jobs"; import { createServer, openApiDocument } from "greater/serve";' +
      'const spec = parseJobSpec({ kind: "optimize", model: "/m", task: { preset: "bbh:navigate" } });' +
      'console.log(JSON.stringify([spec.kind, typeof createServer, openApiDocument("x").openapi, JobSpecSchema.$id]));';
    const out = JSON.parse(execFileSync(join(tools, "node"), ["--input-type=module", "-e", script], { cwd: room, env: roomEnv, encoding: "utf8" }));
    expect(out).toEqual(["optimize", "function", "3.1.0", "JobSpec"]);
    for (const file of ["index.html", "app.js", "app.css"]) expect(existsSync(join(room, "node_modules", "greater", "web", file))).toBe(true);
    const help = execFileSync(join(room, "node_modules", ".bin", "greater"), ["--help"], { cwd: room, env: roomEnv, encoding: "utf8" });
    for (const command of ["worker", "sweep", "serve"]) expect(help).toContain(command);
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
