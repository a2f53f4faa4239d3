// The complete optimizer state between two steps: JSON-able, so a run can be saved after any step and
// resumed later with exactly the same next steps (the random generator's state is part of it; everything
// else in a step is deterministic given the model).
import type { Bookkeeping, StopReason } from "./bookkeeping.js";
import { resolveConfig, type GreaterConfig } from "./config.js";
import type { StepRecord } from "./events.js";
import { ENGINE_CALL_KINDS, type SplitSizes } from "./row-splitter.js";

export const STATE_FORMAT = "greater-optimizer-state";
export const STATE_VERSION = 1;

export interface OptimizerState {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  /** The configuration the run was started with. */
  config: GreaterConfig;
  /** Ids of the train examples, in order (a resumed run must use the same ones). */
  trainIds: string[];
  /** The initial prompt's ids (its length decides where the early exit applies). */
  initialPrompt: number[];
  /** The prompt the next step starts from. */
  prompt: number[];
  /** The position the next step optimizes. */
  position: number;
  /** Steps completed. */
  stepsDone: number;
  /** The random generator's state after the last completed step. */
  rngState: number;
  /** Best prompt, top prompts, and the patience counter. */
  book: Bookkeeping;
  /** One record per completed step. */
  history: StepRecord[];
  /** Rows per engine call found by out-of-memory splits. */
  splitSizes: SplitSizes;
  /** Why the run ended; null while it can go on. */
  stop: StopReason | null;
}

/** A deep copy through JSON (what saving and loading would give). */
export function cloneState(state: OptimizerState): OptimizerState {
  return JSON.parse(JSON.stringify(state)) as OptimizerState;
}

/** Thrown for a saved state that is not one; the message names the field. */
export class OptimizerStateError extends Error {
  constructor(field: string, message: string) {
    super(`optimizer state: ${field} ${message}`);
    this.name = "OptimizerStateError";
  }
}

/**
 * Checks a parsed JSON value and returns it as an OptimizerState.
 * @throws OptimizerStateError naming the first field at fault.
 */
export function parseState(value: unknown): OptimizerState {
  const state = record(value, "(root)");
  if (state.format !== STATE_FORMAT) throw new OptimizerStateError("format", `must be "${STATE_FORMAT}"`);
  if (state.version !== STATE_VERSION) {
    throw new OptimizerStateError("version", `${String(state.version)} is not supported (expected ${STATE_VERSION})`);
  }
  let config: GreaterConfig;
  try {
    config = resolveConfig(record(state.config, "config") as Partial<GreaterConfig>);
  } catch (error) {
    throw new OptimizerStateError("config", `is invalid: ${(error as Error).message}`);
  }
  const trainIds = array(state.trainIds, "trainIds").map((id, i) => {
    if (typeof id !== "string") throw new OptimizerStateError(`trainIds[${i}]`, "must be a string");
    return id;
  });
  const initialPrompt = tokenIds(state.initialPrompt, "initialPrompt");
  const prompt = tokenIds(state.prompt, "prompt");
  if (prompt.length === 0) throw new OptimizerStateError("prompt", "must not be empty");
  const position = integer(state.position, "position", 0);
  if (position >= prompt.length) {
    throw new OptimizerStateError("position", `${position} lies past the prompt's ${prompt.length} tokens`);
  }
  const stepsDone = integer(state.stepsDone, "stepsDone", 0);
  const rngState = integer(state.rngState, "rngState", 0);
  if (rngState > 0xffffffff) throw new OptimizerStateError("rngState", "must fit in 32 bits");
  const book = record(state.book, "book");
  array(book.topPrompts, "book.topPrompts");
  integer(book.stepsSinceImprovement, "book.stepsSinceImprovement", 0);
  if (book.best !== null) record(book.best, "book.best");
  const history = array(state.history, "history");
  if (history.length !== stepsDone) {
    throw new OptimizerStateError("history", `holds ${history.length} steps but stepsDone is ${stepsDone}`);
  }
  const splits = record(state.splitSizes, "splitSizes");
  for (const kind of ENGINE_CALL_KINDS) {
    if (splits[kind] !== null) integer(splits[kind], `splitSizes.${kind}`, 1);
  }
  const stop = state.stop;
  if (stop !== null && stop !== "steps" && stop !== "threshold" && stop !== "patience") {
    throw new OptimizerStateError("stop", `must be null, "steps", "threshold" or "patience"`);
  }
  return { ...(state as unknown as OptimizerState), config, trainIds, initialPrompt, prompt, position, stepsDone, rngState };
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new OptimizerStateError(field, "must be an object");
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new OptimizerStateError(field, "must be an array");
  return value;
}

function integer(value: unknown, field: string, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new OptimizerStateError(field, `must be an integer ≥ ${min} (got ${JSON.stringify(value)})`);
  }
  return value;
}

function tokenIds(value: unknown, field: string): number[] {
  return array(value, field).map((id, i) => integer(id, `${field}[${i}]`, 0));
}
