#!/usr/bin/env node
// Child-process probe of one addon binary: preloads the chosen libtorch's libraries, loads the binary and
// asks it for engineInfo(). Run by scripts/binary-choice.mjs, so that a binary that does not fit (a missing
// CUDA library, an abort in a static initialiser, a crash) fails here and never in the host process.
// Usage: node scripts/probe-binary.mjs BINARY [LIBTORCH_LIB_DIR]
// Prints one JSON line: {"info": {...}, "exports": [...]} (exit 0) or {"error": "..."} (exit 1).
import { createRequire } from "node:module";
import { preloadLibtorch } from "./libtorch-preload.mjs";

const [binary, libDir] = process.argv.slice(2);
try {
  if (!binary) throw new Error("usage: probe-binary.mjs BINARY [LIBTORCH_LIB_DIR]");
  if (libDir) preloadLibtorch(binary, libDir);
  const addon = createRequire(import.meta.url)(binary);
  const info = addon.engineInfo();
  process.stdout.write(JSON.stringify({ info, exports: Object.keys(addon) }) + "\n");
} catch (e) {
  process.stdout.write(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }) + "\n");
  process.exitCode = 1;
}
