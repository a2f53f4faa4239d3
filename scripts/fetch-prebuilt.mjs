// Fetches an "install-time" prebuilt variant (scripts/prebuilt-variants.mjs) into prebuilds/<dir>/.
// It is a platform package like the others, downloaded with `npm pack`, so the user's registry, proxy and
// authentication settings apply; only the install script calls this, and only when the found libtorch is
// the one that variant needs. GREATER_PREBUILT_DIR=/folder takes the tarball from a folder of `npm pack`
// outputs instead of the registry (air-gapped machines, tests).
// A tarball is unpacked only when its SHA-512 equals the one this release recorded for it in
// prebuilt-integrity.json (written by `npm run prebuilt:cuda -- --pack DIR`, shipped in the main package): a name and
// a version alone vouch for nothing, since whoever controls the name on the registry controls what it serves.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The file name `npm pack` gives a package: "@scope/name" 1.2.3 → "scope-name-1.2.3.tgz". */
export function tarballName(packageName, version) {
  return `${packageName.replace(/^@/, "").replace("/", "-")}-${version}.tgz`;
}

/** The record of fetched variants' hashes, in the main package's root. */
export const INTEGRITY_FILE = "prebuilt-integrity.json";

/** npm's integrity string of a file: "sha512-" and the base64 SHA-512 (as `npm pack --json` and lock files give it). */
export function fileIntegrity(path) {
  return `sha512-${createHash("sha512").update(readFileSync(path)).digest("base64")}`;
}

/** The integrity this release recorded for `packageName`@`version`, or null. */
export function recordedIntegrity(packageRoot, packageName, version) {
  const file = join(packageRoot, INTEGRITY_FILE);
  if (!existsSync(file)) return null;
  let records;
  try {
    records = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${e.message})`);
  }
  const record = records[packageName];
  return record && record.version === version && typeof record.integrity === "string" ? record.integrity : null;
}

/** Records `tarball`'s integrity as `packageName`@`version`'s in `packageRoot`'s prebuilt-integrity.json (release step). */
export function recordIntegrity(packageRoot, packageName, version, tarball) {
  const file = join(packageRoot, INTEGRITY_FILE);
  const records = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  records[packageName] = { version, integrity: fileIntegrity(tarball) };
  writeFileSync(file, `${JSON.stringify(records, null, 2)}\n`);
  return records[packageName];
}

/**
 * Downloads `variant` at exactly `version` (the main package's: binaries and the JS layer move together)
 * and unpacks it into <packageRoot>/prebuilds/<variant.dir>/. Returns that folder.
 */
export function fetchPrebuilt(variant, { packageRoot, version, env = process.env, log = console.error }) {
  const source = env.GREATER_PREBUILT_DIR ? join(env.GREATER_PREBUILT_DIR, tarballName(variant.package, version)) : `${variant.package}@${version}`;
  if (env.GREATER_PREBUILT_DIR && !existsSync(source)) throw new Error(`GREATER_PREBUILT_DIR has no ${tarballName(variant.package, version)}`);
  const expected = recordedIntegrity(packageRoot, variant.package, version);
  if (expected === null) {
    throw new Error(`this release records no hash for ${variant.package}@${version} (${INTEGRITY_FILE}), so it is not fetched`);
  }
  const scratch = mkdtempSync(join(tmpdir(), "greater-fetch-"));
  try {
    log(`greater: fetching the prebuilt ${variant.variant} binary ${source}`);
    // Inside npm's install lifecycle npm_execpath is npm's own CLI; elsewhere use the npm on the PATH.
    const npmCli = env.npm_execpath && /npm-cli\.js$/.test(env.npm_execpath) ? [process.execPath, env.npm_execpath] : ["npm"];
    const packed = execFileSync(npmCli[0], [...npmCli.slice(1), "pack", source, "--pack-destination", scratch, "--json", "--silent"], {
      encoding: "utf8",
      env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 300_000,
    });
    const tarball = join(scratch, JSON.parse(packed)[0].filename);
    const actual = fileIntegrity(tarball);
    if (actual !== expected) {
      throw new Error(`${source} is not the tarball this release recorded: its SHA-512 is ${actual}, the release's ${expected}`);
    }
    const target = join(packageRoot, "prebuilds", variant.dir);
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target, { recursive: true });
    execFileSync("tar", ["-xzf", tarball, "-C", target, "--strip-components=1"], { stdio: "pipe" });
    const manifest = JSON.parse(readFileSync(join(target, "package.json"), "utf8"));
    if (manifest.name !== variant.package || manifest.version !== version) {
      rmSync(target, { recursive: true, force: true });
      throw new Error(`${source} holds ${manifest.name}@${manifest.version}, not ${variant.package}@${version}`);
    }
    return target;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
