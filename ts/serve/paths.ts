// A submitted spec may only name model folders and task files under the roots the operator allows. The API
// machine need not hold the files (workers may be elsewhere): symlinks are resolved as far as the path exists
// here, the rest is taken as written. Workers check again, on their own disks.
import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { namedPaths, type JobSpec } from "../jobs/spec.js";
import { isUnderRoots, SHIPPED_ROOTS } from "../jobs/trust.js";

function resolvedAsFarAsExists(path: string): string {
  let head = resolve(path);
  const tail: string[] = [];
  while (!existsSync(head) && dirname(head) !== head) {
    tail.unshift(basename(head));
    head = dirname(head);
  }
  return join(realpathSync(head), ...tail);
}

export function allowedRoots(roots: string[]): string[] {
  return [...roots, ...SHIPPED_ROOTS].filter((root) => existsSync(root)).map((root) => realpathSync(root));
}

/** The paths of a spec outside `roots`, each as "field: reason" (empty when all are allowed). */
export function pathsOutsideRoots(spec: JobSpec, roots: string[]): { field: string; reason: string }[] {
  const refused: { field: string; reason: string }[] = [];
  for (const { field, path } of namedPaths(spec)) {
    if (!isAbsolute(path)) {
      refused.push({ field, reason: `must be an absolute path (got ${JSON.stringify(path)})` });
      continue;
    }
    const real = resolvedAsFarAsExists(path);
    if (!isUnderRoots(real, roots)) {
      refused.push({ field, reason: `${path}${real === resolve(path) ? "" : ` (really ${real})`} is outside the folders this server allows (${roots.join(", ")})` });
    }
  }
  return refused;
}
