// Returns a libtorch, obtaining a CPU one when none is found (README: "Where libtorch comes from").
// The fallback installs the CPU torch wheel with pip from the machine's configured indexes into the
// package's own cache folder (.libtorch/, or GREATER_LIBTORCH_CACHE) with --target, so the user's
// Python environment is left untouched. GREATER_NO_LIBTORCH_DOWNLOAD=1 turns the fallback off.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot, findLibtorch, HOW_TO_PROVIDE } from "./find-libtorch.mjs";

export const FALLBACK_TORCH = process.env.GREATER_TORCH_WHEEL ?? "torch==2.13.0+cpu";

export function ensureLibtorch({ log = console.error } = {}) {
  const found = findLibtorch();
  if (found) return found;
  if (process.env.GREATER_NO_LIBTORCH_DOWNLOAD === "1") throw new Error(HOW_TO_PROVIDE);
  const target = join(cacheRoot, FALLBACK_TORCH.replace("==", "-").replace(/[^A-Za-z0-9.+-]/g, "-"));
  mkdirSync(target, { recursive: true });
  log(`greater: no libtorch found; installing ${FALLBACK_TORCH} with pip into ${target}`);
  const python = process.env.PYTHON ?? "python3";
  try {
    execFileSync(python, ["-m", "pip", "install", "--retries", "0", "--timeout", "5", "--no-deps",
      "--disable-pip-version-check", "--target", target, FALLBACK_TORCH], { stdio: ["ignore", "inherit", "inherit"] });
  } catch (e) {
    throw new Error(`${HOW_TO_PROVIDE}\n(The automatic fallback, \`${python} -m pip install --target ${target} ${FALLBACK_TORCH}\`, failed: ${e.message})`);
  }
  const after = findLibtorch();
  if (!after) throw new Error(HOW_TO_PROVIDE);
  return after;
}
