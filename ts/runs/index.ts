// The runs module: run folders written so that a killed process loses at most the step in flight.
export { readRun, RunFolderError, RunRecorder, RUN_FILES, type CreateRunOptions, type RunContents } from "./recorder.js";
export { toJsonText, writeFileAtomic } from "./durable.js";
export { fingerprintChanges, modelFingerprint } from "./model-fingerprint.js";
export {
  checkSameInputs,
  loadTaskFrom,
  prepareRun,
  resumeRun,
  runRecorded,
  SILENT_DISPLAY,
  splitSizes,
  startRun,
  type InlineExamples,
  type JobOptions,
  type ModelSource,
  type RunConfig,
  type RunDisplay,
  type RunHooks,
  type RunInputs,
  type RunResult,
  type RunState,
  type TaskSource,
} from "./run.js";
export { runPlotSpec, type PlottedEvent } from "./plot-spec.js";
