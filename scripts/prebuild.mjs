#!/usr/bin/env node
// Prebuilt binaries (docs/install.md, "Prebuilt binaries").
//
// `node scripts/prebuild.mjs [--out DIR]` (npm run prebuild): builds the addon with prebuildify (which
// drives node-gyp over binding.gyp) and places it in DIR/prebuilds/<platform>-<arch>/ (DIR defaults to the
// package root), where the loader also looks. The build runs in a scratch copy so node-gyp's build/ does
// not replace the cmake-js one. Beside the binary we record the libtorch it needs (libtorch.json).
//
// `node scripts/prebuild.mjs --variant cpu|cuda [--pack DIR]` (npm run prebuilt:cpu / prebuilt:cuda): builds
// the release binary of that variant and stages it into its platform package, packages/<dir>/
// (scripts/stage-prebuilt.mjs); --pack also writes the package's `npm pack` tarball into DIR.
//   cpu:  prebuildify as above, against libtorch 2.13.0 (CPU) — the python3 torch here, or LIBTORCH;
//   cuda: `npm run build:cuda` (pip fetches torch 2.14.1+cu130 unless LIBTORCH names it; needs nvcc 13).
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describeFound, describeNeed, makeBinaryRecord, recordMismatch } from "./binary-choice.mjs";
import { ensureLibtorch } from "./ensure-libtorch.mjs";
import { variantsForThisPlatform } from "./prebuilt-variants.mjs";
import { INTEGRITY_FILE, recordIntegrity } from "./fetch-prebuilt.mjs";
import { packPackage, stagePrebuilt } from "./stage-prebuilt.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);

try {
  const variantName = flag("--variant");
  if (!variantName) {
    prebuildify(flag("--out") ? resolve(flag("--out")) : root);
  } else {
    const variant = variantsForThisPlatform().find((v) => v.variant === variantName);
    if (!variant) throw new Error(`no ${variantName} variant is published for ${process.platform}-${process.arch}`);
    const scratch = mkdtempSync(join(tmpdir(), `greater-prebuilt-${variant.variant}-`));
    try {
      const binary = variant.variant === "cpu" ? buildCpuVariant(variant, scratch) : buildCudaVariant();
      const staged = stagePrebuilt({ variantDir: variant.dir, from: binary });
      if (flag("--pack")) {
        const tarball = packPackage(dirname(staged), resolve(flag("--pack")));
        console.log(tarball);
        // A variant fetched at install is taken only with the hash recorded here, which the main package
        // (packed after this) ships: the release's word on which tarball is its own.
        if (variant.delivery === "install-time") {
          const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
          const record = recordIntegrity(root, variant.package, version, tarball);
          console.error(`greater: recorded ${variant.package}@${version} ${record.integrity} in ${INTEGRITY_FILE}`);
        }
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
} catch (e) {
  console.error(`greater: ${e.message}`);
  process.exit(1);
}

function buildCpuVariant(variant, out) {
  const libtorch = ensureLibtorch();
  const mismatch = recordMismatch(variant, libtorch);
  if (mismatch) {
    throw new Error(`the ${variant.dir} binary must be built against ${describeNeed(variant)}; found ${describeFound(libtorch)} (${mismatch}).\n` +
      `Get that libtorch (\`${variant.pipInstall}\` or LIBTORCH=/path/to/it) and run this again.`);
  }
  const folder = prebuildify(out);
  const built = readdirSync(folder).filter((f) => f.endsWith(".node"));
  if (built.length !== 1) throw new Error(`expected one .node file in ${folder}, found: ${built.join(", ") || "none"}`);
  return join(folder, built[0]);
}

function buildCudaVariant() {
  execFileSync(process.execPath, [join(root, "scripts", "build-cuda.mjs")], { stdio: "inherit" });
  return join(root, "build-cuda", "Release", "greater.node");
}

/** prebuildify over binding.gyp into out/prebuilds/<platform>-<arch>/; returns that folder. */
function prebuildify(out) {
  const libtorch = ensureLibtorch();
  const nodedir = findNodeHeaders();
  const scratch = mkdtempSync(join(tmpdir(), "greater-prebuild-"));
  try {
    for (const p of ["binding.gyp", "package.json", "native", "scripts"]) cpSync(join(root, p), join(scratch, p), { recursive: true });
    symlinkSync(join(root, "node_modules"), join(scratch, "node_modules"));
    const require = createRequire(import.meta.url);
    const prebuildifyBin = require.resolve("prebuildify/bin.js");
    const nodeGyp = require.resolve("node-gyp/bin/node-gyp.js");
    const started = Date.now();
    execFileSync(process.execPath, [prebuildifyBin, "--napi", "--strip", "--cwd", scratch, "--out", out], {
      stdio: "inherit",
      env: {
        ...process.env,
        PREBUILD_NODE_GYP: nodeGyp,
        LIBTORCH: libtorch.root,
        JOBS: "2",
        ...(nodedir ? { npm_config_nodedir: nodedir } : {}),
      },
    });
    const folder = join(out, "prebuilds", `${process.platform}-${process.arch}`);
    // binding.gyp builds the CPU variant only.
    writeFileSync(join(folder, "libtorch.json"), JSON.stringify(makeBinaryRecord(libtorch, "cpu"), null, 2) + "\n");
    console.error(`greater: prebuilt ${folder} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return folder;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// node-gyp downloads Node's headers unless told where they are (npm's `nodedir` setting).
function findNodeHeaders() {
  let fromNpm = process.env.npm_config_nodedir ?? "";
  if (!fromNpm) {
    try { fromNpm = execFileSync("npm", ["config", "get", "nodedir"], { encoding: "utf8" }).trim(); } catch { /* no npm */ }
  }
  if (fromNpm && fromNpm !== "undefined" && existsSync(join(fromNpm, "include", "node", "node_api.h"))) return fromNpm;
  if (existsSync("/usr/include/node/node_api.h")) return "/usr";
  if (existsSync(join(homedir(), ".cache", "node-gyp", process.versions.node, "include", "node", "node_api.h"))) return undefined;
  throw new Error("node-gyp needs Node's headers and none are here: set npm's nodedir or install node's development headers");
}
