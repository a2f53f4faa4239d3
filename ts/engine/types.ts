// The contract between the engine (native/ + ts/engine/model.ts) and its users (optimizer, evaluation).
// Every position and span is in token indices of the row it belongs to (before any padding the engine
// adds internally); rows are ragged number[] arrays of token ids.

export type DType = "float32" | "bfloat16" | "float16";

/** Half-open token range [start, end) inside one sequence. */
export interface Span {
  start: number;
  end: number;
}

export interface LoadOptions {
  /** "cpu" (default), "cuda" or "cuda:N". */
  device?: string;
  /** Compute dtype. Default: bfloat16 on CUDA, float32 on CPU. */
  dtype?: DType;
  /**
   * On the CPU in float32: run lm_head, wherever no gradient is taken (generation, scoring, log-probs), as
   * oneDNN's inner product on a copy of its weight packed once, on first use (faster than MKL's sgemm, which
   * re-packs the weight on every call); costs one more vocab x hidden float32 matrix (500 MiB for a 128k x 1024
   * output layer). Greedy generation also screens its arg-max on an int8 copy (a quarter of that) and recomputes
   * only the tokens the int8 logits cannot rule out, exactly: the same tokens, less projection time.
   * Default true; ignored elsewhere.
   */
  packOutputLayer?: boolean;
  /**
   * Refuse weights holding a NaN or an infinity, naming the tensor and the element (checked on the bytes as they are
   * read). Default true; false loads them as they are, to study such weights on purpose.
   */
  checkFiniteWeights?: boolean;
  /** Stops the load between tensors (EngineError code "ABORTED", cause = signal.reason). */
  signal?: AbortSignal;
  /**
   * Gives up a load that takes longer than this many milliseconds (EngineError code "TIMEOUT"), e.g. weights on a
   * network file system that stopped answering. Checked between tensors. Default: no limit.
   */
  timeoutMs?: number;
  /**
   * Folders the model's files must really lie in, links resolved (for services that confine what a request may
   * load). A folder or file outside them is refused with EngineError code "OUTSIDE_ALLOWED_ROOTS". Default: any.
   */
  allowedRoots?: string[];
}

export interface ModelInfo {
  architecture: string; // e.g. "LlamaForCausalLM"
  modelType: string; // config.json model_type, e.g. "llama"
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  dtype: DType;
  device: string;
  parameterCount: number;
  /** Whether lm_head runs on a packed copy where no gradient is taken (LoadOptions.packOutputLayer). */
  outputLayerPacked: boolean;
  /**
   * Whether greedy generation screens its arg-max on an int8 copy of lm_head (with the packed output layer,
   * except for models with final logit soft-capping). Rows it cannot screen take the float32 path.
   */
  argmaxScreened: boolean;
  /** End-of-sequence ids from generation_config.json (else config.json). */
  eosTokenIds: number[];
  bosTokenId: number | null;
  padTokenId: number | null;
  /** The folder the model was loaded from. */
  path: string;
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** Extra stop ids, added to info.eosTokenIds. */
  stopTokenIds?: number[];
  /** When true, info.eosTokenIds do not stop rows (only stopTokenIds do): fixed-length runs for benchmarks. */
  ignoreEos?: boolean;
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** New tokens per row, without the stop token that ended it. */
  tokens: number[][];
  /** True where the row ended on a stop token, false where it hit maxNewTokens. */
  stopped: boolean[];
}

export interface GenerateForScoringOptions extends GenerateOptions {
  /** Per row: a range of prompts[b] whose tokens' mean NLL comes back (read from the prefill; may be empty). */
  promptSpans: Span[];
}

export interface ContinuationArgs {
  /** Per row: the tokens right after its generated tokens (e.g. " " ⊕ extractor ⊕ answer). */
  continuations: number[][];
  /** Per row: the answer's tokens, a non-empty range of continuations[b]. */
  answerSpans: Span[];
  signal?: AbortSignal;
}

export interface ContinuationScores {
  /** Per row: mean cross-entropy of the answer tokens (no temperature). */
  answerLoss: Float32Array;
  /** Per row: 1 when the arg-max at every answer position equals the gold token. */
  exactMatch: Uint8Array;
}

/**
 * A generation whose KV caches the engine keeps, so that what follows each row's generated tokens can be
 * scored without running the prompt and the generated tokens again. Per row, the scores equal scoreAnswers
 * over prompts[b] ⊕ tokens[b] ⊕ continuations[b] with the same spans.
 */
export interface RetainedGeneration extends GenerateResult {
  /** Per row: mean negative log-likelihood of the tokens in promptSpans[b]; 0 for an empty span. */
  promptNll: Float32Array;
  /** Scores the continuations through the kept caches, then frees them: once per generation. */
  scoreContinuations(args: ContinuationArgs): Promise<ContinuationScores>;
  /** Frees the kept caches without scoring (does nothing once they are freed). */
  release(): void;
}

export interface TopCandidatesOptions {
  /** Per row: the prompt position i; the proposal is the model's distribution for token i (logits at i-1). */
  positions: number[];
  k: number;
  /**
   * Token ids never proposed (the candidate filter), shared by all rows: either a list of ids, or a mask
   * indexed by id (nonzero = disallowed; ids at or past its length, e.g. the model's padding rows beyond the
   * tokenizer's vocabulary, are disallowed too).
   */
  disallowed?: Uint8Array | number[];
  /** Per row: further ids not to propose (GReaTer masks the token at position i-1). */
  exclude?: number[][];
  signal?: AbortSignal;
}

export interface OneHotGradientArgs {
  /** Full sequences: chat(user: question ⊕ prompt) ⊕ reasoning ⊕ " " ⊕ extractor ⊕ answer. */
  sequences: number[][];
  /** Per row: the prompt position i whose embedding is replaced by onehot · E[candidates]. */
  positions: number[];
  /** Candidate ids, shared by all rows; must contain each row's current token at positions[b]. */
  candidates: number[];
  /** Per row: the gold answer's tokens. */
  answerSpans: Span[];
  /** Per row: the prompt's tokens (for the fluency term). */
  promptSpans: Span[];
  /** Answer logits are divided by this before the cross-entropy (τ, 0.2 in the paper). */
  temperature: number;
  /** λ: weight of the prompt's mean NLL in the loss (0.2 in the paper). */
  controlWeight: number;
  signal?: AbortSignal;
}

export interface OneHotGradientResult {
  /** Per row: dL/d(onehot), one entry per candidate (same order as args.candidates). */
  gradients: Float32Array[];
  /** Per row: L = CE(answer logits / τ) + λ · promptNll. */
  losses: Float32Array;
  /** Per row: the answer cross-entropy (mean over answer tokens, with τ). */
  answerLosses: Float32Array;
  /** Per row: mean negative log-likelihood of the prompt tokens. */
  promptNll: Float32Array;
}

export interface ScoreAnswersArgs {
  sequences: number[][];
  answerSpans: Span[];
  promptSpans: Span[];
  signal?: AbortSignal;
}

export interface ScoreAnswersResult {
  /** Per row: mean cross-entropy of the answer tokens (no temperature). */
  answerLoss: Float32Array;
  /** Per row: 1 when the arg-max at every answer position equals the gold token. */
  exactMatch: Uint8Array;
  /** Per row: mean negative log-likelihood of the prompt tokens. */
  promptNll: Float32Array;
}

/**
 * A loaded causal LM. Heavy calls run off the JS thread; calls on one model are queued in order.
 * Errors from the engine are `EngineError`s; out-of-memory has code "OUT_OF_MEMORY": on CUDA, and on the CPU
 * when an allocation of 16 MiB or more exceeds the memory available (MemAvailable and the cgroup's limit, less
 * a reserve; the cpuMemoryAvailable engine setting, in bytes, replaces that figure), rather than the kernel killing the process.
 */
export interface LanguageModel {
  readonly info: ModelInfo;
  generate(prompts: number[][], options: GenerateOptions): Promise<GenerateResult>;
  topCandidates(sequences: number[][], options: TopCandidatesOptions): Promise<number[][]>;
  oneHotGradient(args: OneHotGradientArgs): Promise<OneHotGradientResult>;
  scoreAnswers(args: ScoreAnswersArgs): Promise<ScoreAnswersResult>;
  /** generate that keeps the rows' KV caches for scoring what follows them (the optimizer's reasoning and selection). */
  generateForScoring(prompts: number[][], options: GenerateForScoringOptions): Promise<RetainedGeneration>;
  dispose(): void;
}

/**
 * What an engine error is, where a caller acts on it: OUT_OF_MEMORY (retry on fewer rows), ABORTED (the AbortSignal),
 * TIMEOUT (loadModel's timeoutMs), DISPOSED (a call on a disposed model), OUTSIDE_ALLOWED_ROOTS (loadModel's
 * allowedRoots). Any other error (a bad argument, a broken file, named in the message) has no code.
 */
export type EngineErrorCode = "OUT_OF_MEMORY" | "ABORTED" | "TIMEOUT" | "DISPOSED" | "OUTSIDE_ALLOWED_ROOTS";

export class EngineError extends Error {
  constructor(message: string, readonly code?: EngineErrorCode) {
    super(message);
    this.name = "EngineError";
  }
}

/** True for the engine's out-of-memory error (code "OUT_OF_MEMORY"), on CUDA or the CPU: retry on fewer rows. */
export function isOutOfMemory(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "OUT_OF_MEMORY";
}
