#!/usr/bin/env node
// Puts a built addon into its platform package (packages/<dir>/), ready for `npm pack`:
// - checks that the binary's libtorch.json names the libtorch this variant is published for;
// - copies it as greater.node, strips its symbols (when `strip` exists) and replaces its runpath, which
//   points at the build machine's libtorch, with $ORIGIN: a shipped binary must reach libtorch only
//   through the loader's preload of the user's libtorch (scripts/libtorch-preload.mjs);
// - writes libtorch.json without the build machine's paths.
// Usage: node scripts/stage-prebuilt.mjs --variant linux-x64-cpu-torch2.13 --from build/Release/greater.node
//          [--into DIR (default packages/<variant>)] [--pack DIR (also `npm pack` the package into DIR)]
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { baseVersion, describeNeed, readBinaryRecord } from "./binary-choice.mjs";
import { readDynamicSection, replaceRunpath } from "./elf.mjs";
import { PREBUILT_VARIANTS } from "./prebuilt-variants.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Why `record` cannot be published as `variant`, or null. */
export function variantMismatch(record, variant) {
  if (!record) return "the binary has no libtorch.json beside it";
  if (record.platform && (record.platform !== variant.platform || record.arch !== variant.arch)) {
    return `it was built for ${record.platform}-${record.arch}, the variant is ${variant.platform}-${variant.arch}`;
  }
  if (baseVersion(record.libtorchVersion) !== variant.libtorchVersion) return `it was built against libtorch ${record.libtorchVersion}`;
  if (record.variant !== variant.variant) return `it is the ${record.variant} variant`;
  if (variant.cudaVersion && String(record.cudaVersion).split(".")[0] !== variant.cudaVersion.split(".")[0]) {
    return `it was built for CUDA ${record.cudaVersion}`;
  }
  return null;
}

/** Stages `from` into the package folder `into` (see the top of this file). Returns the staged binary's path. */
export function stagePrebuilt({ variantDir, from, into = join(root, "packages", variantDir), log = console.error }) {
  const variant = PREBUILT_VARIANTS.find((v) => v.dir === variantDir);
  if (!variant) throw new Error(`unknown variant "${variantDir}"; known: ${PREBUILT_VARIANTS.map((v) => v.dir).join(", ")}`);
  if (!existsSync(from)) throw new Error(`${from} does not exist: build it first (docs/install.md, "Prebuilt binaries")`);
  const record = readBinaryRecord(from);
  const elf = readDynamicSection(from);
  if (variant.platform === "linux" && elf?.arch !== variant.arch) {
    throw new Error(`${from} is ${elf ? `an ELF binary for ${elf.arch}` : "not an ELF binary"}; ${variant.package} is for linux-${variant.arch}`);
  }
  const mismatch = variantMismatch(record, variant);
  if (mismatch) throw new Error(`${from} cannot be published as ${variant.package}, which needs ${describeNeed(variant)}: ${mismatch}`);
  const manifest = JSON.parse(readFileSync(join(into, "package.json"), "utf8"));
  const mainVersion = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  if (manifest.name !== variant.package || manifest.version !== mainVersion) {
    throw new Error(`${join(into, "package.json")} is ${manifest.name}@${manifest.version}; expected ${variant.package}@${mainVersion}`);
  }

  mkdirSync(into, { recursive: true });
  const binary = join(into, "greater.node");
  copyFileSync(from, binary);
  try {
    execFileSync("strip", ["--strip-unneeded", binary], { stdio: "ignore" });
  } catch {
    log("greater: `strip` is not available; the staged binary keeps its symbols");
  }
  const previous = replaceRunpath(binary, "$ORIGIN");
  if (previous) log(`greater: runpath ${previous} replaced by $ORIGIN`);
  // What the binary needs, without where the build machine kept it; the platform is the variant's (the
  // checks above established it), so records written before platform was recorded ship complete too.
  const { libtorchRoot, source, ...needs } = record;
  const portable = { ...needs, platform: variant.platform, arch: variant.arch };
  writeFileSync(join(into, "libtorch.json"), JSON.stringify(portable, null, 2) + "\n");
  const needed = readDynamicSection(binary)?.needed ?? [];
  log(`greater: staged ${variant.package} (${describeNeed(portable)}) in ${into}; it needs ${needed.join(", ")}`);
  return binary;
}

/** `npm pack` of a package folder into `destination`; returns the tarball's path. */
export function packPackage(folder, destination) {
  mkdirSync(destination, { recursive: true });
  const out = execFileSync("npm", ["pack", folder, "--pack-destination", destination, "--json", "--silent"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return join(destination, JSON.parse(out)[0].filename);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const variantDir = flag("--variant");
  const from = flag("--from");
  if (!variantDir || !from) {
    console.error("usage: node scripts/stage-prebuilt.mjs --variant DIR --from BINARY [--into DIR] [--pack DIR]");
    process.exit(2);
  }
  try {
    const into = flag("--into") ? resolve(flag("--into")) : undefined;
    const binary = stagePrebuilt({ variantDir, from: resolve(from), into });
    if (flag("--pack")) console.log(packPackage(dirname(binary), resolve(flag("--pack"))));
  } catch (e) {
    console.error(`greater: ${e.message}`);
    process.exit(1);
  }
}
