#!/usr/bin/env node
// Locates a libtorch for building (and for choosing a prebuilt binary at load time).
// Order, as documented in docs/install.md: LIBTORCH, then Torch_DIR / CMAKE_PREFIX_PATH, then the Python torch of
// `python3`, then the package's own cache (filled by scripts/install.mjs when nothing else exists).
// Usage: node scripts/find-libtorch.mjs [--json | --include | --lib | --cmake-dir | --cxx-flags | --root]
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const cacheRoot = process.env.GREATER_LIBTORCH_CACHE ?? join(packageRoot, ".libtorch");

export const HOW_TO_PROVIDE = [
  "No libtorch found. Provide one in any of these three ways:",
  "  1. LIBTORCH=/path/to/libtorch (an unpacked libtorch folder with include/, lib/, share/cmake/Torch)",
  "  2. Torch_DIR=/path/to/libtorch/share/cmake/Torch (or CMAKE_PREFIX_PATH containing a libtorch)",
  "  3. a Python torch: `python3 -m pip install torch` so that `python3 -c 'import torch'` works",
  "     (CPU only: `python3 -m pip install torch --index-url <your CPU wheel index>`)",
].join("\n");

/** Turns a folder that holds (or is) a libtorch into a description, or null. */
export function describeLibtorch(root, source) {
  if (!root) return null;
  root = resolve(root);
  const cmakeDir = join(root, "share", "cmake", "Torch");
  const libDir = join(root, "lib");
  if (!existsSync(join(cmakeDir, "TorchConfig.cmake")) || !existsSync(libDir)) return null;
  return {
    source,
    root,
    cmakeDir,
    includeDirs: [join(root, "include"), join(root, "include", "torch", "csrc", "api", "include")],
    libDir,
    version: readVersion(root),
    cuda: readdirSync(libDir).some((f) => f.startsWith("libtorch_cuda.") || f.startsWith("libc10_cuda.")),
    cudaVersion: readCudaVersion(root),
    cxx11Abi: readCxx11Abi(root),
    cxxStandard: readCxxStandard(root),
  };
}

function readVersion(root) {
  // A libtorch zip has build-version; a Python torch has version.py beside lib/.
  const buildVersion = join(root, "build-version");
  if (existsSync(buildVersion)) return readFileSync(buildVersion, "utf8").trim();
  const versionPy = join(root, "version.py");
  if (existsSync(versionPy)) {
    const m = /__version__\s*=\s*['"]([^'"]+)['"]/.exec(readFileSync(versionPy, "utf8"));
    if (m) return m[1];
  }
  const header = join(root, "include", "torch", "csrc", "api", "include", "torch", "version.h");
  if (existsSync(header)) {
    const m = /TORCH_VERSION\s+"([^"]+)"/.exec(readFileSync(header, "utf8"));
    if (m) return m[1];
  }
  return "unknown";
}

function readCudaVersion(root) {
  // A Python torch says `cuda = '13.0'` in version.py (None for CPU builds); a libtorch zip's build-version
  // carries it as a local tag ("2.14.1+cu130").
  const versionPy = join(root, "version.py");
  if (existsSync(versionPy)) {
    const m = /^cuda\b[^=]*=\s*['"]([\d.]+)['"]/m.exec(readFileSync(versionPy, "utf8"));
    return m ? m[1] : null;
  }
  const tag = /\+cu(\d+)(\d)$/.exec(readVersion(root));
  return tag ? `${tag[1]}.${tag[2]}` : null;
}

function readCxxStandard(root) {
  // Our sources are C++17; libtorch 2.14+ headers demand C++20 (they #error otherwise), so compile as
  // the headers require.
  const allH = join(root, "include", "torch", "csrc", "api", "include", "torch", "all.h");
  return existsSync(allH) && /C\+\+20 or later/.test(readFileSync(allH, "utf8")) ? 20 : 17;
}

function readCxx11Abi(root) {
  // The flag libtorch was compiled with decides std::string's layout at the boundary: we must match it.
  for (const f of ["share/cmake/Caffe2/Caffe2Config.cmake", "share/cmake/Torch/TorchConfig.cmake"]) {
    const p = join(root, f);
    if (!existsSync(p)) continue;
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(readFileSync(p, "utf8"));
    if (m) return Number(m[1]);
  }
  return 1; // every libtorch since 2.7 uses the new ABI
}

function fromCmakeDir(dir, source) {
  // Torch_DIR points at <root>/share/cmake/Torch; CMAKE_PREFIX_PATH entries at <root> or <root>/share/cmake.
  const candidates = [dir, resolve(dir, "..", "..", ".."), resolve(dir, "..", "..")];
  for (const c of candidates) {
    const d = describeLibtorch(c, source);
    if (d) return d;
  }
  return null;
}

function fromPython(env) {
  const python = env.PYTHON ?? "python3";
  // find_spec locates the torch package without importing it: a few hundred milliseconds instead of
  // seconds, which matters because the loader runs this discovery on every start.
  const script = "import importlib.util as u; s = u.find_spec('torch'); print(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')";
  try {
    const out = execFileSync(python, ["-c", script], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 60_000,
    });
    return describeLibtorch(out.trim(), `python (${python})`);
  } catch {
    return null;
  }
}

function fromCache(env) {
  const cache = env.GREATER_LIBTORCH_CACHE ?? join(packageRoot, ".libtorch");
  if (!existsSync(cache)) return null;
  for (const entry of readdirSync(cache).sort().reverse()) {
    const d = describeLibtorch(join(cache, entry, "torch"), `package cache (${join(cache, entry)})`);
    if (d) return d;
  }
  return null;
}

/** Finds a libtorch in the documented order; returns null when there is none. */
export function findLibtorch(env = process.env) {
  if (env.LIBTORCH) {
    const d = describeLibtorch(env.LIBTORCH, "LIBTORCH");
    if (!d) throw new Error(`LIBTORCH=${env.LIBTORCH} is not a libtorch folder (no share/cmake/Torch/TorchConfig.cmake)`);
    return d;
  }
  if (env.Torch_DIR) {
    const d = fromCmakeDir(env.Torch_DIR, "Torch_DIR");
    if (d) return d;
  }
  for (const p of (env.CMAKE_PREFIX_PATH ?? "").split(":").filter(Boolean)) {
    const d = fromCmakeDir(join(p, "Torch"), "CMAKE_PREFIX_PATH") ?? fromCmakeDir(p, "CMAKE_PREFIX_PATH");
    if (d) return d;
  }
  return fromPython(env) ?? fromCache(env);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const found = findLibtorch();
  if (!found) {
    console.error(HOW_TO_PROVIDE);
    process.exit(1);
  }
  const flag = process.argv[2] ?? "--json";
  const out = {
    "--json": JSON.stringify(found, null, 2),
    "--include": found.includeDirs.join(" "),
    "--lib": found.libDir,
    "--cmake-dir": found.cmakeDir,
    "--root": found.root,
    "--cxx-flags": `-D_GLIBCXX_USE_CXX11_ABI=${found.cxx11Abi}`,
    "--version": found.version,
    "--cxx-std": `-std=c++${found.cxxStandard}`,
  }[flag];
  if (out === undefined) {
    console.error(`unknown flag ${flag}`);
    process.exit(2);
  }
  console.log(out);
}
