// Types of find-libtorch.mjs for the TypeScript loader (ts/engine/binding.ts).

/** A libtorch found on this machine. */
export interface Libtorch {
  /** Where it was found: "LIBTORCH", "Torch_DIR", "CMAKE_PREFIX_PATH", "python (python3)", "package cache (...)". */
  source: string;
  root: string;
  cmakeDir: string;
  includeDirs: string[];
  libDir: string;
  /** e.g. "2.13.0+cpu", "2.14.1+cu130" or "2.14.1". */
  version: string;
  cuda: boolean;
  /** e.g. "13.0"; null for the CPU build. */
  cudaVersion: string | null;
  cxx11Abi: number;
  cxxStandard: number;
}

export const cacheRoot: string;
export const HOW_TO_PROVIDE: string;
export function describeLibtorch(root: string | undefined, source: string): Libtorch | null;
export function findLibtorch(env?: NodeJS.ProcessEnv): Libtorch | null;
