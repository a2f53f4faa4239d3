// The shapes of tasks, examples and splits shared by the loaders, the presets and the evaluation.

/** Where an example came from: the file and the 1-based line where its record starts. */
export interface ExampleSource {
  file: string;
  line: number;
}

/** One question with its gold answer. */
export interface Example {
  /** Stable id, `<file name>:<line>`, unique within a task. */
  id: string;
  question: string;
  /**
   * The gold answer exactly as the optimizer appends it after the extractor: `B` for `(B)` with the
   * `$A`-style extractors, `Yes`, `24`. It never carries the space that `'$ Yes'`-style extractors end with.
   */
  answer: string;
  source: ExampleSource;
}

/**
 * The kind of answer a task expects; it decides the extractor text and the normaliser.
 * - letters: an option letter, written without parentheses. `letters` are those the extractor lists
 *   (a gold letter outside them is still accepted: the authors' geometric_shapes extractor stops at J
 *   while some gold answers are K).
 * - choices: one of a few words, spelled as the extractor asks (`Yes`/`No`, `yes`/`no`, `valid`/`invalid`).
 * - integer: a whole number; `signed` when negative answers occur.
 * - number: any number (GSM8K), compared numerically.
 * - text: free text, compared after normalisation.
 */
export type AnswerFormat =
  | { kind: "letters"; letters: string[] }
  | { kind: "choices"; choices: string[] }
  | { kind: "integer"; signed: boolean }
  | { kind: "number" }
  | { kind: "text" };

/** How a task's extractor and normaliser were chosen. */
export type FormatOrigin = "preset" | "inferred" | "custom";

/** A data file a task was read from, with its content hash (so a run can prove it used the same data). */
export interface DataFileRecord {
  path: string;
  sha256: string;
}

/** Everything needed to redo a task's split: the shuffle seed, the sizes, and the files with their hashes. */
export interface SplitRecord {
  seed: number;
  sizes: { train: number; dev: number; test: number };
  files: DataFileRecord[];
  /** In words: which file each split was drawn from and how, e.g. "train.jsonl shuffled: 100 train, 100 dev". */
  method: string;
}

/** What was wrong with a row that was left out of the task. */
export type TaskIssueKind =
  | "missing-answer"
  | "empty-question"
  | "duplicate-question"
  | "answer-format"
  | "invalid-record"
  | "invalid-utf8";

/** A row left out of the task (or, for "invalid-utf8", kept with replaced bytes), with the file and line where it is. */
export interface TaskIssue {
  kind: TaskIssueKind;
  file: string;
  line: number;
  message: string;
}

/** A task ready for optimization and evaluation. */
export interface Task {
  /** e.g. `bbh:navigate`, `gsm8k`, `folio`, or a custom name. */
  name: string;
  /** The text appended after the reasoning (joined to it by one space) that makes the model state the answer. */
  extractor: string;
  /** Maps an answer text (gold or generated) to its canonical comparison form. */
  normalise(answer: string): string;
  format: AnswerFormat;
  formatOrigin: FormatOrigin;
  /** A sentence saying how the answer format was chosen (for inferred formats: from what evidence). */
  formatNote: string;
  train: Example[];
  dev: Example[];
  test: Example[];
  split: SplitRecord;
  /** Rows left out while loading (bad or duplicate rows), in file order. */
  issues: TaskIssue[];
}

/** The JSON-able description of a task, for run configs and for showing the user what was chosen. */
export interface TaskDescription {
  name: string;
  extractor: string;
  format: AnswerFormat;
  formatOrigin: FormatOrigin;
  /** A sentence saying how the answer format was chosen (for inferred formats: from what evidence). */
  formatNote: string;
  split: SplitRecord;
  issues: TaskIssue[];
}

/** The three splits' names. */
export type SplitName = "train" | "dev" | "test";
