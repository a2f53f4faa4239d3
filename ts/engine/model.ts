// The typed Model over the native engine. Heavy calls run on libuv's thread pool (never the JS thread);
// calls on one model run one at a time, in call order, through a per-model promise chain.
import { existsSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { loadBinding } from "./binding.js";
import { checkAllowedRoots, realModelFiles } from "./model-files.js";
import {
  EngineError,
  type ContinuationArgs,
  type ContinuationScores,
  type GenerateForScoringOptions,
  type GenerateOptions,
  type GenerateResult,
  type LanguageModel,
  type LoadOptions,
  type ModelInfo,
  type RetainedGeneration,
  type OneHotGradientArgs,
  type OneHotGradientResult,
  type ScoreAnswersArgs,
  type ScoreAnswersResult,
  type Span,
  type TopCandidatesOptions,
} from "./types.js";

/** A padded batch, as the caller built it (left or right padding, or none). */
export interface LogitsInput {
  /** [batch][width]: every row the same width. */
  inputIds: number[][];
  /** [batch][width] of 0 (padding) / 1 (real token). Default: all 1. */
  attentionMask?: number[][];
}

export interface LogitsOptions {
  /**
   * Which columns to read, in the padded coordinates of inputIds: "last" reads each row's last real token;
   * number[][] gives per row the columns (each must be a real token). Column c yields the distribution of
   * the token after c.
   */
  positions: "last" | number[][];
  /** Also return the full log-softmax over the vocabulary at each position read. */
  full?: boolean;
  /** Per row, one token id per position read: their log-probabilities come back in targetLogProbs. */
  targets?: number[][];
  signal?: AbortSignal;
}

export interface LogitsResult {
  /** Per row: the columns read (resolves "last"). */
  positions: number[][];
  /** Per row, per position read: the arg-max token. */
  topTokens: Int32Array[];
  /** Per row, per position read: its log-probability. */
  topLogProbs: Float32Array[];
  /** Per row, per position read: log-probability of options.targets (only when targets were given). */
  targetLogProbs?: Float32Array[];
  /** Per row: positions × vocabSize log-probabilities, row-major (only when full). */
  logProbs?: Float32Array[];
}

interface Ragged {
  values: Int32Array;
  offsets: Int32Array;
}

type ModelHandle = { readonly __brand: "ModelHandle" };
type CancelToken = { readonly __brand: "CancelToken" };
type RetainedGenerationHandle = { readonly __brand: "RetainedGenerationHandle" };

/** The native functions this file uses (registered by native/addon/model_binding.cpp). */
interface ModelBinding {
  loadModel(path: string, device: string, dtype: string, packOutputLayer: boolean, checkFiniteWeights: boolean, token?: CancelToken): Promise<ModelHandle>;
  modelInfo(handle: ModelHandle): ModelInfo;
  disposeModel(handle: ModelHandle): void;
  createCancelToken(): CancelToken;
  cancel(token: CancelToken): void;
  modelLogProbs(
    handle: ModelHandle,
    request: { inputIds: Ragged; attentionMask?: Ragged; positions?: Ragged; targets?: Ragged; full: boolean },
    cancel?: CancelToken,
  ): Promise<{ positions: Ragged; topTokens: Int32Array; topLogProbs: Float32Array; targetLogProbs?: Float32Array; full?: Float32Array }>;
  modelGenerate(
    handle: ModelHandle,
    request: { prompts: Ragged; maxNewTokens: number; stopTokenIds: Int32Array; ignoreEos: boolean },
    cancel?: CancelToken,
  ): Promise<{ tokens: Ragged; stopped: Uint8Array }>;
  modelGenerateRetaining(
    handle: ModelHandle,
    request: { prompts: Ragged; maxNewTokens: number; stopTokenIds: Int32Array; ignoreEos: boolean; promptSpans: Int32Array },
    cancel?: CancelToken,
  ): Promise<{ tokens: Ragged; stopped: Uint8Array; promptNll: Float32Array; generation: RetainedGenerationHandle }>;
  modelScoreContinuations(
    handle: ModelHandle,
    generation: RetainedGenerationHandle,
    request: { continuations: Ragged; answerSpans: Int32Array },
    cancel?: CancelToken,
  ): Promise<ContinuationScores>;
  releaseGeneration(generation: RetainedGenerationHandle): void;
  modelTopCandidates(
    handle: ModelHandle,
    request: { sequences: Ragged; positions: Int32Array; k: number; disallowedMask?: Uint8Array; disallowedIds?: Int32Array; exclude?: Ragged },
    cancel?: CancelToken,
  ): Promise<Ragged>;
  modelOneHotGradient(
    handle: ModelHandle,
    request: {
      sequences: Ragged;
      positions: Int32Array;
      candidates: Int32Array;
      answerSpans: Int32Array;
      promptSpans: Int32Array;
      temperature: number;
      controlWeight: number;
    },
    cancel?: CancelToken,
  ): Promise<{ candidateCount: number; gradients: Float32Array; losses: Float32Array; answerLosses: Float32Array; promptNll: Float32Array }>;
  modelScoreAnswers(
    handle: ModelHandle,
    request: { sequences: Ragged; answerSpans: Int32Array; promptSpans: Int32Array },
    cancel?: CancelToken,
  ): Promise<{ answerLoss: Float32Array; exactMatch: Uint8Array; promptNll: Float32Array }>;
}

function modelBinding(): ModelBinding {
  return loadBinding() as unknown as ModelBinding;
}

/**
 * Loads a Hugging Face model folder (config.json, generation_config.json, model.safetensors or sharded
 * safetensors with model.safetensors.index.json). Pickle checkpoints (.bin/.pt) are refused.
 */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<Model> {
  const binding = modelBinding();
  const folder = resolvePath(path);
  const { signal, timeoutMs } = options;
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new EngineError(`loadModel: timeoutMs must be a positive number of milliseconds, got ${timeoutMs}`);
  }
  if (signal?.aborted) throw abortError("loadModel", signal);
  const files = existsSync(folder) ? realModelFiles(folder) : {};
  if (options.allowedRoots !== undefined) checkAllowedRoots(folder, files, options.allowedRoots);
  const token = signal !== undefined || timeoutMs !== undefined ? binding.createCancelToken() : undefined;
  let timedOut = false;
  const onAbort = () => binding.cancel(token!);
  signal?.addEventListener("abort", onAbort, { once: true });
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    binding.cancel(token!);
  }, timeoutMs);
  try {
    const handle = await binding.loadModel(folder, options.device ?? "cpu", options.dtype ?? "", options.packOutputLayer ?? true,
      options.checkFiniteWeights ?? true, token);
    return new Model(binding, handle, files);
  } catch (e) {
    if (signal?.aborted) throw abortError("loadModel", signal);
    if (timedOut) throw new EngineError(`loadModel: ${folder} did not load within ${timeoutMs} ms`, "TIMEOUT");
    throw toEngineError(e);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

export class Model implements LanguageModel, AsyncDisposable {
  readonly info: ModelInfo;
  private tail: Promise<unknown> = Promise.resolve();
  private disposed = false;

  /** Use loadModel(). */
  constructor(
    private readonly binding: ModelBinding,
    private readonly handle: ModelHandle,
    /** The model files loading read (config, generation config, weights), by name, with their real paths (links resolved). */
    readonly files: Record<string, string> = {},
  ) {
    this.info = Object.freeze(binding.modelInfo(handle));
  }

  /** Log-probabilities at chosen positions of a padded batch (lm_head runs only at those positions). */
  async logits(input: LogitsInput, options: LogitsOptions): Promise<LogitsResult> {
    const op = "logits";
    const request = {
      inputIds: toRagged(input.inputIds, `${op}: inputIds`),
      attentionMask: input.attentionMask ? toRagged(input.attentionMask, `${op}: attentionMask`) : undefined,
      positions: options.positions === "last" ? undefined : toRagged(options.positions, `${op}: positions`),
      targets: options.targets ? toRagged(options.targets, `${op}: targets`) : undefined,
      full: options.full === true,
    };
    return this.enqueue(op, options.signal, async (token) => {
      const out = await this.binding.modelLogProbs(this.handle, request, token);
      const positions = fromRagged(out.positions);
      const counts = positions.map((p) => p.length);
      const vocab = this.info.vocabSize;
      return {
        positions,
        topTokens: splitRows(out.topTokens, counts),
        topLogProbs: splitRows(out.topLogProbs, counts),
        targetLogProbs: out.targetLogProbs ? splitRows(out.targetLogProbs, counts) : undefined,
        logProbs: out.full ? splitRows(out.full, counts.map((c) => c * vocab)) : undefined,
      };
    });
  }

  /**
   * Greedy decoding of a ragged batch (each prompt >= 1 token). The tokens all prompts start with are run once
   * and shared; the rest runs in groups of rows of similar length. Each row's positions count from its first
   * token, so a row generates what it would alone (up to float rounding in near-ties). A row ends at the
   * first stop token (info.eosTokenIds unless ignoreEos, plus stopTokenIds), which is not returned, or after
   * maxNewTokens tokens. Finished rows are dropped from the running batch. options.signal stops a queued call
   * at once and a running one between decode steps (EngineError code "ABORTED", cause = signal.reason).
   */
  async generate(prompts: number[][], options: GenerateOptions): Promise<GenerateResult> {
    const op = "generate";
    const request = generateRequest(op, prompts, options);
    return this.enqueue(op, options.signal, async (token) => {
      const out = await this.binding.modelGenerate(this.handle, request, token);
      return { tokens: fromRagged(out.tokens), stopped: Array.from(out.stopped, (s) => s === 1) };
    });
  }

  /**
   * generate (the same tokens) that keeps every row's KV cache, plus the mean NLL of promptSpans[b] inside
   * prompts[b] from the prefill. The result's scoreContinuations runs what follows each row's generated
   * tokens through those caches: per row, the answer loss and exact match equal scoreAnswers over
   * prompts[b] ⊕ tokens[b] ⊕ continuations[b]. The caches live until scoreContinuations or release().
   */
  async generateForScoring(prompts: number[][], options: GenerateForScoringOptions): Promise<RetainedGeneration> {
    const op = "generate";
    const request = { ...generateRequest(op, prompts, options), promptSpans: spansToInt32(options.promptSpans, `${op}: promptSpans`) };
    const out = await this.enqueue(op, options.signal, (token) => this.binding.modelGenerateRetaining(this.handle, request, token));
    const { binding, handle } = this;
    const generation = out.generation;
    return {
      tokens: fromRagged(out.tokens),
      stopped: Array.from(out.stopped, (s) => s === 1),
      promptNll: out.promptNll,
      scoreContinuations: (args: ContinuationArgs) => {
        const scoreOp = "scoreContinuations";
        const scoreRequest = {
          continuations: toRagged(args.continuations, `${scoreOp}: continuations`),
          answerSpans: spansToInt32(args.answerSpans, `${scoreOp}: answerSpans`),
        };
        return this.enqueue(scoreOp, args.signal, (token) => binding.modelScoreContinuations(handle, generation, scoreRequest, token));
      },
      release: () => binding.releaseGeneration(generation),
    };
  }

  /**
   * Per row b: the k most likely next tokens at prompt position i = positions[b] (1 <= i <= length; the
   * logits at i - 1, so only tokens before i matter), best first, after removing `disallowed` and
   * exclude[b]. Fewer than k when fewer are allowed.
   */
  async topCandidates(sequences: number[][], options: TopCandidatesOptions): Promise<number[][]> {
    const op = "topCandidates";
    const disallowed = options.disallowed;
    const request = {
      sequences: toRagged(sequences, `${op}: sequences`),
      positions: toInt32(options.positions, `${op}: positions`),
      k: options.k,
      disallowedMask: disallowed instanceof Uint8Array ? disallowed : undefined,
      disallowedIds: Array.isArray(disallowed) ? toInt32(disallowed, `${op}: disallowed`) : undefined,
      exclude: options.exclude ? toRagged(options.exclude, `${op}: exclude`) : undefined,
    };
    if (!Number.isInteger(options.k)) throw new EngineError(`${op}: k must be an integer, got ${options.k}`);
    return this.enqueue(op, options.signal, async (token) => fromRagged(await this.binding.modelTopCandidates(this.handle, request, token)));
  }

  /**
   * dL_b/d(onehot_b) for every row in one forward and one backward, weights frozen. Row b's embedding at
   * positions[b] (0 <= i < length) becomes onehot_b · E[candidates] (then scaled like every embedding:
   * Gemma2 multiplies by sqrt(hidden)), with onehot_b selecting sequences[b][i], which `candidates` must
   * contain. L_b = mean CE(logits/τ) over answerSpans[b] + controlWeight · mean NLL over promptSpans[b].
   * Spans are half-open token ranges of the row; token j is predicted by the logits at j - 1, so a non-empty
   * span starts at >= 1; answer spans are non-empty; an empty prompt span gives promptNll 0.
   */
  async oneHotGradient(args: OneHotGradientArgs): Promise<OneHotGradientResult> {
    const op = "oneHotGradient";
    const request = {
      sequences: toRagged(args.sequences, `${op}: sequences`),
      positions: toInt32(args.positions, `${op}: positions`),
      candidates: toInt32(args.candidates, `${op}: candidates`),
      answerSpans: spansToInt32(args.answerSpans, `${op}: answerSpans`),
      promptSpans: spansToInt32(args.promptSpans, `${op}: promptSpans`),
      temperature: args.temperature,
      controlWeight: args.controlWeight,
    };
    return this.enqueue(op, args.signal, async (token) => {
      const out = await this.binding.modelOneHotGradient(this.handle, request, token);
      const rows = out.losses.length;
      return {
        gradients: splitRows(out.gradients, new Array<number>(rows).fill(out.candidateCount)),
        losses: out.losses,
        answerLosses: out.answerLosses,
        promptNll: out.promptNll,
      };
    });
  }

  /** Answer CE (no temperature), all-answer-tokens arg-max match, and prompt NLL per row, from one forward (spans as in oneHotGradient). */
  async scoreAnswers(args: ScoreAnswersArgs): Promise<ScoreAnswersResult> {
    const op = "scoreAnswers";
    const request = {
      sequences: toRagged(args.sequences, `${op}: sequences`),
      answerSpans: spansToInt32(args.answerSpans, `${op}: answerSpans`),
      promptSpans: spansToInt32(args.promptSpans, `${op}: promptSpans`),
    };
    return this.enqueue(op, args.signal, (token) => this.binding.modelScoreAnswers(this.handle, request, token));
  }

  /**
   * Frees the weights now. A call already running finishes first (it holds its own reference); queued and
   * later calls reject with code "DISPOSED".
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.binding.disposeModel(this.handle);
  }

  /** Waits for queued calls to settle, then frees the weights (`await using model = await loadModel(...)`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.tail;
    this.dispose();
  }

  /**
   * Runs `work` after every earlier call on this model has settled. An AbortSignal rejects a queued call at
   * once (its work never starts) and asks a running one to stop between steps.
   */
  private enqueue<T>(op: string, signal: AbortSignal | undefined, work: (token?: CancelToken) => Promise<T>): Promise<T> {
    if (this.disposed) return Promise.reject(disposedError(op));
    if (signal?.aborted) return Promise.reject(abortError(op, signal));
    return new Promise<T>((resolve, reject) => {
      let token: CancelToken | undefined;
      const onAbort = () => {
        if (token) this.binding.cancel(token);
        else reject(abortError(op, signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const turn = this.tail.then(() => {
        if (signal?.aborted) throw abortError(op, signal);
        if (this.disposed) throw disposedError(op);
        token = signal ? this.binding.createCancelToken() : undefined;
        return work(token);
      });
      this.tail = turn.then(
        () => undefined,
        () => undefined,
      );
      turn
        .then(resolve, (e: unknown) => reject(signal?.aborted ? abortError(op, signal) : toEngineError(e)))
        .finally(() => signal?.removeEventListener("abort", onAbort));
    });
  }
}

function generateRequest(op: string, prompts: number[][], options: GenerateOptions) {
  if (options === null || typeof options !== "object") {
    throw new EngineError(`${op}(prompts, options): options is required, e.g. { maxNewTokens: 64 } (got ${options === null ? "null" : typeof options})`);
  }
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 0)
    throw new EngineError(`${op}: maxNewTokens must be a non-negative integer, got ${options.maxNewTokens}`);
  return {
    prompts: toRagged(prompts, `${op}: prompts`),
    maxNewTokens: options.maxNewTokens,
    stopTokenIds: toInt32(options.stopTokenIds ?? [], `${op}: stopTokenIds`),
    ignoreEos: options.ignoreEos === true,
  };
}

function abortError(op: string, signal: AbortSignal): EngineError {
  const error = new EngineError(`${op}: aborted`, "ABORTED");
  (error as Error & { cause?: unknown }).cause = signal.reason;
  return error;
}

function disposedError(op: string): EngineError {
  return new EngineError(`${op}: the model has been disposed`, "DISPOSED");
}

function toEngineError(e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  const error = e as { message?: string; code?: string };
  // The addon sets only OUT_OF_MEMORY (native/addon/async.h); anything else it throws has no code.
  return new EngineError(error?.message ?? String(e), error?.code === "OUT_OF_MEMORY" ? "OUT_OF_MEMORY" : undefined);
}

function checkTokenId(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0x7fffffff)
    throw new EngineError(`${where} must be a non-negative integer, got ${String(value)}`);
  return value;
}

function toInt32(values: readonly number[], name: string): Int32Array {
  if (!Array.isArray(values)) throw new EngineError(`${name} must be an array of integers`);
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = checkTokenId(values[i], `${name}[${i}]`);
  return out;
}

function toRagged(rows: readonly (readonly number[])[], name: string): Ragged {
  if (!Array.isArray(rows)) throw new EngineError(`${name} must be an array of rows`);
  const offsets = new Int32Array(rows.length + 1);
  let total = 0;
  rows.forEach((row, b) => {
    if (!Array.isArray(row)) throw new EngineError(`${name}[${b}] must be an array of integers`);
    total += row.length;
    offsets[b + 1] = total;
  });
  const values = new Int32Array(total);
  rows.forEach((row, b) => {
    for (let j = 0; j < row.length; j++) values[offsets[b] + j] = checkTokenId(row[j], `${name}[${b}][${j}]`);
  });
  return { values, offsets };
}

function fromRagged(r: Ragged): number[][] {
  const rows: number[][] = [];
  for (let b = 0; b + 1 < r.offsets.length; b++) rows.push(Array.from(r.values.subarray(r.offsets[b], r.offsets[b + 1])));
  return rows;
}

function spansToInt32(spans: readonly Span[], name: string): Int32Array {
  if (!Array.isArray(spans)) throw new EngineError(`${name} must be an array of {start, end}`);
  const out = new Int32Array(spans.length * 2);
  spans.forEach((s, b) => {
    out[2 * b] = checkTokenId(s?.start, `${name}[${b}].start`);
    out[2 * b + 1] = checkTokenId(s?.end, `${name}[${b}].end`);
  });
  return out;
}

function splitRows<T extends Float32Array | Int32Array>(flat: T, counts: number[]): T[] {
  const rows: T[] = [];
  let at = 0;
  for (const c of counts) {
    rows.push(flat.subarray(at, at + c) as T);
    at += c;
  }
  return rows;
}
