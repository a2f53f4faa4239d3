// Returns a libtorch, obtaining a CPU one when none is found (docs/install.md, "Where libtorch comes from").
// The fallback installs one pinned CPU torch wheel with pip into the package's own cache folder (.libtorch/, or
// GREATER_LIBTORCH_CACHE) with --target, so the user's Python environment is left untouched. What pip brings is
// verified: wheels only (--only-binary :all:, no source build runs), and --require-hashes against the SHA-256 this
// release recorded for the wheel of the user's Python version. The `+cpu` wheels live on PyTorch's own index, so it
// is added as an extra index (GREATER_TORCH_INDEX_URL overrides it; the user's own pip indexes stay in force).
// GREATER_NO_LIBTORCH_DOWNLOAD=1 turns the fallback off.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheRoot, findLibtorch, HOW_TO_PROVIDE } from "./find-libtorch.mjs";

/**
 * The wheel the fallback installs. `sha256` maps a CPython tag to the hash of the manylinux x86_64 wheel for that
 * Python; a Python without an entry gets a refusal that says how to provide a libtorch instead of an unverified
 * download. Each hash is the file's SHA-256 as PyTorch's index lists it (`#sha256=` in
 * https://download.pytorch.org/whl/cpu/torch/); add a Python version by adding its wheel's hash here.
 */
export const CPU_TORCH_WHEEL = {
  requirement: "torch==2.13.0+cpu",
  indexUrl: "https://download.pytorch.org/whl/cpu",
  sha256: {
    cp311: "6746dbcbeb526eb61330b76b41ff1b4eb848951103a892eeb080dfa2b264667b",
  },
};

/**
 * The wheel to install and its accepted hashes. GREATER_TORCH_WHEEL picks another requirement; it must come with
 * GREATER_TORCH_WHEEL_SHA256 (one or more hashes, comma-separated), since nothing else could vouch for it.
 */
export function fallbackWheel(env = process.env, pythonTag) {
  const indexUrl = env.GREATER_TORCH_INDEX_URL ?? CPU_TORCH_WHEEL.indexUrl;
  if (env.GREATER_TORCH_WHEEL !== undefined) {
    const hashes = (env.GREATER_TORCH_WHEEL_SHA256 ?? "").split(",").map((h) => h.trim()).filter(Boolean);
    if (hashes.length === 0) {
      throw new Error(`GREATER_TORCH_WHEEL=${env.GREATER_TORCH_WHEEL} needs GREATER_TORCH_WHEEL_SHA256 (the wheel's SHA-256; several may be ` +
        "given, comma-separated): the fallback installs only wheels it can verify");
    }
    const bad = hashes.find((h) => !/^[0-9a-f]{64}$/.test(h));
    if (bad !== undefined) throw new Error(`GREATER_TORCH_WHEEL_SHA256: "${bad}" is not a SHA-256 (64 lowercase hex digits)`);
    return { requirement: env.GREATER_TORCH_WHEEL, indexUrl, hashes };
  }
  const hash = CPU_TORCH_WHEEL.sha256[pythonTag];
  if (hash === undefined) {
    throw new Error(`this release records the SHA-256 of the ${CPU_TORCH_WHEEL.requirement} wheel only for ` +
      `${Object.keys(CPU_TORCH_WHEEL.sha256).join(", ")}, and this Python is ${pythonTag}; provide a libtorch another way, ` +
      "or name the wheel and its hash with GREATER_TORCH_WHEEL and GREATER_TORCH_WHEEL_SHA256");
  }
  return { requirement: CPU_TORCH_WHEEL.requirement, indexUrl, hashes: [hash] };
}

/** pip's arguments for a hash-checked, wheel-only install of `wheel` into `target` (requirements file `reqFile`). */
export function pipInstallArgs(wheel, target, reqFile) {
  return ["-m", "pip", "install", "--retries", "0", "--timeout", "5", "--no-deps", "--disable-pip-version-check",
    "--only-binary", ":all:", "--require-hashes", "--extra-index-url", wheel.indexUrl, "--target", target, "-r", reqFile];
}

/**
 * Installs `wheel` with `python`'s pip into `target`, verified by its hashes. Throws with pip's reason (a hash
 * mismatch names both hashes) when pip refuses.
 */
export function installVerifiedWheel(python, wheel, target) {
  const scratch = mkdtempSync(join(tmpdir(), "greater-torch-wheel-"));
  try {
    const reqFile = join(scratch, "requirements.txt");
    writeFileSync(reqFile, `${wheel.requirement} ${wheel.hashes.map((h) => `--hash=sha256:${h}`).join(" ")}\n`);
    mkdirSync(target, { recursive: true });
    execFileSync(python, pipInstallArgs(wheel, target, reqFile), { stdio: ["ignore", "inherit", "pipe"], encoding: "utf8" });
  } catch (e) {
    const pipSaid = typeof e.stderr === "string" ? e.stderr.trim().split("\n").filter((l) => !l.startsWith("WARNING: Location")).slice(-8).join("\n") : "";
    throw new Error(`${python} -m pip could not install ${wheel.requirement} (sha256 ${wheel.hashes.join(" or ")}) into ${target}: ` +
      `${pipSaid || e.message}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The CPython tag of `python` (cp311, ...). */
export function pythonTag(python) {
  return execFileSync(python, ["-c", "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')"], { encoding: "utf8" }).trim();
}

export function ensureLibtorch({ log = console.error } = {}) {
  const found = findLibtorch();
  if (found) return found;
  if (process.env.GREATER_NO_LIBTORCH_DOWNLOAD === "1") throw new Error(HOW_TO_PROVIDE);
  const python = process.env.PYTHON ?? "python3";
  let target = "";
  try {
    const wheel = fallbackWheel(process.env, pythonTag(python));
    target = join(cacheRoot, wheel.requirement.replace("==", "-").replace(/[^A-Za-z0-9.+-]/g, "-"));
    log(`greater: no libtorch found; installing ${wheel.requirement} (sha256 ${wheel.hashes[0].slice(0, 12)}…, extra index ${wheel.indexUrl}) with pip into ${target}`);
    installVerifiedWheel(python, wheel, target);
  } catch (e) {
    if (target) rmSync(target, { recursive: true, force: true }); // nothing half-installed is taken for a libtorch later
    throw new Error(`${HOW_TO_PROVIDE}\n(The automatic fallback failed: ${e.message})`);
  }
  const after = findLibtorch();
  if (!after) throw new Error(HOW_TO_PROVIDE);
  return after;
}
