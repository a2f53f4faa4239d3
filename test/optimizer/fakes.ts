// Deterministic stand-ins for the engine and the text layer, for unit tests of the optimizer's loop.
// The fake model's behaviour is a pure function of its inputs (hashes of token ids), so two runs with the
// same seed make the same calls and get the same answers; words listed as GOOD make answers right more
// often, so the search has something to find.
import {
  EngineError,
  type ContinuationArgs,
  type GenerateForScoringOptions,
  type LanguageModel,
  type ModelInfo,
  type OneHotGradientArgs,
  type RetainedGeneration,
  type ScoreAnswersResult,
  type Span,
} from "../../ts/engine/types.js";
import type { ExampleInput, ExampleLayout, ModelTokenizer } from "../../ts/text/types.js";
import type { TextFunctions } from "../../ts/optimizer/greater.js";
import type { TrainingExample } from "../../ts/optimizer/context.js";

const SPECIALS = ["<bos>", "<eot>", "<pad>", "<assistant>"];
const WORDS = [
  " proper", " logical", " reasoning", " and", " think", " step", " by", " careful", " exact", " quick",
  " the", " a", " answer", " final", " give", " correct", " actual", " Finally", " Use", " is", " of",
  " verify", " guess", " sum", ".", ",", "_", " Therefore", "$",
];
export const GOOD_WORDS = [" careful", " step", " verify", " exact"];

/** Word-level tokenizer: the words above, then newline, carriage return and every printable ASCII character as fallback tokens. */
export class FakeTokenizer implements ModelTokenizer {
  readonly vocab: string[];
  readonly bosTokenId = 0;
  readonly eosTokenId = 1;
  readonly padTokenId = 2;
  readonly stopTokenIds = [1];
  readonly specialTokenIds = new Set([0, 1, 2, 3]);
  private readonly byText = new Map<string, number>();

  /** @param extraWords more multi-character tokens, appended after the fallback characters */
  constructor(extraWords: string[] = []) {
    const chars = ["\n", "\r", ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))].filter((c) => !WORDS.includes(c));
    this.vocab = [...SPECIALS, ...WORDS, ...chars, ...extraWords];
    this.vocab.forEach((text, id) => this.byText.set(text, id));
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  id(text: string): number {
    const id = this.byText.get(text);
    if (id === undefined) throw new Error(`fake vocabulary has no ${JSON.stringify(text)}`);
    return id;
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    let at = 0;
    while (at < text.length) {
      let best = -1;
      let bestLength = 0;
      for (let id = SPECIALS.length; id < this.vocab.length; id++) {
        const piece = this.vocab[id];
        if (piece.length > bestLength && text.startsWith(piece, at)) {
          best = id;
          bestLength = piece.length;
        }
      }
      if (best < 0) throw new Error(`fake tokenizer cannot encode ${JSON.stringify(text[at])}`);
      ids.push(best);
      at += bestLength;
    }
    return ids;
  }

  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string {
    return ids
      .filter((id) => !(options?.skipSpecialTokens && this.specialTokenIds.has(id)))
      .map((id) => this.vocab[id])
      .join("");
  }

  renderUserTurn(content: string): string {
    return `<bos>${content}<eot><assistant>`;
  }
}

/**
 * The authors' user turn, `"{question}. Use"{prompt}`, laid out in ids with spans. With `retokenize`, the
 * prompt goes through text (decoded, then encoded again) as the real layout does, so tokens that merge
 * with each other come back as other ids.
 */
export function fakeLayout(tokenizer: FakeTokenizer, retokenize = false): (input: ExampleInput) => ExampleLayout {
  return (input) => {
    const ids: number[] = [tokenizer.bosTokenId];
    const span = (start: number): Span => ({ start, end: ids.length });
    const questionStart = ids.length;
    ids.push(...tokenizer.encode(`"${input.question}. Use"`));
    const question = span(questionStart);
    const promptStart = ids.length;
    ids.push(...(retokenize ? tokenizer.encode(tokenizer.decode(input.prompt)) : input.prompt));
    const prompt = span(promptStart);
    const headerStart = ids.length;
    ids.push(tokenizer.eosTokenId, 3);
    const header = span(headerStart);
    const reasoningStart = ids.length;
    ids.push(...(input.reasoning ?? []));
    const reasoning = span(reasoningStart);
    const extractorStart = ids.length;
    if (input.extractor !== undefined) ids.push(...tokenizer.encode(` ${input.extractor}`));
    const extractor = span(extractorStart);
    const answerStart = ids.length;
    if (input.answer !== undefined) ids.push(...tokenizer.encode(input.answer));
    const answer = span(answerStart);
    return { ids, spans: { question, prompt, header, reasoning, extractor, answer } };
  };
}

/** The strict rule of the text layer, on the fake vocabulary: letters and spaces, or exactly ".", ",", " ". */
export function fakeTextFunctions(tokenizer: FakeTokenizer): TextFunctions {
  const disallowed = new Uint8Array(tokenizer.vocabSize);
  tokenizer.vocab.forEach((text, id) => {
    const allowed = !tokenizer.specialTokenIds.has(id) && ([".", ",", " "].includes(text) || /^[A-Za-z ]+$/.test(text));
    disallowed[id] = allowed ? 0 : 1;
  });
  return { layout: fakeLayout(tokenizer), disallowed };
}

export function fakeExamples(count: number): TrainingExample[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `train:${i}`,
    question: `What is ${(i * 7) % 10} + ${(i * 3) % 10}`,
    answer: String(((i * 7) % 10 + (i * 3) % 10) % 10),
  }));
}

/** FNV-1a over numbers: a stable pseudo-random function of the inputs. */
export function hash(...values: number[]): number {
  let h = 0x811c9dc5;
  for (const value of values) {
    h ^= value & 0xffff;
    h = Math.imul(h, 0x01000193) >>> 0;
    h ^= value >>> 16;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export type CallKind = "generate" | "generateForScoring" | "scoreContinuations" | "topCandidates" | "oneHotGradient" | "scoreAnswers";

export interface FakeModelOptions {
  /** Calls with more rows than this throw an out-of-memory EngineError. */
  oomAbove?: Partial<Record<CallKind, number>>;
  /** Milliseconds each generate call takes (it honours the abort signal meanwhile). */
  generateDelayMs?: number;
}

/**
 * A LanguageModel whose outputs are hashes of its inputs. Reasoning is a few tokens chosen by the prompt's
 * words; answers are right more often the more GOOD words the sequence holds.
 */
export class FakeModel implements LanguageModel {
  readonly info: ModelInfo;
  readonly calls: { kind: CallKind; rows: number }[] = [];
  disposed = false;
  private readonly good: Set<number>;
  /** Ids the model likes everywhere (the single-token words of the fake vocabulary). */
  private readonly preferred: Set<number>;
  private readonly reasoningIds: { careful: number[]; plain: number[]; padding: number; end: number };

  /** Works with any tokenizer: the words above that are single tokens in it play their parts. */
  constructor(
    tokenizer: ModelTokenizer,
    private readonly options: FakeModelOptions = {},
  ) {
    const single = (word: string) => {
      const ids = tokenizer.encode(word);
      return ids.length === 1 ? ids : [];
    };
    const ids = (text: string) => tokenizer.encode(text);
    this.good = new Set(GOOD_WORDS.flatMap(single));
    this.preferred = new Set(WORDS.flatMap(single));
    this.reasoningIds = { careful: ids(" step by step"), plain: ids(" the sum"), padding: ids(" a")[0], end: ids(".")[0] };
    this.info = {
      architecture: "FakeForCausalLM",
      modelType: "fake",
      vocabSize: tokenizer.vocabSize,
      hiddenSize: 8,
      numLayers: 1,
      numHeads: 1,
      numKvHeads: 1,
      headDim: 8,
      maxPositionEmbeddings: 4096,
      dtype: "float32",
      device: "cpu",
      parameterCount: 0,
      eosTokenIds: tokenizer.eosTokenId === null ? [] : [tokenizer.eosTokenId],
      bosTokenId: tokenizer.bosTokenId,
      padTokenId: tokenizer.padTokenId,
      path: "(fake)",
    };
  }

  private enter(kind: CallKind, rows: number): void {
    const limit = this.options.oomAbove?.[kind];
    if (limit !== undefined && rows > limit) {
      throw new EngineError(`CUDA out of memory (fake: ${rows} rows > ${limit})`, "OUT_OF_MEMORY");
    }
    this.calls.push({ kind, rows });
  }

  private goodCount(ids: number[]): number {
    return ids.filter((id) => this.good.has(id)).length;
  }

  async generate(prompts: number[][], options: { maxNewTokens: number; signal?: AbortSignal }) {
    options.signal?.throwIfAborted();
    this.enter("generate", prompts.length);
    return this.reason(prompts, options);
  }

  /**
   * generate, keeping what the engine would keep in its caches (the rows themselves): the continuations' scores
   * are scoreAnswers' over prompt ⊕ tokens ⊕ continuation, as the engine contract says.
   */
  async generateForScoring(prompts: number[][], options: GenerateForScoringOptions): Promise<RetainedGeneration> {
    options.signal?.throwIfAborted();
    this.enter("generateForScoring", prompts.length);
    const { tokens, stopped } = await this.reason(prompts, options);
    const promptNll = this.scoreRows(prompts, options.promptSpans).promptNll;
    let kept = true;
    return {
      tokens,
      stopped,
      promptNll,
      scoreContinuations: async (args: ContinuationArgs) => {
        args.signal?.throwIfAborted();
        if (!kept) throw new Error("scoreContinuations: the generation's caches were already used or released");
        kept = false;
        this.enter("scoreContinuations", prompts.length);
        const rows = prompts.map((prompt, r) => [...prompt, ...tokens[r], ...args.continuations[r]]);
        const { answerLoss, exactMatch } = this.scoreRows(rows, options.promptSpans);
        return { answerLoss, exactMatch };
      },
      release: () => {
        kept = false;
      },
    };
  }

  private async reason(prompts: number[][], options: { maxNewTokens: number; signal?: AbortSignal }) {
    if (this.options.generateDelayMs) await abortableDelay(this.options.generateDelayMs, options.signal);
    const { careful, plain, padding, end } = this.reasoningIds;
    const tokens = prompts.map((row) => {
      const words = this.goodCount(row) > 0 ? careful : plain;
      const extra = hash(...row) % 3; // a little variety per row
      return [...words, ...Array<number>(extra).fill(padding), end].slice(0, options.maxNewTokens);
    });
    return { tokens, stopped: tokens.map(() => true) };
  }

  async topCandidates(
    sequences: number[][],
    options: { positions: number[]; k: number; disallowed?: Uint8Array | number[]; exclude?: number[][] },
  ) {
    this.enter("topCandidates", sequences.length);
    return sequences.map((row, r) => {
      const prefix = row.slice(0, options.positions[r]);
      const banned = new Set(options.exclude?.[r] ?? []);
      const scored: { id: number; score: number }[] = [];
      for (let id = 0; id < this.info.vocabSize; id++) {
        if (options.disallowed?.[id] || banned.has(id)) continue;
        // A shared preference (word ids first) plus a per-row nudge, so examples agree only partly.
        const shared = this.preferred.has(id) ? 100 - (hash(id) % 40) : 0;
        scored.push({ id, score: shared + (hash(id, ...prefix.slice(-3), prefix.length, hash(...prefix) % 4) % 60) });
      }
      scored.sort((a, b) => b.score - a.score || a.id - b.id);
      return scored.slice(0, options.k).map((entry) => entry.id);
    });
  }

  async oneHotGradient(args: OneHotGradientArgs) {
    args.signal?.throwIfAborted();
    this.enter("oneHotGradient", args.sequences.length);
    for (const [r, row] of args.sequences.entries()) {
      if (!args.candidates.includes(row[args.positions[r]])) throw new Error("current token missing from candidates");
    }
    const gradients = args.sequences.map((row) =>
      Float32Array.from(args.candidates, (id) => (this.good.has(id) ? -1 : 0) + ((hash(id, ...row) % 100) - 50) / 100),
    );
    const losses = Float32Array.from(args.sequences, (row) => 1 / (1 + this.goodCount(row)));
    return { gradients, losses, answerLosses: losses, promptNll: Float32Array.from(args.sequences, () => 0.5) };
  }

  async scoreAnswers(args: { sequences: number[][]; answerSpans: Span[]; promptSpans: Span[]; signal?: AbortSignal }) {
    args.signal?.throwIfAborted();
    this.enter("scoreAnswers", args.sequences.length);
    return this.scoreRows(args.sequences, args.promptSpans);
  }

  /** The answers' and prompts' scores of whole rows (a function of the row and its prompt, not of the answer span). */
  private scoreRows(sequences: number[][], promptSpans: Span[]): ScoreAnswersResult {
    // Good words in the prompt help, up to 11 answers in 20 (so the loss stays well above 0.12).
    const exactMatch = Uint8Array.from(sequences, (row, r) => {
      const good = this.goodCount(row.slice(promptSpans[r].start, promptSpans[r].end));
      return hash(...row) % 20 < 3 + 2 * Math.min(good, 4) ? 1 : 0;
    });
    const promptNll = Float32Array.from(sequences, (row, r) => {
      const prompt = row.slice(promptSpans[r].start, promptSpans[r].end);
      return prompt.reduce((sum, id) => sum + 1 + (id % 7) / 10, 0) / Math.max(1, prompt.length);
    });
    return { answerLoss: Float32Array.from(exactMatch, (m) => 1 - m), exactMatch, promptNll };
  }

  dispose(): void {
    this.disposed = true;
  }
}

function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new EngineError("generation aborted", "ABORTED"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
