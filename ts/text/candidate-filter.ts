// The tokens a prompt may never take (the paper's code: non-ASCII, non-printable, anything but letters and
// spaces, special tokens), as a mask over the vocabulary, computed once per tokenizer and cached on disk.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CandidateFilterOptions, ModelTokenizer } from "./types.js";

/** Bump when the rule's code changes, so that masks cached by an older version are not reused. */
const MASK_FORMAT_VERSION = 1;
const STRICT_SINGLE_TOKENS = new Set([".", ",", " "]);
const LETTERS_AND_SPACES = /^[A-Za-z ]+$/;
const LETTERS_SPACES_PUNCTUATION = /^[A-Za-z !"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]+$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

export interface DisallowedMaskOptions extends CandidateFilterOptions {
  /**
   * Length of the mask; ids at or above the tokenizer's vocabulary (a model's embedding rows beyond it) are
   * disallowed. Default: tokenizer.vocabSize.
   */
  vocabSize?: number;
  /**
   * Folder of the on-disk cache; null turns caching off. Default: $XDG_CACHE_HOME/greater when XDG_CACHE_HOME is
   * set, else the package's own .cache/ folder.
   */
  cacheDir?: string | null;
}

/**
 * Whether a token's text (decoded alone) may appear in a prompt under a rule:
 * - "strict" (the paper's code): only ASCII letters and spaces, plus the single tokens ".", "," and " ".
 * - "punctuation": ASCII letters, spaces and punctuation (no digits, no newlines or tabs).
 * - "ascii": any printable ASCII text (the original llm-attacks filter).
 * Empty text is never allowed.
 */
export function isAllowedTokenText(text: string, rule: NonNullable<CandidateFilterOptions["rule"]> = "strict"): boolean {
  switch (rule) {
    case "strict":
      return STRICT_SINGLE_TOKENS.has(text) || LETTERS_AND_SPACES.test(text);
    case "punctuation":
      return LETTERS_SPACES_PUNCTUATION.test(text);
    case "ascii":
      return PRINTABLE_ASCII.test(text);
    default:
      throw new RangeError(`unknown candidate filter rule ${JSON.stringify(rule)}; use "strict", "punctuation" or "ascii"`);
  }
}

/**
 * A mask over the vocabulary, 1 where a token may never be a prompt candidate: its decoded text breaks the rule
 * (see {@link isAllowedTokenText}), or it is a special or added token, BOS, EOS, pad or unk. Computed once per
 * tokenizer and rule (a 128k vocabulary takes well under 2 s), then read from the cache, whose key is the sha256 of
 * tokenizer.json (`tokenizer.fingerprint`) with the special ids and the rule; a tokenizer without a fingerprint is
 * not cached.
 */
export function disallowedTokenMask(tokenizer: ModelTokenizer, options: DisallowedMaskOptions = {}): Uint8Array {
  const rule = options.rule ?? "strict";
  const size = options.vocabSize ?? tokenizer.vocabSize;
  if (!Number.isInteger(size) || size < tokenizer.vocabSize) {
    throw new RangeError(`vocabSize ${size} is smaller than the tokenizer's vocabulary (${tokenizer.vocabSize})`);
  }
  const cacheFile = cachePath(tokenizer, rule, size, options.cacheDir);
  const cached = cacheFile === null ? null : readCachedMask(cacheFile, size);
  if (cached !== null) return cached;

  const mask = computeMask(tokenizer, rule, size);
  if (cacheFile !== null) writeCachedMask(cacheFile, mask);
  return mask;
}

function computeMask(tokenizer: ModelTokenizer, rule: NonNullable<CandidateFilterOptions["rule"]>, size: number): Uint8Array {
  const mask = new Uint8Array(size).fill(1);
  const never = neverAllowedIds(tokenizer);
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (never.has(id)) continue;
    if (isAllowedTokenText(tokenizer.decode([id]), rule)) mask[id] = 0;
  }
  return mask;
}

function neverAllowedIds(tokenizer: ModelTokenizer): Set<number> {
  const ids = new Set<number>([...tokenizer.specialTokenIds, ...(tokenizer.addedTokenIds ?? [])]);
  for (const id of [tokenizer.bosTokenId, tokenizer.eosTokenId, tokenizer.padTokenId, tokenizer.unkTokenId ?? null]) {
    if (id !== null) ids.add(id);
  }
  return ids;
}

function cachePath(tokenizer: ModelTokenizer, rule: string, size: number, cacheDir: string | null | undefined): string | null {
  if (cacheDir === null || tokenizer.fingerprint === undefined) return null;
  const dir = cacheDir ?? defaultCacheDir();
  const key = createHash("sha256")
    .update(JSON.stringify({ version: MASK_FORMAT_VERSION, tokenizer: tokenizer.fingerprint, rule, size,
      never: [...neverAllowedIds(tokenizer)].sort((a, b) => a - b) }))
    .digest("hex")
    .slice(0, 32);
  return join(dir, `candidate-mask-${rule}-${key}.bin`);
}

/** $XDG_CACHE_HOME/greater, else <package>/.cache (this file sits in ts/text/ or dist/text/). */
function defaultCacheDir(): string {
  const xdg = process.env["XDG_CACHE_HOME"];
  if (xdg) return join(xdg, "greater");
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", ".cache");
}

function readCachedMask(path: string, size: number): Uint8Array | null {
  try {
    const bytes = readFileSync(path);
    // A file of another length is stale or truncated: recompute rather than trust it.
    return bytes.length === size ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) : null;
  } catch {
    return null;
  }
}

function writeCachedMask(path: string, mask: Uint8Array): void {
  // The cache only saves time: a read-only or full disk must not fail the caller.
  try {
    mkdirSync(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, mask);
    renameSync(temporary, path); // atomic: a concurrent reader sees the whole file or none
  } catch {
    /* not cached */
  }
}
