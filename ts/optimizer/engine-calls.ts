// Three of a step's engine calls, each sent as one batch over all its rows and split on out-of-memory
// (row-splitter.ts); the fourth, generation with its scoring, is split the same way in reasoning.ts. Rows are
// independent in every call, so a split changes how the work is scheduled, not what it computes.
import type {
  LanguageModel,
  OneHotGradientArgs,
  OneHotGradientResult,
  ScoreAnswersArgs,
  ScoreAnswersResult,
  TopCandidatesOptions,
} from "../engine/types.js";
import type { RowSplitter } from "./row-splitter.js";

export async function topCandidateRows(
  model: LanguageModel,
  splitter: RowSplitter,
  sequences: number[][],
  options: TopCandidatesOptions,
): Promise<number[][]> {
  return splitter.run(
    "topCandidates",
    sequences.length,
    (start, end) =>
      model.topCandidates(sequences.slice(start, end), {
        ...options,
        positions: options.positions.slice(start, end),
        exclude: options.exclude?.slice(start, end),
      }),
    (parts) => parts.flat(),
  );
}

export async function oneHotGradientRows(
  model: LanguageModel,
  splitter: RowSplitter,
  args: OneHotGradientArgs,
): Promise<OneHotGradientResult> {
  return splitter.run(
    "oneHotGradient",
    args.sequences.length,
    (start, end) =>
      model.oneHotGradient({
        ...args,
        sequences: args.sequences.slice(start, end),
        positions: args.positions.slice(start, end),
        answerSpans: args.answerSpans.slice(start, end),
        promptSpans: args.promptSpans.slice(start, end),
      }),
    (parts) => ({
      gradients: parts.flatMap((p) => p.gradients),
      losses: concatFloat32(parts.map((p) => p.losses)),
      answerLosses: concatFloat32(parts.map((p) => p.answerLosses)),
      promptNll: concatFloat32(parts.map((p) => p.promptNll)),
    }),
  );
}

export async function scoreAnswerRows(
  model: LanguageModel,
  splitter: RowSplitter,
  args: ScoreAnswersArgs,
): Promise<ScoreAnswersResult> {
  return splitter.run(
    "scoreAnswers",
    args.sequences.length,
    (start, end) =>
      model.scoreAnswers({
        ...args,
        sequences: args.sequences.slice(start, end),
        answerSpans: args.answerSpans.slice(start, end),
        promptSpans: args.promptSpans.slice(start, end),
      }),
    (parts) => ({
      answerLoss: concatFloat32(parts.map((p) => p.answerLoss)),
      exactMatch: Uint8Array.from(parts.flatMap((p) => Array.from(p.exactMatch))),
      promptNll: concatFloat32(parts.map((p) => p.promptNll)),
    }),
  );
}

function concatFloat32(arrays: Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((sum, a) => sum + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}
