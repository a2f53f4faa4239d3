// Fetches an "install-time" prebuilt variant (scripts/prebuilt-variants.mjs) into prebuilds/<dir>/.
// It is a platform package like the others, downloaded with `npm pack`, so the user's registry, proxy and
// authentication settings apply; only the install script calls this, and only when the found libtorch is
// the one that variant needs. GREATER_PREBUILT_DIR=/folder takes the tarball from a folder of `npm pack`
// outputs instead of the registry (air-gapped machines, tests).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The file name `npm pack` gives a package: "@scope/name" 1.2.3 → "scope-name-1.2.3.tgz". */
export function tarballName(packageName, version) {
  return `${packageName.replace(/^@/, "").replace("/", "-")}-${version}.tgz`;
}

/**
 * Downloads `variant` at exactly `version` (the main package's: binaries and the JS layer move together)
 * and unpacks it into <packageRoot>/prebuilds/<variant.dir>/. Returns that folder.
 */
export function fetchPrebuilt(variant, { packageRoot, version, env = process.env, log = console.error }) {
  const source = env.GREATER_PREBUILT_DIR ? join(env.GREATER_PREBUILT_DIR, tarballName(variant.package, version)) : `${variant.package}@${version}`;
  if (env.GREATER_PREBUILT_DIR && !existsSync(source)) throw new Error(`GREATER_PREBUILT_DIR has no ${tarballName(variant.package, version)}`);
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
    const filename = JSON.parse(packed)[0].filename;
    const target = join(packageRoot, "prebuilds", variant.dir);
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target, { recursive: true });
    execFileSync("tar", ["-xzf", join(scratch, filename), "-C", target, "--strip-components=1"], { stdio: "pipe" });
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
