// Loads the native addon: prebuilt binaries first, then the local build (node-gyp-build's order).
// A binary whose libtorch is missing or of another version fails inside dlopen; we turn that into one
// error that names the libtorch the binary needs and how to rebuild, instead of a bare loader message.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);

/** The package root (the folder holding package.json), whether running from ts/ or dist/. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** What a binary was built against, as recorded beside it at build time. */
export interface BinaryRecord {
  libtorchVersion: string;
  variant: "cpu" | "cuda";
  libtorchRoot?: string;
  source?: string;
}

/** The raw N-API surface. Typed wrappers live in the files that use them. */
export interface NativeBinding {
  engineInfo(): {
    libtorchVersion: string;
    variant: "cpu" | "cuda";
    cudaCompiled: boolean;
    cudaAvailable: boolean;
    devices: string[];
    threads: number;
  };
  setThreads(threads: number): void;
  matmulChecksum(size: number, seed?: number): Promise<number>;
  [name: string]: unknown;
}

let cached: { binding: NativeBinding; path: string } | undefined;

export function loadBinding(): NativeBinding {
  return loadBindingWithPath().binding;
}

export function loadBindingWithPath(): { binding: NativeBinding; path: string } {
  if (cached) return cached;
  const nodeGypBuild = require("node-gyp-build") as { resolve(dir: string): string };
  let path: string;
  try {
    path = process.env.GREATER_BINARY ?? nodeGypBuild.resolve(packageRoot);
  } catch {
    throw new Error(
      `greater: no native addon found (looked in ${join(packageRoot, "prebuilds")} and ${join(packageRoot, "build", "Release")}).\n` +
        `Build it with \`npm run build:native\` (needs a libtorch: see README, "Where libtorch comes from").`,
    );
  }
  try {
    cached = { binding: require(path) as NativeBinding, path };
    return cached;
  } catch (e) {
    const record = readBinaryRecord(path);
    const needs = record
      ? `libtorch ${record.libtorchVersion} (${record.variant})${record.libtorchRoot ? ` at ${record.libtorchRoot}` : ""}`
      : "the libtorch it was built against";
    throw new Error(
      `greater: the native addon ${path} could not be loaded: ${(e as Error).message}\n` +
        `It needs ${needs}. Either make that libtorch available again, or rebuild against yours with ` +
        "`npm run build:native` (LIBTORCH=/path/to/libtorch to choose one).",
    );
  }
}

/** Reads the libtorch.json written beside a binary at build time, if any. */
export function readBinaryRecord(binaryPath: string): BinaryRecord | undefined {
  const file = join(dirname(binaryPath), binaryPath.endsWith("greater.node") ? "libtorch.json" : "libtorch.json");
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as BinaryRecord;
  } catch {
    return undefined;
  }
}
