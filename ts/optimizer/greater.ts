// GReaTer (Das et al., ICLR 2025): prompt optimization by gradients over reasoning.
//
// The prompt is a sequence of token ids after the question. Each step optimizes one position i:
//   0. reasoning refresh      the model reasons greedily about every train example under the prompt
//   1. candidate proposal     tokens likely at i, from intersections of the examples' top-k sets
//   2. gradient over reasoning  d(answer loss after the fixed reasoning)/d(one-hot at i), summed over examples
//   3. candidate ranking      the 3 candidates with the most negative gradient
//   4. selection              each is tried with regenerated reasoning; the lowest mistake/NLL score wins
//   5. advance                move to i+1; wrap after a sentence end, else grow the prompt by a filler
//   6. bookkeeping            best prompt, top 10, stopping rules
// Each phase lives in its own file; this one strings them together, keeps the state, and reports.
import type { LanguageModel } from "../engine/types.js";
import { buildExampleLayout, disallowedTokenMask, encodePrompt } from "../text/index.js";
import type { ModelTokenizer } from "../text/types.js";
import { advancePosition } from "./advance.js";
import { emptyBookkeeping, recordStep, stopReason, type ScoredPrompt, type StopReason } from "./bookkeeping.js";
import { proposeCandidates } from "./candidates.js";
import { resolveConfig, type GreaterConfig } from "./config.js";
import { boundaryProbes, canonicalPrompt, type LayoutExample, type OptimizationTask, type PromptPlacement, type StepContext } from "./context.js";
import type { GreaterEvent, PromptText, StartEvent, StepEvent, StepRecord, StepTimings } from "./events.js";
import { devEvaluator, type PromptEvaluator } from "./evaluation.js";
import { gradientOverReasoning } from "./gradient.js";
import { RowSplitter } from "./row-splitter.js";
import { Mulberry32 } from "./prng.js";
import { rankByGradient, rankRandomly } from "./ranking.js";
import { generateReasoning, prefixesOnly, type ReasoningSet } from "./reasoning.js";
import { selectByRegeneratedReasoning } from "./selection.js";
import { cloneState, STATE_FORMAT, STATE_VERSION, type OptimizerState } from "./state.js";
import { promptText, stepEvent, stepRecord } from "./step-record.js";
import { projectStepWork, type StepWork } from "./workload.js";

/** The text layer's pieces the optimizer needs (defaults come from ts/text). */
export interface TextFunctions {
  /** Lays out one example (ids and spans) with the configured user-turn template. */
  layout: LayoutExample;
  /** 1 for every token id the proposal may never offer; length = the model's vocabulary. */
  disallowed: Uint8Array;
}

export interface OptimizeOptions {
  /** Stops the run between phases (and inside the engine's generation); the state stays at the last step. */
  signal?: AbortSignal;
  /** Called with every event (the start event, then one per step). */
  onProgress?: (event: GreaterEvent) => void;
  /**
   * Continue a saved run from its state (see GreaterOptimizer.state). The configuration is then the saved one with
   * the given fields over it; only steps, patience, lossThreshold and maxBatchRows may differ from it.
   */
  resumeFrom?: OptimizerState;
  /**
   * How the best prompt's dev accuracy is measured at the end. Default: the tasks layer's `evaluate` on
   * the task's dev split when the task is a full tasks `Task` with dev examples; `false` skips it
   * (devAccuracy null).
   */
  evaluate?: PromptEvaluator | false;
  /**
   * The text layer's functions. Default: ts/text's buildExampleLayout with config.userTurnTemplate, and
   * disallowedTokenMask with config.candidateFilter over the model's vocabulary.
   */
  text?: Partial<TextFunctions>;
}

/** What a finished run returns. */
export interface GreaterResult {
  /** The lowest-loss prompt of the run. */
  bestPrompt: PromptText;
  /** Its train loss (selection score: mistake rate + (λ/10) · prompt NLL). */
  trainLoss: number;
  /** The 0-based step that found it. */
  bestStep: number;
  /** Accuracy of the best prompt on dev, when an evaluator was given; otherwise null. */
  devAccuracy: number | null;
  /** The best distinct prompts, lowest loss first (at most config.topPromptsKept). */
  topPrompts: ScoredPrompt[];
  /** One record per step. */
  history: StepRecord[];
  /** The prompt the search ended on (may carry a trailing filler). */
  finalPrompt: PromptText;
  stepsDone: number;
  /** Why the run ended; null for a partial result (an aborted or unfinished run). */
  stopReason: StopReason | null;
  /** The final state (resumable with a larger `steps`). */
  state: OptimizerState;
}

/** The run was aborted; `state` is the state after the last completed step, ready to save and resume. */
export class OptimizationAbortedError extends Error {
  constructor(
    readonly state: OptimizerState,
    cause: unknown,
  ) {
    super(`GReaTer run aborted after ${state.stepsDone} steps`, { cause });
    this.name = "AbortError";
  }
}

/** The text layer's defaults for the pieces not given (computing the mask only when it is not given). */
function defaultTextFunctions(
  tokenizer: ModelTokenizer,
  model: LanguageModel,
  config: GreaterConfig,
  given: Partial<TextFunctions> = {},
): TextFunctions {
  return {
    layout: given.layout ?? ((input) => buildExampleLayout(tokenizer, input, { userTurnTemplate: config.userTurnTemplate })),
    disallowed:
      given.disallowed ?? disallowedTokenMask(tokenizer, { rule: config.candidateFilter, vocabSize: model.info.vocabSize }),
  };
}

/** Fields that may change when a saved run is resumed: they decide when to stop or how to batch, not the search. */
const RESUMABLE_CHANGES: ReadonlySet<keyof GreaterConfig> = new Set(["steps", "patience", "lossThreshold", "maxBatchRows"]);

/**
 * A GReaTer run as an async iterable of events: a start event with the projected work of a step, then one
 * event per step until a stopping rule fires. `state` can be saved after any event and passed back as
 * `resumeFrom` to continue identically.
 */
export class GreaterOptimizer implements AsyncIterable<GreaterEvent> {
  readonly config: GreaterConfig;
  private current: OptimizerState;
  private readonly context: StepContext;
  private readonly options: OptimizeOptions;
  private readonly evaluator: PromptEvaluator | undefined;

  constructor(
    readonly model: LanguageModel,
    readonly tokenizer: ModelTokenizer,
    readonly task: OptimizationTask,
    config: Partial<GreaterConfig>,
    options: OptimizeOptions = {},
  ) {
    // Resuming: the saved run's configuration, with the given fields over it (only those that do not alter the
    // search may differ: steps, patience, lossThreshold, maxBatchRows; checkResumable refuses the others).
    const saved = options.resumeFrom?.config;
    this.config = resolveConfig(saved !== null && typeof saved === "object" ? { ...saved, ...config } : config);
    this.options = options;
    if (task.train.length === 0) throw new Error(`task ${task.name ?? ""}: the train split is empty`.replace("  ", " "));
    const text = defaultTextFunctions(tokenizer, model, this.config, options.text);
    if (text.disallowed.length !== model.info.vocabSize) {
      throw new Error(
        `text.disallowed has ${text.disallowed.length} entries; the model's vocabulary has ${model.info.vocabSize}`,
      );
    }
    const context: Omit<StepContext, "initialPromptLength"> = {
      model,
      tokenizer,
      config: this.config,
      examples: task.train,
      extractor: task.extractor,
      layout: text.layout,
      disallowed: text.disallowed,
      stopTokenIds: [...new Set([...model.info.eosTokenIds, ...tokenizer.stopTokenIds])],
      splitter: new RowSplitter(this.config.maxBatchRows, options.resumeFrom?.splitSizes),
      probes: boundaryProbes(task.train, this.config.userTurnTemplate),
      signal: options.signal,
    };
    this.current = options.resumeFrom ? this.checkResumable(options.resumeFrom) : this.freshState(context);
    this.context = { ...context, initialPromptLength: this.current.initialPrompt.length };
    this.evaluator = options.evaluate === false ? undefined : (options.evaluate ?? devEvaluator(model, tokenizer, task, this.config, text.layout));
  }

  /** A JSON-able copy of the complete state after the last completed step. */
  get state(): OptimizerState {
    return cloneState(this.current);
  }

  /** True once a stopping rule has fired. */
  get finished(): boolean {
    return this.current.stop !== null;
  }

  /** The work of one step at the current prompt (sequences generated, tokens, forward/backward rows). */
  projectedWork(): StepWork {
    const prefixes = prefixesOnly(this.context, this.current.prompt).prefixes;
    return projectStepWork(
      prefixes.map((layout) => layout.ids.length),
      this.config,
    );
  }

  async *[Symbol.asyncIterator](): AsyncIterator<GreaterEvent> {
    yield this.startEvent();
    while (!this.finished) yield await this.step();
  }

  /**
   * One GReaTer step at the current position. The state changes only when the step completes, so an abort
   * (OptimizationAbortedError) leaves it at the previous step.
   */
  async step(): Promise<StepEvent> {
    if (this.finished) throw new Error(`the run has already stopped (${this.current.stop})`);
    try {
      return await this.runStep();
    } catch (error) {
      if (this.options.signal?.aborted) throw new OptimizationAbortedError(this.state, error);
      throw error;
    }
  }

  /**
   * The result so far: after the run finished, or (partial, `stopReason` null) after an abort or between
   * steps. Dev accuracy comes from `options.evaluate` unless `evaluate: false`.
   * @throws when no step has completed yet.
   */
  async result(options: { evaluate?: boolean } = {}): Promise<GreaterResult> {
    const state = this.current;
    if (state.book.best === null) throw new Error("no step has completed yet, so there is no result");
    const best = state.book.best;
    const bestPrompt = { ids: best.ids, text: best.text };
    const evaluate = options.evaluate !== false ? this.evaluator : undefined;
    const devAccuracy = evaluate ? await evaluate(bestPrompt, this.options.signal) : null;
    return {
      bestPrompt,
      trainLoss: best.loss,
      bestStep: best.step,
      devAccuracy,
      topPrompts: state.book.topPrompts,
      history: state.history,
      finalPrompt: promptText(this.tokenizer, state.prompt),
      stepsDone: state.stepsDone,
      stopReason: state.stop,
      state: this.state,
    };
  }

  /** The phases of one step (0-6), then the state after it. */
  private async runStep(): Promise<StepEvent> {
    const { config, context, tokenizer } = this;
    const { prompt, position } = this.current;
    const rng = Mulberry32.fromState(this.current.rngState);
    const timings: StepTimings = { refresh: 0, proposal: 0, gradient: 0, ranking: 0, selection: 0, total: 0 };
    const stepStart = performance.now();
    const phase = async <T>(name: keyof StepTimings, run: () => Promise<T> | T): Promise<T> => {
      context.signal?.throwIfAborted();
      const start = performance.now();
      const value = await run();
      timings[name] = performance.now() - start;
      return value;
    };

    // 0. Reasoning refresh: the reasoning the gradient looks through is the model's own, under the prompt.
    const reasoning: ReasoningSet = await phase("refresh", async () =>
      config.reasoning ? (await generateReasoning(context, [prompt]))[0] : prefixesOnly(context, prompt),
    );

    // 1. Candidate proposal.
    const proposal = await phase("proposal", () => proposeCandidates(context, reasoning, position, rng));

    // 2. Gradient over reasoning (the random-ranking ablation does without it).
    const gradient = await phase("gradient", () =>
      config.ranking === "gradient" ? gradientOverReasoning(context, reasoning, position, proposal.candidates) : null,
    );

    // 3. Candidate ranking.
    const ranked = await phase("ranking", () =>
      gradient
        ? rankByGradient(proposal.candidates, gradient.summed, config.candidatesToScore)
        : rankRandomly(proposal.candidates, config.candidatesToScore, rng),
    );

    // 4. Selection by regenerated reasoning.
    const selection = await phase("selection", () => selectByRegeneratedReasoning(context, reasoning, position, ranked));
    context.signal?.throwIfAborted();

    // 5. Advance.
    const chosenPrompt = prompt.slice();
    chosenPrompt[position] = selection.chosen.token;
    const next = advancePosition(
      chosenPrompt,
      position,
      selection.chosen.text.includes(config.sentenceEnd),
      this.fillerToken(),
    );
    // A grown prompt is text the user turn tokenizes again (the filler may merge with its neighbour); like the
    // code, continue on that tokenization, one position back if the prompt got shorter than the position.
    const nextPrompt = canonicalPrompt(context, next.prompt);
    const nextPosition = Math.min(next.position, nextPrompt.length - 1);

    // 6. Bookkeeping.
    const stepIndex = this.current.stepsDone;
    const loss = selection.chosen.score;
    const book = recordStep(this.current.book, { ...promptText(tokenizer, chosenPrompt), loss, step: stepIndex }, config.topPromptsKept);
    timings.total = performance.now() - stepStart;

    const record = stepRecord(tokenizer, {
      step: stepIndex,
      position,
      proposal,
      gradient,
      ranked,
      selection,
      chosenPrompt,
      next: { position: nextPosition, wrapped: next.wrapped, grew: next.grew, retokenized: nextPrompt !== next.prompt },
      timings,
      splitSizes: context.splitter.current(),
    });
    this.current = {
      ...this.current,
      prompt: nextPrompt,
      position: nextPosition,
      stepsDone: stepIndex + 1,
      rngState: rng.getState(),
      book,
      history: [...this.current.history, record],
      splitSizes: record.splitSizes,
      stop: stopReason(book, loss, stepIndex + 1, config),
    };
    return stepEvent(this.current, record);
  }

  private startEvent(): StartEvent {
    return {
      type: "start",
      resumed: this.current.stepsDone > 0,
      stepsDone: this.current.stepsDone,
      position: this.current.position,
      prompt: promptText(this.tokenizer, this.current.prompt),
      trainExamples: this.task.train.length,
      projected: this.projectedWork(),
    };
  }

  private freshState(context: PromptPlacement): OptimizerState {
    const encoded = encodePrompt(this.tokenizer, this.config.initialPrompt, this.config.userTurnTemplate);
    if (encoded.length === 0) throw new Error(`config.initialPrompt ${JSON.stringify(this.config.initialPrompt)} has no tokens`);
    // The ids the user turn gives the prompt's text, so that every position addresses its own token.
    const initialPrompt = canonicalPrompt(context, encoded);
    return {
      format: STATE_FORMAT,
      version: STATE_VERSION,
      config: this.config,
      trainIds: this.task.train.map((example) => example.id),
      initialPrompt,
      prompt: initialPrompt.slice(),
      position: 0,
      stepsDone: 0,
      rngState: new Mulberry32(this.config.seed).getState(),
      book: emptyBookkeeping(),
      history: [],
      splitSizes: new RowSplitter(this.config.maxBatchRows).current(),
      stop: null,
    };
  }

  private checkResumable(saved: OptimizerState): OptimizerState {
    for (const field of Object.keys(this.config) as (keyof GreaterConfig)[]) {
      if (!RESUMABLE_CHANGES.has(field) && JSON.stringify(saved.config[field]) !== JSON.stringify(this.config[field])) {
        throw new Error(
          `cannot resume: config.${field} is ${JSON.stringify(this.config[field])} but the saved run used ` +
            `${JSON.stringify(saved.config[field])}`,
        );
      }
    }
    const trainIds = this.task.train.map((example) => example.id);
    if (JSON.stringify(trainIds) !== JSON.stringify(saved.trainIds)) {
      throw new Error("cannot resume: the task's train examples differ from the saved run's (ids or order)");
    }
    const state = cloneState(saved);
    state.config = this.config;
    // A larger step budget or patience reopens a run that stopped on them.
    if (state.stop !== null && state.history.length > 0) {
      const last = state.history[state.history.length - 1];
      state.stop = stopReason(state.book, last.loss, state.stepsDone, this.config);
    }
    return state;
  }

  private fillerToken(): number {
    const ids = this.tokenizer.encode(this.config.fillerText, { addSpecialTokens: false });
    if (ids.length === 0) throw new Error(`config.fillerText ${JSON.stringify(this.config.fillerText)} has no tokens`);
    return ids[ids.length - 1];
  }
}

/**
 * Runs GReaTer to the end and returns the best prompt, its train loss, dev accuracy (with an evaluator),
 * the top prompts and the per-step history. Every event goes to `options.onProgress`.
 * @throws OptimizationAbortedError when `options.signal` aborts; its `state` resumes the run.
 */
export async function optimize(
  model: LanguageModel,
  tokenizer: ModelTokenizer,
  task: OptimizationTask,
  config: Partial<GreaterConfig>,
  options: OptimizeOptions = {},
): Promise<GreaterResult> {
  const optimizer = new GreaterOptimizer(model, tokenizer, task, config, options);
  for await (const event of optimizer) options.onProgress?.(event);
  return optimizer.result();
}
