#!/usr/bin/env node
// npm's install hook: make sure a working addon exists, building from source when needed.
// A present, loadable local build is kept (npm install runs this again on every install).
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const binary = join(root, "build", "Release", "greater.node");
if (existsSync(binary) && process.env.GREATER_FORCE_BUILD !== "1") {
  try {
    execFileSync(process.execPath, ["-e", `require(${JSON.stringify(binary)}).engineInfo()`], { stdio: "ignore" });
    console.error(`greater: using the existing build at ${binary}`);
    process.exit(0);
  } catch {
    console.error("greater: the existing build does not load; rebuilding");
  }
}
execFileSync(process.execPath, [join(root, "scripts", "build-native.mjs")], { stdio: "inherit" });
