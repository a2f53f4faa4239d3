// Types of binary-choice.mjs for the TypeScript loader (ts/engine/binding.ts).
import type { Libtorch } from "./find-libtorch.mjs";

/** libtorch.json: what a binary was built against. */
export interface BinaryRecord {
  /** The libtorch release (with its local tag), e.g. "2.13.0+cpu". */
  libtorchVersion: string;
  variant: "cpu" | "cuda";
  /** CUDA version of the libtorch a CUDA binary needs, e.g. "13.0". */
  cudaVersion?: string | null;
  cxx11Abi?: number;
  platform?: string;
  arch?: string;
  /** Where that libtorch was on the build machine (local builds only; packaging drops it). */
  libtorchRoot?: string;
  source?: string;
}

export type CandidateKind = "env" | "build" | "package" | "fetched" | "prebuildify";

export interface Candidate {
  path: string;
  /** In words: "local source build (build/Release)", "platform package @greater/...", ... */
  origin: string;
  kind: CandidateKind;
  record?: BinaryRecord;
}

export interface ConsideredCandidate extends Candidate {
  /** "fits (probed)", "fits (cached probe)", or why it was passed over. */
  outcome: string;
}

export interface Choice {
  libtorch: Libtorch | null;
  /** Why discovery failed, when it threw (e.g. LIBTORCH names a folder that is not a libtorch). */
  libtorchError?: string;
  chosen?: Candidate & { libtorch: Libtorch | null; info: Record<string, unknown>; exports: string[] };
  considered: ConsideredCandidate[];
}

export type ProbeVerdict =
  | { ok: true; info: Record<string, unknown>; exports: string[]; cached: boolean }
  | { ok: false; error: string; cached: boolean };

export const defaultPackageRoot: string;
export function makeBinaryRecord(libtorch: Libtorch, variant: "cpu" | "cuda"): BinaryRecord;
export function readBinaryRecord(binaryPath: string): BinaryRecord | undefined;
export function baseVersion(version: string): string;
export function describeNeed(record: BinaryRecord | undefined): string;
export function describeFound(libtorch: Libtorch): string;
export function recordMismatch(record: BinaryRecord, libtorch: Libtorch, platform?: string, arch?: string): string | null;
export function listCandidates(packageRoot?: string, env?: NodeJS.ProcessEnv): Candidate[];
export function cacheDir(env?: NodeJS.ProcessEnv): string;
export function probeBinary(binaryPath: string, libDir: string | undefined, options?: { useCache?: boolean; env?: NodeJS.ProcessEnv }): ProbeVerdict;
export function chooseBinary(options?: { packageRoot?: string; env?: NodeJS.ProcessEnv; useProbeCache?: boolean }): Choice;
export function libtorchLoadFailure(choice: Choice): string | undefined;
export function rebuildCommand(packageRoot?: string): string;
export function noFitMessage(choice: Choice, options?: { packageRoot?: string; env?: NodeJS.ProcessEnv }): string;
