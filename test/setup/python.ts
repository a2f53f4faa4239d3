// vitest's global setup: the Python interpreter the tests use, in a virtual environment made from
// test/setup/python-requirements.txt with pip and the machine's configured indexes. The tests assume nothing
// about the machine's own python3 (it may have no torch at all) and never install into it.
// The environment is cached under ~/.cache/greater (GREATER_CACHE_DIR) by the hash of the requirements and the
// base interpreter's version, built in a temporary folder and renamed into place, so an interrupted or concurrent
// run never leaves a half-made one behind.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** The test environment's python, with torch (CPU), transformers, safetensors and tokenizers. */
    testPython: string;
  }
}

const requirements = resolve(import.meta.dirname, "python-requirements.txt");

export function ensureTestPython(log: (line: string) => void = (line) => console.error(line)): string {
  const basePython = process.env.GREATER_TEST_BASE_PYTHON ?? "python3";
  const baseVersion = execFileSync(basePython, ["-c", "import sys; print(sys.version)"], { encoding: "utf8" }).trim();
  const key = createHash("sha256").update(readFileSync(requirements)).update(baseVersion).digest("hex").slice(0, 16);
  const cache = process.env.GREATER_CACHE_DIR ?? join(homedir(), ".cache", "greater");
  const dir = join(cache, `test-python-${key}`);
  const python = join(dir, "bin", "python");
  if (existsSync(join(dir, "ready"))) return python;

  mkdirSync(cache, { recursive: true });
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  log(`greater tests: making the Python test environment (${basePython}, ${baseVersion.split(" ")[0]}) in ${dir}`);
  try {
    execFileSync(basePython, ["-m", "venv", building], { stdio: ["ignore", "inherit", "inherit"] });
    execFileSync(join(building, "bin", "python"), ["-m", "pip", "install", "--retries", "0", "--timeout", "5", "--disable-pip-version-check",
      "--quiet", "-r", requirements], { stdio: ["ignore", "inherit", "inherit"], timeout: 900_000 });
    execFileSync(join(building, "bin", "python"), ["-c", "import torch, transformers, safetensors, tokenizers"], { stdio: "inherit" });
    writeFileSync(join(building, "ready"), `${new Date().toISOString()}\n`);
  } catch (e) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`could not make the tests' Python environment from ${requirements} with ${basePython} -m pip ` +
      `(the tests need pip to reach an index that has these packages): ${(e as Error).message}`);
  }
  if (existsSync(join(dir, "ready"))) rmSync(building, { recursive: true, force: true }); // another run won the race
  else {
    rmSync(dir, { recursive: true, force: true });
    renameSync(building, dir);
  }
  return python;
}

export default function setup(project: TestProject): void {
  project.provide("testPython", ensureTestPython());
}
