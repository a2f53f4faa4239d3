#!/usr/bin/env node
// Prints the addon's C++ sources (relative to the package root) for binding.gyp, which has no glob:
// the same list CMakeLists.txt globs, so that both builds compile the same files.
import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sources = ["native/engine", "native/addon"].flatMap((dir) =>
  readdirSync(join(root, dir)).filter((f) => f.endsWith(".cpp")).sort().map((f) => `${dir}/${f}`));
console.log(sources.join(" "));
