#!/usr/bin/env node
// Proves that `npx node-gyp rebuild` builds a working addon from binding.gyp. It runs in a scratch
// copy of the sources so that node-gyp's own build/ does not replace the cmake-js build.
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const nodedir = findNodeHeaders();
if (!nodedir) {
  console.log("SKIPPED node-gyp check: no Node headers here (no npm nodedir, no /usr/include/node, no node-gyp cache) and no network to fetch them");
  process.exit(0);
}
const scratch = mkdtempSync(join(tmpdir(), "greater-gyp-"));
try {
  for (const p of ["binding.gyp", "package.json", "native", "scripts"]) cpSync(join(root, p), join(scratch, p), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(scratch, "node_modules"));
  const nodeGyp = createRequire(import.meta.url).resolve("node-gyp/bin/node-gyp.js");
  const started = Date.now();
  execFileSync(process.execPath, [nodeGyp, "rebuild", "--jobs", "2", ...(nodedir === "cache" ? [] : [`--nodedir=${nodedir}`])], { cwd: scratch, stdio: "inherit" });
  const info = JSON.parse(execFileSync(process.execPath, ["-p",
    `JSON.stringify(require(${JSON.stringify(join(scratch, "build", "Release", "greater.node"))}).engineInfo())`], { encoding: "utf8" }));
  console.log(`node-gyp build OK in ${((Date.now() - started) / 1000).toFixed(0)} s: libtorch ${info.libtorchVersion}, devices ${info.devices.join(",")}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

// node-gyp downloads headers unless told where they are; npm passes its `nodedir` setting, a bare
// node-gyp does not, so look in the same places.
function findNodeHeaders() {
  const fromNpm = process.env.npm_config_nodedir ?? (() => {
    try { return execFileSync("npm", ["config", "get", "nodedir"], { encoding: "utf8" }).trim(); } catch { return ""; }
  })();
  if (fromNpm && fromNpm !== "undefined" && existsSync(join(fromNpm, "include", "node", "node_api.h"))) return fromNpm;
  if (existsSync("/usr/include/node/node_api.h")) return "/usr";
  if (existsSync(join(homedir(), ".cache", "node-gyp", process.versions.node, "include", "node", "node_api.h"))) return "cache";
  return null;
}
