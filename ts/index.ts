// The public API of greater: what a user calls to optimize a prompt. The rest has its own entry point:
// `greater/engine` (every engine call and its types), `greater/text` (tokenizer, chat template, example layout),
// `greater/tasks` (loaders, presets, answers, evaluation), `greater/optimizer` (the loop's parts, configuration,
// events, state) and `greater/runs` (run folders).
export { engineInfo, setThreads, type EngineInfo } from "./engine/info.js";
export { loadModel, type Model } from "./engine/model.js";
export { EngineError, isOutOfMemory, type LoadOptions, type ModelInfo } from "./engine/types.js";
export { loadTokenizer, type HfModelTokenizer, type LoadTokenizerOptions } from "./text/tokenizer.js";
export { loadTask, type LoadTaskOptions } from "./tasks/load.js";
export { loadCustomTask, type CustomTaskOptions } from "./tasks/loaders.js";
export { evaluate, type EvaluateOptions, type EvaluationResult } from "./tasks/evaluate.js";
export type { Task } from "./tasks/types.js";
export { GreaterOptimizer, optimize, type GreaterResult, type OptimizeOptions } from "./optimizer/greater.js";
export type { GreaterConfig } from "./optimizer/config.js";
export type { GreaterEvent } from "./optimizer/events.js";
