// Engine-wide information and the first asynchronous call through the whole pipe.
import { binaryChoice, loadBindingWithPath, type NativeEngineInfo } from "./binding.js";

export interface EngineInfo extends NativeEngineInfo {
  /** The .node file that was loaded. */
  binaryPath: string;
  /** Which binary that is: "platform package @greater/linux-x64-cpu-torch2.13", "local source build (build/Release)", ... */
  binaryOrigin: string;
  /** Where the libtorch the addon runs with was found: "LIBTORCH", "python (python3)", ... */
  libtorchSource?: string;
  /** That libtorch's folder. */
  libtorchRoot?: string;
  /** Every binary the loader looked at, in order, and what became of it. */
  candidates: { path: string; origin: string; outcome: string }[];
}

export function engineInfo(): EngineInfo {
  const { binding, path } = loadBindingWithPath();
  const choice = binaryChoice();
  return {
    ...binding.engineInfo(),
    binaryPath: path,
    binaryOrigin: choice.origin,
    libtorchSource: choice.libtorch?.source,
    libtorchRoot: choice.libtorch?.root,
    candidates: choice.considered,
  };
}

/** Sets libtorch's intra-op thread count for this process. */
export function setThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`setThreads: threads must be a positive integer, got ${threads}`);
  loadBindingWithPath().binding.setThreads(threads);
}

/**
 * Multiplies two seeded random size×size float64 matrices on a libuv worker thread and resolves with the
 * sum of the product: a self-test that real tensor work runs off the JS thread and errors come back as
 * rejected Promises.
 */
export function matmulChecksum(size: number, seed = 0): Promise<number> {
  return loadBindingWithPath().binding.matmulChecksum(size, seed);
}
