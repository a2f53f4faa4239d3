// Anyone who can write to the queue can name a path. A worker reads model folders and task files only under
// the roots it was started with (symlinks resolved, so a link cannot lead out), plus the package's own shipped
// models and data.
import { realpathSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { packageRoot } from "../engine/binding.js";
import { SHIPPED_DATA_DIR } from "../tasks/load.js";

/** Always readable: what ships inside the package. */
export const SHIPPED_ROOTS = [join(packageRoot, "models"), SHIPPED_DATA_DIR];

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

/** Whether the resolved path `real` is one of `roots` (resolved) or lies inside one. */
export function isUnderRoots(real: string, roots: string[]): boolean {
  return roots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep));
}

/** Throws unless `path` really (symlinks resolved) lies under one of `roots` (already resolved). */
export function checkUnderRoots(path: string, roots: string[], what: string): string {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new UntrustedPathError(`${what} ${path}: not found on this worker`);
  }
  if (!isUnderRoots(real, roots)) {
    throw new UntrustedPathError(`${what} ${path}${real === resolve(path) ? "" : ` (really ${real})`} is outside the folders this worker may read ` +
      `(${roots.join(", ")}); start the worker with --allow-root for it`);
  }
  return real;
}
