// `npm ci` installs from the committed lock file, and no install asks a registry for a name this project has not
// published: its platform packages are npm workspaces (packages/*), linked from the lock file, never resolved.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PREBUILT_VARIANTS } from "../../scripts/prebuilt-variants.mjs";
import { root } from "./helpers.js";

const work = mkdtempSync(join(tmpdir(), "greater-lockfile-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
const ownNames = new Set([manifest.name, ...PREBUILT_VARIANTS.map((v) => v.package)]);

/** A copy of the manifests only (package.json, the lock file, the workspaces' package.json). */
function manifestsOnly(dir: string, editLock?: (lock: { packages: Record<string, unknown> }) => void): string {
  mkdirSync(dir, { recursive: true });
  cpSync(join(root, "package.json"), join(dir, "package.json"));
  const lockCopy = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
  editLock?.(lockCopy);
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify(lockCopy, null, 2));
  for (const workspace of readdirSync(join(root, "packages"), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)) {
    mkdirSync(join(dir, "packages", workspace), { recursive: true });
    cpSync(join(root, "packages", workspace, "package.json"), join(dir, "packages", workspace, "package.json"));
  }
  return dir;
}

/** `npm ci --dry-run` checks that package.json and the lock file agree, without installing anything. */
function npmCiDryRun(dir: string) {
  return spawnSync("npm", ["ci", "--dry-run", "--ignore-scripts", "--offline", "--no-audit", "--no-fund"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
}

describe("the lock file", () => {
  it("is in sync with package.json, so `npm ci` accepts it", () => {
    const result = npmCiDryRun(manifestsOnly(join(work, "in-sync")));
    expect(result.stderr).not.toMatch(/npm error/);
    expect(result.status).toBe(0);
  });

  it("the check fails when they drift (the CPU platform package missing from the lock, as before workspaces)", () => {
    const cpu = PREBUILT_VARIANTS.find((v) => v.delivery === "optional-dependency")!;
    const result = npmCiDryRun(manifestsOnly(join(work, "drifted"), (lockCopy) => {
      delete lockCopy.packages[`node_modules/${cpu.package}`];
      delete lockCopy.packages[`packages/${cpu.dir}`];
    }));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/in sync/);
    expect(result.stderr).toContain(`Missing: ${cpu.package}@${manifest.version} from lock file`);
  });

  it("links the project's own packages from the workspace instead of resolving them from a registry", () => {
    expect(manifest.workspaces).toEqual(["packages/*"]);
    for (const variant of PREBUILT_VARIANTS) {
      expect(lock.packages[`node_modules/${variant.package}`], variant.package).toEqual({ resolved: `packages/${variant.dir}`, link: true });
    }
  });

  it("resolves every other package from the npm registry with an integrity hash, and none of the project's names", () => {
    const fromRegistry = Object.entries(lock.packages as Record<string, { resolved?: string; integrity?: string; link?: boolean }>)
      .filter(([path, entry]) => path.startsWith("node_modules/") && !entry.link);
    expect(fromRegistry.length).toBeGreaterThan(100);
    for (const [path, entry] of fromRegistry) {
      const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
      expect(ownNames.has(name), `${path} is one of the project's own names`).toBe(false);
      // npm here records no download address (it resolves through the configured registry); any that is
      // recorded must be the npm registry.
      if (entry.resolved !== undefined) expect(entry.resolved, path).toMatch(/^https:\/\/registry\.npmjs\.org\//);
      expect(entry.integrity, path).toMatch(/^sha512-/);
    }
  });
});
