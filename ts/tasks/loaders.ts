// The task loaders: BIG-Bench Hard (CSV or the original JSON), GSM8K (JSON lines), FOLIO (CSV) and custom
// JSON-lines / CSV files with a column mapping. Each reads its files into rows and hands them to
// assembleTask with the split the paper used.
import { createHash } from "node:crypto";
import { basename, extname } from "node:path";
import { assembleTask, type AssembleOptions, type FilePlan, type FormatChoice, type RawRow } from "./assemble.js";
import { readDataFile, sniffFormat, TaskFileError, type DataFile } from "./files.js";
import { optionTexts, type ExtractorStyle } from "./formats.js";
import { findPreset } from "./presets.js";
import { readBbhJsonRecords, readCsvRecords, readJsonLinesRecords, type FileRecords } from "./records.js";
import type { AnswerFormat, SplitName, Task, TaskIssue } from "./types.js";

/** Options every loader takes. */
export interface SplitOptions {
  /** Seed of the split shuffle (default 0). Recorded in `task.split`. */
  seed?: number;
  /** Split sizes. Defaults: BBH and custom single files 50 / 100 / rest; GSM8K 100 / 100 / test file;
   *  FOLIO the whole of each file. A test size draws that many from the test pool instead of all. */
  sizes?: { train?: number; dev?: number; test?: number };
  /** Spelling of letter extractors for a model family (see {@link extractorStyleFor}). */
  extractorStyle?: ExtractorStyle;
}

/** Options of {@link loadBbhTask}. */
export interface BbhTaskOptions extends SplitOptions {
  /** Task name; default `bbh:<file name without extension>`. A name with a preset uses it. */
  name?: string;
}

// BBH files: CSV `goal,target,final_target` (upstream calls them .json) or `{"examples":[{input,target}]}`.
const BBH_CSV_COLUMNS = ["goal", "target", "final_target"];

function fieldText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

// A one-line JSON object reads as one-row JSON lines too; for a BBH file it is a (bad) JSON document.
function isSingleJsonDocument(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function readBbhRows(file: DataFile): { rows: RawRow[]; issues: TaskIssue[] } {
  const format = sniffFormat(file.text);
  if (format === "jsonl" && !isSingleJsonDocument(file.text)) {
    throw new TaskFileError(file.path, "holds JSON lines; a BIG-Bench Hard file is CSV (goal,target,final_target) or JSON {\"examples\": [...]}");
  }
  if (format !== "csv") {
    const { records, issues } = readBbhJsonRecords(file);
    return { rows: records.map((record) => ({ question: fieldText(record.fields.input), answer: fieldText(record.fields.target), line: record.line })), issues };
  }
  const { records, issues } = readCsvRecords(file, BBH_CSV_COLUMNS);
  // final_target is the gold answer; target repeats it in the upstream files.
  return {
    rows: records.map((record) => ({ question: fieldText(record.fields.goal), answer: fieldText(record.fields.final_target), line: record.line })),
    issues,
  };
}

function stemOf(path: string): string {
  return basename(path, extname(path));
}

/**
 * Loads a BIG-Bench Hard task file, CSV `goal,target,final_target` (whatever its extension) or the original
 * JSON `{"examples": [{"input", "target"}]}`. The split is seeded: 50 train, 100 dev, the rest test.
 * A name with a preset (`bbh:navigate`) takes its extractor; any other file gets a format inferred from
 * its gold answers (see `task.formatNote`).
 */
export function loadBbhTask(path: string, options: BbhTaskOptions = {}): Task {
  const file = readDataFile(path);
  const { rows, issues } = readBbhRows(file);
  const name = options.name ?? `bbh:${stemOf(path)}`;
  const sizes = { train: options.sizes?.train ?? 50, dev: options.sizes?.dev ?? DEFAULT_POOL_DEV, test: options.sizes?.test };
  const formatChoice: FormatChoice = findPreset(name) ? { origin: "preset", presetName: name } : { origin: "inferred" };
  return assembleTask({
    name,
    plans: [poolPlan(file, rows, issues, sizes)],
    formatChoice,
    seed: options.seed,
    extractorStyle: options.extractorStyle,
    method: poolMethod(file, sizes),
  });
}

function poolMethod(file: DataFile, sizes: PoolSizes): string {
  const dev = typeof sizes.dev === "number" ? `${sizes.dev}` : `${sizes.dev.atMost} (half of what train leaves when fewer than ${sizes.dev.atMost + sizes.dev.leaveAtLeast} do)`;
  return `${basename(file.path)} shuffled: ${sizes.train} train, ${dev} dev, ${sizes.test ?? "the rest"} test`;
}

// The default dev split of a single file: 100, unless that would leave fewer than 20 for test; then half
// of what train leaves (BBH penguins_in_a_table: 146 rows → 50 / 48 / 48).
const DEFAULT_POOL_DEV = { atMost: 100, leaveAtLeast: 20 };

type PoolSizes = { train: number; dev: number | typeof DEFAULT_POOL_DEV; test?: number };

// One file dealt out in a seeded order to train, dev and test.
function poolPlan(file: DataFile, rows: RawRow[], readIssues: TaskIssue[], sizes: PoolSizes): FilePlan {
  return {
    file,
    rows,
    readIssues,
    shuffle: true,
    parts: [
      { split: "train", size: sizes.train },
      { split: "dev", size: sizes.dev },
      { split: "test", size: sizes.test ?? "rest" },
    ],
  };
}

// A whole file to one split (file order), or a seeded sample of it when a size is given.
function wholeFilePlan(file: DataFile, rows: RawRow[], readIssues: TaskIssue[], split: SplitName, size: number | undefined): FilePlan {
  return { file, rows, readIssues, shuffle: size !== undefined, parts: [{ split, size: size ?? "rest" }] };
}

// A train file dealt out, shuffled, to train and dev (GSM8K's train.jsonl; a custom task without a dev file).
function trainDevPlan(read: { file: DataFile; rows: RawRow[]; issues: TaskIssue[] }, trainSize: number, devSize: number): FilePlan {
  return {
    file: read.file,
    rows: read.rows,
    readIssues: read.issues,
    shuffle: true,
    parts: [
      { split: "train", size: trainSize },
      { split: "dev", size: devSize },
    ],
  };
}

/** Files of GSM8K: `train.jsonl` (train and dev are drawn from it) and `test.jsonl`. */
export interface Gsm8kFiles {
  train: string;
  test: string;
}

/** The number after `#### ` on the answer's last line, thousands commas removed; null when absent. */
export function gsm8kGold(answer: string): string | null {
  const match = /####\s*(.+?)\s*$/.exec(answer.trim());
  return match ? match[1].replace(/,/g, "") : null;
}

function readJsonLinesFile(file: DataFile, expected: string): FileRecords {
  const format = sniffFormat(file.text);
  if (format !== "jsonl") {
    throw new TaskFileError(file.path, `expected ${expected} as JSON lines, but the content is ${format === "csv" ? "CSV (or plain text)" : "a single JSON document"}`);
  }
  return readJsonLinesRecords(file);
}

function requireField(file: DataFile, records: FileRecords, field: string): void {
  if (records.records.length > 0 && !records.records.some((record) => field in record.fields)) {
    throw new TaskFileError(file.path, `no record has the field "${field}"`);
  }
}

function readGsm8kRows(path: string): { file: DataFile; rows: RawRow[]; issues: TaskIssue[] } {
  const file = readDataFile(path);
  const records = readJsonLinesFile(file, 'GSM8K records {"question", "answer"}');
  requireField(file, records, "question");
  requireField(file, records, "answer");
  const issues = [...records.issues];
  const rows: RawRow[] = [];
  for (const record of records.records) {
    const question = fieldText(record.fields.question);
    const solution = fieldText(record.fields.answer);
    const gold = solution === undefined ? null : gsm8kGold(solution);
    if (solution !== undefined && solution.trim() !== "" && gold === null && question?.trim()) {
      issues.push({ kind: "missing-answer", file: file.path, line: record.line, message: 'the answer has no "#### <number>" line' });
      continue;
    }
    rows.push({ question, answer: gold ?? undefined, line: record.line });
  }
  return { file, rows, issues };
}

/**
 * Loads GSM8K: train and dev (100 each by default) are a seeded draw from `train.jsonl`; test is all of
 * `test.jsonl` in file order. The gold answer is the number after `####`, commas removed.
 */
export function loadGsm8kTask(files: Gsm8kFiles, options: SplitOptions = {}): Task {
  const train = readGsm8kRows(files.train);
  const test = readGsm8kRows(files.test);
  const trainSize = options.sizes?.train ?? 100;
  const devSize = options.sizes?.dev ?? 100;
  return assembleTask({
    name: "gsm8k",
    plans: [
      trainDevPlan(train, trainSize, devSize),
      wholeFilePlan(test.file, test.rows, test.issues, "test", options.sizes?.test),
    ],
    formatChoice: { origin: "preset", presetName: "gsm8k" },
    seed: options.seed,
    extractorStyle: options.extractorStyle,
    method:
      `${basename(train.file.path)} shuffled: ${trainSize} train, ${devSize} dev; ` +
      `${basename(test.file.path)}: ${options.sizes?.test === undefined ? "all" : `${options.sizes.test} shuffled`} test`,
  });
}

/** Files of FOLIO: `train.csv`, `dev.csv`, `test.csv`, each `goal,target,final_target`. */
export interface FolioFiles {
  train: string;
  dev: string;
  test: string;
}

// FOLIO's upstream CSVs give the answer as an option letter of "(A) True (B) False (C) Uncertain"; the
// task asks for the word, so a letter is replaced by the option text the question lists for it.
function folioAnswer(question: string | undefined, raw: string | undefined): string | undefined {
  const letter = raw === undefined ? null : /^\(?([A-Z])\)?$/.exec(raw.trim());
  if (!letter || question === undefined) return raw;
  return optionTexts(question).get(letter[1]) ?? raw;
}

function readFolioRows(path: string): { file: DataFile; rows: RawRow[]; issues: TaskIssue[] } {
  const file = readDataFile(path);
  if (sniffFormat(file.text) !== "csv") throw new TaskFileError(file.path, "expected FOLIO CSV (goal,target,final_target), found JSON");
  const { records, issues } = readCsvRecords(file, BBH_CSV_COLUMNS);
  const rows = records.map((record) => {
    const question = fieldText(record.fields.goal);
    return { question, answer: folioAnswer(question, fieldText(record.fields.final_target)), line: record.line };
  });
  return { file, rows, issues };
}

/**
 * Loads FOLIO from its three files; each split is its whole file (or a seeded sample of the given size).
 * Answers are True / False / Uncertain (option letters in the files are mapped to those words).
 */
export function loadFolioTask(files: FolioFiles, options: SplitOptions = {}): Task {
  const parts = (["train", "dev", "test"] as const).map((split) => ({ split, ...readFolioRows(files[split]) }));
  return assembleTask({
    name: "folio",
    plans: parts.map((part) => wholeFilePlan(part.file, part.rows, part.issues, part.split, options.sizes?.[part.split])),
    formatChoice: { origin: "preset", presetName: "folio" },
    seed: options.seed,
    extractorStyle: options.extractorStyle,
    method: parts
      .map((part) => `${basename(part.file.path)}: ${options.sizes?.[part.split] === undefined ? "all" : `${options.sizes[part.split]} shuffled`} ${part.split}`)
      .join("; "),
  });
}

/** Which columns (CSV) or keys (JSON lines) hold the question and the gold answer. */
export interface ColumnMapping {
  question: string;
  answer: string;
}

/** Options of {@link loadCustomTask}. */
export interface CustomTaskOptions extends SplitOptions {
  name: string;
  /** One file, dealt out like BBH (50 train / 100 dev / rest test by default). */
  file?: string;
  /** Separate files: `train` alone is dealt out to train and dev; with `dev`, each file is its split. */
  files?: { train: string; dev?: string; test: string };
  /** Default: `question`/`answer` for JSON lines, `goal`/`final_target` for CSV. BBH JSON ignores it. */
  columns?: ColumnMapping;
  /** The answer format; inferred from the gold answers when absent. */
  format?: AnswerFormat;
  /** The extractor text; by default the format's. */
  extractor?: string;
  /** The normaliser; by default the format's. */
  normalise?: (answer: string) => string;
}

function readCustomRows(path: string, columns: ColumnMapping | undefined): { file: DataFile; rows: RawRow[]; issues: TaskIssue[] } {
  const file = readDataFile(path);
  const format = sniffFormat(file.text);
  if (format === "json") {
    const { rows, issues } = readBbhRows(file);
    return { file, rows, issues };
  }
  const mapping = columns ?? (format === "csv" ? { question: "goal", answer: "final_target" } : { question: "question", answer: "answer" });
  const records = format === "csv" ? readCsvRecords(file, [mapping.question, mapping.answer]) : readJsonLinesRecords(file);
  if (format === "jsonl") {
    requireField(file, records, mapping.question);
    requireField(file, records, mapping.answer);
  }
  const rows = records.records.map((record) => ({
    question: fieldText(record.fields[mapping.question]),
    answer: fieldText(record.fields[mapping.answer]),
    line: record.line,
  }));
  return { file, rows, issues: records.issues };
}

/**
 * Loads a task from the user's own JSON-lines or CSV file(s) (or BBH JSON), with a column mapping. The
 * extractor, format and normaliser are the caller's where given, else inferred from the gold answers.
 */
export function loadCustomTask(options: CustomTaskOptions): Task {
  const formatChoice: FormatChoice = { origin: "custom", format: options.format, extractor: options.extractor, normalise: options.normalise };
  const common = { name: options.name, formatChoice, seed: options.seed, extractorStyle: options.extractorStyle };
  if ((options.file === undefined) === (options.files === undefined)) {
    throw new Error(`custom task "${options.name}": give either "file" (one file to split) or "files" ({ train, dev?, test })`);
  }
  if (options.file !== undefined) {
    const { file, rows, issues } = readCustomRows(options.file, options.columns);
    const sizes = { train: options.sizes?.train ?? 50, dev: options.sizes?.dev ?? DEFAULT_POOL_DEV, test: options.sizes?.test };
    return assembleTask({
      ...common,
      plans: [poolPlan(file, rows, issues, sizes)],
      method: poolMethod(file, sizes),
    });
  }
  const files = options.files!;
  return taskFromSplitFiles(
    common,
    {
      train: readCustomRows(files.train, options.columns),
      dev: files.dev === undefined ? undefined : readCustomRows(files.dev, options.columns),
      test: readCustomRows(files.test, options.columns),
    },
    options.sizes,
    { train: 50, dev: () => 100 },
  );
}

interface ReadRows {
  file: DataFile;
  rows: RawRow[];
  issues: TaskIssue[];
}

// A task whose splits come from their own files (or inline lists): each file is its split, except that without a
// dev file the train file is dealt out, shuffled, to train and dev (`defaults` say how many when sizes do not).
function taskFromSplitFiles(
  common: Pick<AssembleOptions, "name" | "formatChoice" | "seed" | "extractorStyle">,
  parts: { train: ReadRows; dev?: ReadRows; test: ReadRows },
  sizes: SplitOptions["sizes"],
  defaults: { train: number; dev: (train: number) => number },
): Task {
  const { train, dev, test } = parts;
  const name = (read: ReadRows) => basename(read.file.path);
  const testPlan = wholeFilePlan(test.file, test.rows, test.issues, "test", sizes?.test);
  if (dev === undefined) {
    const trainSize = sizes?.train ?? defaults.train;
    const devSize = sizes?.dev ?? defaults.dev(trainSize);
    return assembleTask({
      ...common,
      plans: [trainDevPlan(train, trainSize, devSize), testPlan],
      method: `${name(train)} shuffled: ${trainSize} train, ${devSize} dev; ${name(test)}: test`,
    });
  }
  return assembleTask({
    ...common,
    plans: [
      wholeFilePlan(train.file, train.rows, train.issues, "train", sizes?.train),
      wholeFilePlan(dev.file, dev.rows, dev.issues, "dev", sizes?.dev),
      testPlan,
    ],
    method: `${name(train)}: train; ${name(dev)}: dev; ${name(test)}: test`,
  });
}

/** Options of {@link loadInlineTask}. */
export interface InlineTaskOptions extends SplitOptions {
  name: string;
  /** Question/answer pairs per split. Without `dev`, train is dealt out to train and dev like a custom file. */
  examples: {
    train: { question: string; answer: string }[];
    dev?: { question: string; answer: string }[];
    test: { question: string; answer: string }[];
  };
  /** The extractor text; by default the format's, inferred from the gold answers. */
  extractor?: string;
  format?: AnswerFormat;
}

// Examples given as data read as a JSON-lines file would be: the "file" is named `inline:<task>/<split>` and
// hashed like one, so the run records which examples it used.
function inlineRows(task: string, split: SplitName, examples: { question: string; answer: string }[]): ReadRows {
  const text = examples.map((e) => JSON.stringify({ question: e.question, answer: e.answer })).join("\n") + "\n";
  const bytes = Buffer.from(text, "utf8");
  const file: DataFile = { path: `inline:${task}/${split}`, sha256: createHash("sha256").update(bytes).digest("hex"), bytes, text, invalidUtf8Lines: [] };
  const rows = examples.map((e, index) => ({ question: typeof e.question === "string" ? e.question : undefined, answer: typeof e.answer === "string" ? e.answer : undefined, line: index + 1 }));
  return { file, rows, issues: [] };
}

/** Builds a task from examples given in memory (a queued job's inline task), split like {@link loadCustomTask}. */
export function loadInlineTask(options: InlineTaskOptions): Task {
  const formatChoice: FormatChoice = { origin: "custom", format: options.format, extractor: options.extractor };
  const common = { name: options.name, formatChoice, seed: options.seed, extractorStyle: options.extractorStyle };
  const { examples } = options;
  const n = examples.train.length;
  return taskFromSplitFiles(
    common,
    {
      train: inlineRows(options.name, "train", examples.train),
      dev: examples.dev === undefined ? undefined : inlineRows(options.name, "dev", examples.dev),
      test: inlineRows(options.name, "test", examples.test),
    },
    options.sizes,
    { train: Math.min(50, Math.ceil(n / 2)), dev: (train) => n - train },
  );
}
