// Access to the tiny models and the reference outputs tools/make_tiny_models.py recorded with transformers.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { OneHotGradientArgs } from "../../../ts/engine/index.js";

export const tinyModelsDir = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures", "tiny-models");

/** Models with their own reference.json, one per architecture/feature. */
export const referenceModels = ["llama-gqa-rope3-tied", "llama-untied", "mistral-sliding", "qwen2-bias", "gemma2", "llama-bf16"] as const;

export function modelPath(name: string): string {
  return join(tinyModelsDir, name);
}

interface PaddedReference {
  inputIds: number[][];
  attentionMask: number[][];
  /** Per row, per real token (in order): log-softmax over the vocabulary. */
  logProbs: number[][][];
  maxAbsLogit: number;
}

export interface Reference {
  architecture: string;
  weightDtype: string;
  parameterCount: number;
  logits: { sequences: number[][]; left: PaddedReference; right: PaddedReference };
  generate: {
    prompts: number[][];
    maxNewTokens: number;
    eosTokenIds: number[];
    tokens: number[][];
    stopped: boolean[];
    /** Greedy continuations without any stop token, maxNewTokens long. */
    freeRun: number[][];
  };
  topCandidates: { sequences: number[][]; positions: number[]; k: number; disallowed: number[]; exclude: number[][]; candidates: number[][] };
  gradient: {
    sequences: number[][];
    positions: number[];
    candidates: number[];
    answerSpans: [number, number][];
    promptSpans: [number, number][];
    temperature: number;
    controlWeight: number;
    gradients: number[][];
    losses: number[];
    answerLosses: number[];
    promptNll: number[];
  };
  scores: {
    sequences: number[][];
    answerSpans: [number, number][];
    promptSpans: [number, number][];
    answerLoss: number[];
    exactMatch: number[];
    promptNll: number[];
  };
}

export function readReference(name: string): Reference {
  return JSON.parse(readFileSync(join(modelPath(name), "reference.json"), "utf8")) as Reference;
}

export function spans(pairs: [number, number][]): { start: number; end: number }[] {
  return pairs.map(([start, end]) => ({ start, end }));
}

/** The oneHotGradient request the reference's gradient record was made with. */
export function gradientArgs(ref: Reference): OneHotGradientArgs {
  const g = ref.gradient;
  return {
    sequences: g.sequences,
    positions: g.positions,
    candidates: g.candidates,
    answerSpans: spans(g.answerSpans),
    promptSpans: spans(g.promptSpans),
    temperature: g.temperature,
    controlWeight: g.controlWeight,
  };
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** ||a - b|| / ||b|| */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff) / Math.sqrt(norm);
}
