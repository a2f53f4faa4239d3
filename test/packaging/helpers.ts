// Fixtures for the loader tests: fake libtorch folders and tiny shared objects that misbehave on load.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const root = resolve(__dirname, "..", "..");
export const realBinary = join(root, "build", "Release", "greater.node");

/** True when a C compiler is on the PATH (CI installs one to build the addon). */
export function haveCompiler(): boolean {
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * A folder that find-libtorch.mjs takes for a libtorch of `version` (with CUDA `cuda`, or the CPU build when
 * null): the marker files only, no real libraries.
 */
export function makeFakeLibtorch(dir: string, version: string, cuda: string | null): string {
  mkdirSync(join(dir, "share", "cmake", "Torch"), { recursive: true });
  writeFileSync(join(dir, "share", "cmake", "Torch", "TorchConfig.cmake"), "# marker for find-libtorch.mjs\n");
  mkdirSync(join(dir, "lib"), { recursive: true });
  if (cuda) writeFileSync(join(dir, "lib", "libtorch_cuda.so"), "");
  writeFileSync(join(dir, "version.py"), `__version__ = '${version}'\ncuda: Optional[str] = ${cuda ? `'${cuda}'` : "None"}\n`);
  return dir;
}

/** A shared object whose static initialiser aborts the process that loads it. */
export function makeCrashingBinary(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "crash.c"), "#include <stdlib.h>\n__attribute__((constructor)) static void crash_on_load(void) { abort(); }\n");
  execFileSync("cc", ["-shared", "-fPIC", "-o", join(dir, "greater.node"), join(dir, "crash.c")]);
  return join(dir, "greater.node");
}

/**
 * A shared object that needs `missing` (a soname, e.g. "libcusparse.so.12") which is nowhere on this
 * machine: what a CUDA binary looks like where the CUDA libraries are not installed.
 */
export function makeBinaryNeedingMissingLibrary(dir: string, missing: string): string {
  mkdirSync(dir, { recursive: true });
  const stubDir = join(dir, "stub");
  mkdirSync(stubDir);
  writeFileSync(join(stubDir, "stub.c"), "int missing_library_stub(void) { return 0; }\n");
  execFileSync("cc", ["-shared", "-fPIC", `-Wl,-soname,${missing}`, "-o", join(stubDir, missing), join(stubDir, "stub.c")]);
  writeFileSync(join(dir, "addon.c"), "extern int missing_library_stub(void);\nint call_it(void) { return missing_library_stub(); }\n");
  execFileSync("cc", ["-shared", "-fPIC", "-o", join(dir, "greater.node"), join(dir, "addon.c"), `-L${stubDir}`, `-l:${missing}`]);
  rmSync(stubDir, { recursive: true }); // now nothing provides it
  return join(dir, "greater.node");
}

/** Copies the checkout's real build and its libtorch.json into `dir`. */
export function copyRealBinary(dir: string): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(realBinary, join(dir, "greater.node"));
  copyFileSync(join(root, "build", "Release", "libtorch.json"), join(dir, "libtorch.json"));
  return join(dir, "greater.node");
}

/** Writes a libtorch.json beside a binary. */
export function writeRecord(binary: string, record: Record<string, unknown>): void {
  writeFileSync(join(binary, "..", "libtorch.json"), JSON.stringify(record));
}

/** process.env without anything that steers libtorch discovery or the loader. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ["LIBTORCH", "Torch_DIR", "CMAKE_PREFIX_PATH", "GREATER_BINARY", "GREATER_REPROBE", "GREATER_NO_BUILD", "GREATER_FORCE_BUILD"]) delete env[name];
  return { ...env, ...extra };
}

/**
 * The real CUDA failure, in miniature: a fake CUDA libtorch whose lib/libtorch_cuda.so needs `missing`, and an
 * addon (in `addonDir`) that needs libtorch_cuda.so. Loading the addon fails inside libtorch, not in it.
 */
export function makeLibtorchMissingItsDependency(libtorchDir: string, addonDir: string, missing: string): string {
  makeFakeLibtorch(libtorchDir, "2.14.1+cu130", "13.0");
  const lib = join(libtorchDir, "lib");
  const stubDir = join(libtorchDir, "stub");
  mkdirSync(stubDir);
  writeFileSync(join(stubDir, "stub.c"), "int missing_library_stub(void) { return 0; }\n");
  execFileSync("cc", ["-shared", "-fPIC", `-Wl,-soname,${missing}`, "-o", join(stubDir, missing), join(stubDir, "stub.c")]);
  writeFileSync(join(stubDir, "torch_cuda.c"), "extern int missing_library_stub(void);\nint torch_cuda_entry(void) { return missing_library_stub(); }\n");
  execFileSync("cc", ["-shared", "-fPIC", "-Wl,-soname,libtorch_cuda.so", "-o", join(lib, "libtorch_cuda.so"), join(stubDir, "torch_cuda.c"), `-L${stubDir}`, `-l:${missing}`]);
  mkdirSync(addonDir, { recursive: true });
  writeFileSync(join(addonDir, "addon.c"), "extern int torch_cuda_entry(void);\nint call_it(void) { return torch_cuda_entry(); }\n");
  execFileSync("cc", ["-shared", "-fPIC", "-o", join(addonDir, "greater.node"), join(addonDir, "addon.c"), `-L${lib}`, "-ltorch_cuda"]);
  rmSync(stubDir, { recursive: true }); // now nothing provides it
  return join(addonDir, "greater.node");
}
