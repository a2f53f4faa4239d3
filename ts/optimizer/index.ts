// The optimizer's public API: the GReaTer loop, its configuration, events, state and result.
export {
  GreaterOptimizer,
  OptimizationAbortedError,
  optimize,
  type GreaterResult,
  type OptimizeOptions,
  type TextFunctions,
} from "./greater.js";
export {
  evaluationsOf,
  gcgSearch,
  greaterWithoutFluency,
  initialPrompt,
  METHOD_CONFIG,
  METHOD_LABELS,
  METHODS,
  randomSearch,
  runMethod,
  type Method,
  type MethodOptions,
  type MethodRun,
  type SearchMethod,
} from "./baselines.js";
export { devEvaluator, type PromptEvaluator } from "./evaluation.js";
export {
  DEFAULT_CONFIG,
  GreaterConfigError,
  resolveConfig,
  type CandidateFilterRule,
  type CandidateRanking,
  type GreaterConfig,
} from "./config.js";
export type {
  CandidateGradient,
  Eta,
  GreaterEvent,
  PromptText,
  StartEvent,
  StepEvent,
  StepRecord,
  StepTimings,
  TokenText,
} from "./events.js";
export type { OptimizationTask, TrainingExample, LayoutExample } from "./context.js";
export type { ScoredPrompt, StopReason, Bookkeeping } from "./bookkeeping.js";
export type { ScoredCandidate, PromptScore } from "./selection.js";
export type { StepWork } from "./workload.js";
export type { EngineCallKind, SplitSizes } from "./row-splitter.js";
export { OptimizerStateError, parseState, STATE_FORMAT, STATE_VERSION, type OptimizerState } from "./state.js";
export { Mulberry32 } from "./prng.js";
