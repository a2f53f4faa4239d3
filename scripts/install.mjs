#!/usr/bin/env node
// npm's install hook: make sure a binary that fits this machine's libtorch is there, compiling only when
// no prebuilt one fits (docs/install.md, "Prebuilt binaries").
// 1. Find a libtorch (or obtain the CPU one with pip: scripts/ensure-libtorch.mjs).
// 2. Probe the binaries already here (local build, platform packages, prebuilds/) afresh: keep the first that fits.
// 3. Else fetch the install-time variant made for this libtorch, if there is one (scripts/fetch-prebuilt.mjs).
// 4. Else build from source with cmake-js, unless GREATER_NO_BUILD=1, which refuses and prints the checklist.
// GREATER_FORCE_BUILD=1 skips 2 and 3 and always builds from source.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chooseBinary, describeFound, libtorchLoadFailure, noFitMessage, recordMismatch } from "./binary-choice.mjs";
import { ensureLibtorch } from "./ensure-libtorch.mjs";
import { fetchPrebuilt } from "./fetch-prebuilt.mjs";
import { variantsForThisPlatform } from "./prebuilt-variants.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const env = process.env;

try {
  const libtorch = ensureLibtorch();
  if (env.GREATER_FORCE_BUILD !== "1") {
    if (useFittingBinary()) process.exit(0);
    const fetchable = variantsForThisPlatform().find((v) => v.delivery === "install-time" && !recordMismatch(v, libtorch));
    if (fetchable && env.GREATER_NO_PREBUILT_DOWNLOAD !== "1") {
      try {
        fetchPrebuilt(fetchable, { packageRoot: root, version: readVersion() });
        if (useFittingBinary()) process.exit(0);
      } catch (e) {
        console.error(`greater: could not fetch ${fetchable.package}: ${e.message.split("\n")[0]}`);
      }
    }
    const choice = chooseBinary({ packageRoot: root });
    if (env.GREATER_NO_BUILD === "1") {
      console.error(noFitMessage(choice));
      console.error("greater: GREATER_NO_BUILD=1, so no source build was attempted");
      process.exit(1);
    }
    if (libtorchLoadFailure(choice)) {
      // The binary fits, but libtorch's own libraries do not load in this environment (LD_LIBRARY_PATH may
      // differ when the program runs): a source build would link the same libtorch, so warn and go on.
      console.error(noFitMessage(choice));
      console.error("greater: the libtorch itself does not load here, so a source build would not help; the loader will probe again at run time");
      process.exit(0);
    }
    console.error(`greater: no prebuilt binary fits ${describeFound(libtorch)}; building from source`);
  }
  execFileSync(process.execPath, [join(root, "scripts", "build-native.mjs")], { stdio: "inherit" });
  if (!useFittingBinary()) {
    console.error(noFitMessage(chooseBinary({ packageRoot: root })));
    process.exit(1);
  }
} catch (e) {
  console.error(e.message);
  process.exit(1);
}

// Probes afresh (an install is when things change) and reports the choice; the verdict is cached for loads.
function useFittingBinary() {
  const { chosen } = chooseBinary({ packageRoot: root, useProbeCache: false });
  if (!chosen) return false;
  const runsWith = chosen.libtorch ? describeFound(chosen.libtorch) : "the libtorch of its own runpath";
  console.error(`greater: using ${chosen.path} (${chosen.origin}) with ${runsWith}`);
  return true;
}

function readVersion() {
  return JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
}
