// The tasks module: loaders, presets, answer normalisation, splits and evaluation.
export type {
  AnswerFormat,
  DataFileRecord,
  Example,
  ExampleSource,
  FormatOrigin,
  SplitName,
  SplitRecord,
  Task,
  TaskDescription,
  TaskIssue,
  TaskIssueKind,
} from "./types.js";
export { answersMatch, canonicalAnswer, canonicalNumber, firstNumber, leadingLetter, normaliserFor, statedChoice } from "./answers.js";
export { extractorFor, extractorStyleFor, goldFor, inferAnswerFormat, lettersThrough, type ExtractorStyle, type InferredFormat } from "./formats.js";
export { findPreset, presetNames, type TaskPreset } from "./presets.js";
export { seededRandom, seededShuffle, DEFAULT_SPLIT_SEED } from "./split.js";
export { readDataFile, sniffFormat, TaskFileError, type DataFile, type SniffedFormat } from "./files.js";
export { describeFormat } from "./assemble.js";
export {
  gsm8kGold,
  loadBbhTask,
  loadCustomTask,
  loadFolioTask,
  loadInlineTask,
  loadGsm8kTask,
  type BbhTaskOptions,
  type ColumnMapping,
  type CustomTaskOptions,
  type FolioFiles,
  type InlineTaskOptions,
  type Gsm8kFiles,
  type SplitOptions,
} from "./loaders.js";
export { loadTask, type LoadTaskOptions } from "./load.js";
export { describeTask } from "./describe.js";
export {
  evaluate,
  evaluateText,
  type EvaluateOptions,
  type EvaluationProgress,
  type EvaluationRecord,
  type EvaluationResult,
} from "./evaluate.js";
