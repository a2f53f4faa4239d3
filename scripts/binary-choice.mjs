// Which addon binary to load: shared by the install script and the runtime loader (ts/engine/binding.ts).
//
// 1. Find the user's libtorch (scripts/find-libtorch.mjs: LIBTORCH, Torch_DIR, CMAKE_PREFIX_PATH, python3).
// 2. List the candidate binaries, most specific first: GREATER_BINARY alone when set; else node-gyp-build's
//    pick (prebuildify's prebuilds/<platform>-<arch>/ first, then build/Release), the local source build,
//    the installed platform packages, variants fetched at install (prebuilds/<dir>/), other prebuildify output.
// 3. Keep those whose libtorch.json names the found libtorch (or whose recorded build-time libtorch still
//    exists), and probe each in a child process (scripts/probe-binary.mjs) before anything is loaded here:
//    a binary that does not fit fails there, never in the host process. Verdicts are cached, keyed by the
//    binary (path, mtime, size) and the libtorch (lib folder and its libtorch_cpu's mtime), so a warm start
//    costs the python3 look-up of step 1 and a few stat calls.
// 4. The first binary that passes is the choice; when none does, noFitMessage() explains it as a checklist.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describeLibtorch, findLibtorch } from "./find-libtorch.mjs";
import { variantsForThisPlatform } from "./prebuilt-variants.mjs";

const scriptsDir = dirname(fileURLToPath(import.meta.url));
export const defaultPackageRoot = resolve(scriptsDir, "..");
const PROBE_TIMEOUT_MS = 120_000;
const PROBE_CACHE_ENTRIES = 64;

/** Reads the libtorch.json recorded beside a binary when it was built or packaged; undefined if none. */
export function readBinaryRecord(binaryPath) {
  const file = join(dirname(binaryPath), "libtorch.json");
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * The libtorch.json written beside a binary at build time: which libtorch it needs. libtorchRoot and source
 * say where it was found on the build machine; packaging (scripts/stage-prebuilt.mjs) drops them.
 */
export function makeBinaryRecord(libtorch, variant) {
  return {
    libtorchVersion: libtorch.version,
    variant,
    cudaVersion: variant === "cuda" ? libtorch.cudaVersion ?? null : null,
    cxx11Abi: libtorch.cxx11Abi,
    platform: process.platform,
    arch: process.arch,
    libtorchRoot: libtorch.root,
    source: libtorch.source,
  };
}

/** "2.13.0+cpu" → "2.13.0": the release, without the build's local tag. */
export function baseVersion(version) {
  return String(version).split("+")[0];
}

/** What a record asks for, in words: "libtorch 2.14.1 with CUDA 13.0" / "libtorch 2.13.0 (CPU)". */
export function describeNeed(record) {
  if (!record) return "an unknown libtorch (no libtorch.json beside the binary)";
  const cuda = record.variant === "cuda" ? ` with CUDA ${record.cudaVersion ?? "(version not recorded)"}` : " (CPU)";
  return `libtorch ${record.libtorchVersion}${cuda}`;
}

/** A found libtorch, in words. */
export function describeFound(libtorch) {
  const cuda = libtorch.cuda ? ` with CUDA ${libtorch.cudaVersion ?? "(version unknown)"}` : " (CPU)";
  return `libtorch ${libtorch.version}${cuda} at ${libtorch.root} (from ${libtorch.source})`;
}

/**
 * Why a binary built as `record` cannot use `libtorch`, or null when it can. The C++ ABI of libtorch holds
 * only within one release and one build kind, so the release must be equal, a CUDA binary needs a CUDA
 * libtorch of the same CUDA major version, and a CPU binary needs the CPU build (or the very libtorch it
 * was built against, e.g. a CPU-only build over a CUDA libtorch).
 */
export function recordMismatch(record, libtorch, platform = process.platform, arch = process.arch) {
  if (record.platform && (record.platform !== platform || record.arch !== arch)) {
    return `it is built for ${record.platform}-${record.arch}, this is ${platform}-${arch}`;
  }
  if (baseVersion(record.libtorchVersion) !== baseVersion(libtorch.version)) {
    return `the found libtorch is ${libtorch.version}, another release`;
  }
  if (record.variant === "cuda") {
    if (!libtorch.cuda) return "the found libtorch is the CPU-only build";
    const major = (v) => String(v).split(".")[0];
    if (record.cudaVersion && libtorch.cudaVersion && major(record.cudaVersion) !== major(libtorch.cudaVersion)) {
      return `the found libtorch is built for CUDA ${libtorch.cudaVersion}`;
    }
  } else if (libtorch.cuda && record.libtorchVersion !== libtorch.version) {
    return `the found libtorch is a CUDA build (${libtorch.version}), this binary is for the CPU build`;
  }
  if (record.cxx11Abi !== undefined && libtorch.cxx11Abi !== undefined && record.cxx11Abi !== libtorch.cxx11Abi) {
    return `the found libtorch uses _GLIBCXX_USE_CXX11_ABI=${libtorch.cxx11Abi}, this binary ${record.cxx11Abi}`;
  }
  return null;
}

/**
 * Every binary that could be loaded, most specific first.
 * @returns {{ path: string, origin: string, kind: "env" | "build" | "package" | "fetched" | "prebuildify", record?: object }[]}
 */
export function listCandidates(packageRoot = defaultPackageRoot, env = process.env) {
  const at = (path, origin, kind) => ({ path, origin, kind, record: readBinaryRecord(path) });
  if (env.GREATER_BINARY) return [at(resolve(env.GREATER_BINARY), "GREATER_BINARY", "env")];
  const candidates = [];
  // node-gyp-build's own choice comes first: prebuilds/<platform>-<arch>/ (prebuildify), then build/Release.
  const firstPick = nodeGypBuildPick(packageRoot);
  if (firstPick) {
    const kind = firstPick.includes(`${join(packageRoot, "prebuilds")}`) ? "prebuildify" : "build";
    candidates.push(at(firstPick, kind === "prebuildify" ? `node-gyp-build: prebuildify output (${relative(packageRoot, firstPick)})` : `node-gyp-build: local source build (${relative(packageRoot, firstPick)})`, kind));
  }
  for (const config of ["Release", "Debug"]) {
    const path = join(packageRoot, "build", config, "greater.node");
    if (existsSync(path)) candidates.push(at(path, `local source build (build/${config})`, "build"));
  }
  const requireFromPackage = createRequire(join(packageRoot, "package.json"));
  for (const variant of variantsForThisPlatform()) {
    let manifest;
    try {
      manifest = requireFromPackage.resolve(`${variant.package}/package.json`);
    } catch {
      continue; // not installed: npm skipped it (another platform) or it is fetched only when needed
    }
    const path = join(dirname(manifest), "greater.node");
    if (existsSync(path)) candidates.push(at(path, `platform package ${variant.package}`, "package"));
  }
  const nodeFilesIn = (dir) => {
    const folder = join(packageRoot, "prebuilds", dir);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) return [];
    return readdirSync(folder).filter((f) => f.endsWith(".node")).sort().map((f) => join(folder, f));
  };
  for (const variant of variantsForThisPlatform()) {
    for (const path of nodeFilesIn(variant.dir)) candidates.push(at(path, `${variant.package} (fetched at install into prebuilds/${variant.dir})`, "fetched"));
  }
  const prebuildifyDir = `${process.platform}-${process.arch}`;
  for (const path of nodeFilesIn(prebuildifyDir)) candidates.push(at(path, `prebuildify output (prebuilds/${prebuildifyDir})`, "prebuildify"));
  // Each binary once, at its first (most preferred) place.
  const seen = new Set();
  return candidates.filter((c) => (seen.has(c.path) ? false : (seen.add(c.path), true)));
}

/** What node-gyp-build would load from the package root (prebuilds first, then the local build), or null. */
function nodeGypBuildPick(packageRoot) {
  try {
    const nodeGypBuild = createRequire(import.meta.url)("node-gyp-build");
    return resolve(nodeGypBuild.resolve(packageRoot));
  } catch {
    return null; // nothing built and no prebuilds: the other candidates (platform packages) remain
  }
}

/** Where probe verdicts are cached: GREATER_CACHE_DIR, else $XDG_CACHE_HOME/greater, else ~/.cache/greater. */
export function cacheDir(env = process.env) {
  return env.GREATER_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "greater");
}

function probeKey(binaryPath, libDir, env) {
  const stamp = (path) => {
    try {
      const s = statSync(path);
      return `${s.mtimeMs}:${s.size}`;
    } catch {
      return "absent";
    }
  };
  // A libtorch upgraded in place keeps its folder but not its libtorch_cpu.so.
  const libtorchStamp = libDir ? stamp(join(libDir, "libtorch_cpu.so")) : "";
  return JSON.stringify([binaryPath, stamp(binaryPath), libDir ?? "", libtorchStamp, env.LD_LIBRARY_PATH ?? "", process.version]);
}

function readProbeCache(file) {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return {};
  }
}

function writeProbeVerdict(file, key, verdict) {
  try {
    const entries = Object.entries(readProbeCache(file)).filter(([k]) => k !== key);
    entries.push([key, { ...verdict, at: new Date().toISOString() }]);
    mkdirSync(dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(Object.fromEntries(entries.slice(-PROBE_CACHE_ENTRIES)), null, 1));
    renameSync(temporary, file); // atomic: a concurrent reader sees the old file or the new one
  } catch {
    // A read-only home only costs a probe on the next start.
  }
}

/**
 * Loads `binaryPath` in a child process with `libDir`'s libraries preloaded.
 * useCache: read a cached verdict when one exists (a fresh verdict is always written back).
 * @returns {{ ok: true, info: object, exports: string[], cached: boolean } | { ok: false, error: string, cached: boolean }}
 */
export function probeBinary(binaryPath, libDir, { useCache = true, env = process.env } = {}) {
  const file = join(cacheDir(env), "binary-probes.json");
  const key = probeKey(binaryPath, libDir, env);
  if (useCache && env.GREATER_REPROBE !== "1") {
    const hit = readProbeCache(file)[key];
    if (hit) return { ...hit, cached: true };
  }
  const child = spawnSync(process.execPath, [join(scriptsDir, "probe-binary.mjs"), binaryPath, libDir ?? ""], {
    encoding: "utf8",
    env,
    timeout: PROBE_TIMEOUT_MS,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let verdict;
  const report = parseLastJsonLine(child.stdout);
  if (child.error) verdict = { ok: false, error: `the probe could not run: ${child.error.message}` };
  else if (child.signal) verdict = { ok: false, error: `loading it crashed the probe process (${child.signal})${lastLines(child.stderr)}` };
  else if (child.status === 0 && report?.info) verdict = { ok: true, info: report.info, exports: report.exports ?? [] };
  else verdict = { ok: false, error: report?.error ?? `the probe exited with status ${child.status}${lastLines(child.stderr)}` };
  writeProbeVerdict(file, key, verdict);
  return { ...verdict, cached: false };
}

function parseLastJsonLine(text) {
  const line = (text ?? "").trim().split("\n").pop();
  try {
    return line ? JSON.parse(line) : undefined;
  } catch {
    return undefined;
  }
}

function lastLines(text) {
  const tail = (text ?? "").trim().split("\n").slice(-3).join(" | ");
  return tail ? `: ${tail}` : "";
}

/**
 * Finds the libtorch and picks the binary (see the top of this file).
 * @returns {{ libtorch: object | null, libtorchError?: string, chosen?: { path: string, origin: string, kind: string,
 *   record?: object, libtorch: object | null, info: object, exports: string[] },
 *   considered: { path: string, origin: string, kind: string, record?: object, outcome: string }[] }}
 */
export function chooseBinary({ packageRoot = defaultPackageRoot, env = process.env, useProbeCache = true } = {}) {
  let libtorch = null;
  let libtorchError;
  try {
    libtorch = findLibtorch(env);
  } catch (e) {
    libtorchError = e.message; // e.g. LIBTORCH names a folder that is not a libtorch
  }
  const considered = [];
  for (const candidate of listCandidates(packageRoot, env)) {
    const { libtorch: usable, reason } = libtorchFor(candidate, libtorch);
    if (reason) {
      considered.push({ ...candidate, outcome: reason });
      continue;
    }
    const verdict = probeBinary(candidate.path, usable?.libDir, { useCache: useProbeCache, env });
    if (!verdict.ok) {
      considered.push({ ...candidate, outcome: `failed to load in a probe process: ${verdict.error}` });
      continue;
    }
    considered.push({ ...candidate, outcome: verdict.cached ? "fits (cached probe)" : "fits (probed)" });
    return { libtorch, libtorchError, chosen: { ...candidate, libtorch: usable, info: verdict.info, exports: verdict.exports }, considered };
  }
  return { libtorch, libtorchError, considered };
}

// The libtorch a candidate would run with: the found one when its record names it. A libtorch named
// explicitly (LIBTORCH, Torch_DIR, CMAKE_PREFIX_PATH) is obeyed; when the found one is only the implicit
// python3 (or none), a binary may instead use the libtorch it was built against if that is still on disk,
// so a local build keeps working when python3 changes (another venv) or was built with LIBTORCH once.
function libtorchFor(candidate, found) {
  const { record } = candidate;
  if (!record) {
    if (candidate.kind === "env") return { libtorch: found }; // the user's explicit choice: let the probe decide
    return { reason: "no libtorch.json beside it, so the libtorch it needs is unknown" };
  }
  const mismatch = found ? recordMismatch(record, found) : "no libtorch found";
  if (!mismatch) return { libtorch: found };
  const explicit = found && /^(LIBTORCH|Torch_DIR|CMAKE_PREFIX_PATH)/.test(found.source);
  if (record.libtorchRoot && !explicit && (!found || resolve(record.libtorchRoot) !== found.root)) {
    const builtAgainst = describeLibtorch(record.libtorchRoot, "recorded at build time");
    if (builtAgainst && !recordMismatch(record, builtAgainst)) return { libtorch: builtAgainst };
  }
  return { reason: mismatch };
}

/**
 * The outcome of a candidate that fitted by its record but whose probe failed while loading libtorch's own
 * libraries (e.g. a CUDA libtorch without its CUDA libraries), or undefined. Building from source cannot help
 * then: a source build links the very same libtorch.
 */
export function libtorchLoadFailure(choice) {
  return choice.considered.find((c) => /^failed to load in a probe process: cannot load \S+: /.test(c.outcome))?.outcome;
}

/** The command that builds from source in this installation. */
export function rebuildCommand(packageRoot = defaultPackageRoot) {
  if (!/[\\/]node_modules[\\/]/.test(packageRoot)) return "npm run build:native";
  let name = "greater";
  try {
    name = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")).name ?? name;
  } catch {
    // An explanation must not fail for want of a manifest.
  }
  return `npm rebuild ${name}`;
}

/** The checklist thrown (at load) or printed (at install) when no binary fits. */
export function noFitMessage(choice, { packageRoot = defaultPackageRoot, env = process.env } = {}) {
  const { libtorch, libtorchError, considered } = choice;
  const rebuild = rebuildCommand(packageRoot);
  const lines = ["No native addon of greater fits this machine. Checklist:"];
  lines.push(`  platform:        ${process.platform}-${process.arch}, Node ${process.version} (N-API ${process.versions.napi})`);
  if (libtorch) lines.push(`  libtorch found:  ${describeFound(libtorch)}`);
  else lines.push(`  libtorch found:  none${libtorchError ? ` (${libtorchError})` : ""}`);
  const wanted = !libtorch
    ? "unknown until a libtorch is found"
    : libtorch.cuda
      ? `cuda (the found libtorch has CUDA${libtorch.cudaVersion ? ` ${libtorch.cudaVersion}` : ""})`
      : "cpu (the found libtorch is the CPU build)";
  lines.push(`  variant wanted:  ${wanted}`);
  if (considered.length === 0) {
    lines.push(`  binaries:        none installed (no build/Release, no platform package, no prebuilds/ in ${packageRoot})`);
  } else {
    lines.push("  binaries tried:");
    for (const c of considered) {
      const shown = c.path.startsWith(process.cwd() + sep) ? relative(process.cwd(), c.path) : c.path;
      lines.push(`    - ${c.origin}: ${shown}`);
      lines.push(`        needs ${describeNeed(c.record)}: ${c.outcome}`);
    }
  }
  const shipped = variantsForThisPlatform();
  lines.push(`  prebuilt for:    ${shipped.length ? shipped.map((v) => `${describeNeed(v)} [${v.package}]`).join("; ") : `nothing on ${process.platform}-${process.arch}`}`);
  lines.push("  fix it with one of:");
  // A library that failed to load is the most direct cause, so it comes first.
  const missingLibrary = considered.map((c) => /([\w.+-]+\.so[.\d]*): cannot open shared object file/.exec(c.outcome)?.[1]).find(Boolean);
  if (missingLibrary) {
    lines.push(`    - install the missing library ${missingLibrary} (a pip CUDA torch brings its CUDA libraries), or add its folder to LD_LIBRARY_PATH before starting node`);
  }
  if (!libtorch) {
    lines.push(`    - let \`${rebuild}\` download the CPU libtorch with pip into the package (GREATER_NO_LIBTORCH_DOWNLOAD must be unset)`);
  }
  for (const v of shipped) {
    lines.push(`    - use the libtorch the ${v.variant} prebuilt binary needs: \`${v.pipInstall}\`, then \`${rebuild}\``);
  }
  const buildLine = `    - build from source against your libtorch (needs g++ and CMake): \`${rebuild}\``;
  lines.push(env.GREATER_NO_BUILD === "1" ? `${buildLine} with GREATER_NO_BUILD unset (it is 1 now)` : buildLine);
  lines.push("    - or pick another libtorch: LIBTORCH=/path/to/libtorch (docs/install.md: \"Where libtorch comes from\"); GREATER_BINARY=/path/to/greater.node picks a binary");
  lines.push("  (probe verdicts are cached; GREATER_REPROBE=1 probes again)");
  return lines.join("\n");
}
