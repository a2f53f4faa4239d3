#!/usr/bin/env node
// `npm run prebuild`: builds the addon with prebuildify (which drives node-gyp over binding.gyp) and
// places it in prebuilds/<platform>-<arch>/, where node-gyp-build looks first. The build runs in a
// scratch copy so node-gyp's build/ does not replace the cmake-js one. Beside the binary we record the
// libtorch it needs (libtorch.json), which the loader uses to explain a mismatch.
// Usage: node scripts/prebuild.mjs [--out DIR]   (DIR defaults to the package root)
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureLibtorch } from "./ensure-libtorch.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const out = args.includes("--out") ? resolve(args[args.indexOf("--out") + 1]) : root;
const libtorch = ensureLibtorch();
const nodedir = findNodeHeaders();
const scratch = mkdtempSync(join(tmpdir(), "greater-prebuild-"));
try {
  for (const p of ["binding.gyp", "package.json", "native", "scripts"]) cpSync(join(root, p), join(scratch, p), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(scratch, "node_modules"));
  const require = createRequire(import.meta.url);
  const prebuildify = require.resolve("prebuildify/bin.js");
  const nodeGyp = require.resolve("node-gyp/bin/node-gyp.js");
  const started = Date.now();
  execFileSync(process.execPath, [prebuildify, "--napi", "--strip", "--cwd", scratch, "--out", out], {
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
  writeFileSync(join(folder, "libtorch.json"), JSON.stringify(makeBinaryRecord(libtorch, "cpu"), null, 2) + "\n");
  console.error(`greater: prebuilt ${folder} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
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
  throw new Error("greater: node-gyp needs Node's headers and none are here: set npm's nodedir or install node's development headers");
}
