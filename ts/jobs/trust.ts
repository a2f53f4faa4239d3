// Anyone who can write to the queue can name a path. A worker reads model folders and task files only under
// the roots it was started with (symlinks resolved, so a link cannot lead out), plus the package's own shipped
// models and data.
import { realpathSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { SHIPPED_DATA_DIR } from "../tasks/load.js";

const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Always readable: what ships inside the package. */
export const SHIPPED_ROOTS = [join(PACKAGE_ROOT, "models"), SHIPPED_DATA_DIR];

/** A path a job named that the worker will not read. */
export class UntrustedPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UntrustedPathError";
  }
}

/** The roots, resolved; a root that does not exist is an error of the worker's own setup. */
export function resolveRoots(roots: string[]): string[] {
  return [...roots, ...SHIPPED_ROOTS].flatMap((root) => {
    try {
      return [realpathSync(root)];
    } catch {
      if (SHIPPED_ROOTS.includes(root)) return [];
      throw new Error(`--allow-root ${root}: no such folder`);
    }
  });
}

/** Throws unless `path` really (symlinks resolved) lies under one of `roots` (already resolved). */
export function checkUnderRoots(path: string, roots: string[], what: string): string {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new UntrustedPathError(`${what} ${path}: not found on this worker`);
  }
  const inside = roots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep));
  if (!inside) {
    throw new UntrustedPathError(`${what} ${path}${real === resolve(path) ? "" : ` (really ${real})`} is outside the folders this worker may read ` +
      `(${roots.join(", ")}); start the worker with --allow-root for it`);
  }
  return real;
}
