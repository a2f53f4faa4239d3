// From rows read out of data files to a Task: leave out bad rows (reported with file and line), settle the
// answer format (preset, custom or inferred from the golds), write each gold as it follows the extractor,
// and draw the seeded train/dev/test split.
import { basename } from "node:path";
import { normaliserFor } from "./answers.js";
import { TaskFileError, type DataFile } from "./files.js";
import { extractorFor, goldFor, inferAnswerFormat, type ExtractorStyle } from "./formats.js";
import { findPreset } from "./presets.js";
import { DEFAULT_SPLIT_SEED, seededShuffle } from "./split.js";
import type { AnswerFormat, Example, FormatOrigin, SplitName, Task, TaskIssue } from "./types.js";

/** A row as a loader read it: question and raw gold answer (undefined when absent), and where it starts. */
export interface RawRow {
  question: string | undefined;
  answer: string | undefined;
  line: number;
}

/**
 * How one file's usable examples are dealt out to the splits, in order: a number takes that many, "rest"
 * takes what is left, `{ atMost: n, leaveAtLeast: m }` takes n when at least m remain after it, else half of
 * what is left (so a small file, such as BBH penguins_in_a_table with 146 rows, still leaves a test split).
 * `shuffle` deals them in a seeded random order instead of file order.
 */
export type PartSize = number | "rest" | { atMost: number; leaveAtLeast: number };

export interface FilePlan {
  file: DataFile;
  rows: RawRow[];
  /** Issues found while reading the file (rows that could not be read at all). */
  readIssues: TaskIssue[];
  parts: { split: SplitName; size: PartSize }[];
  shuffle: boolean;
}

/** Where a task's answer format, extractor and normaliser come from. */
export type FormatChoice =
  | { origin: "preset"; presetName: string }
  | { origin: "custom"; format?: AnswerFormat; extractor?: string; normalise?: (answer: string) => string }
  | { origin: "inferred" };

export interface AssembleOptions {
  name: string;
  plans: FilePlan[];
  formatChoice: FormatChoice;
  seed?: number;
  extractorStyle?: ExtractorStyle;
  /** Said in the split record: how the splits were drawn. */
  method: string;
}

interface Candidate {
  plan: FilePlan;
  question: string;
  rawAnswer: string;
  line: number;
}

/** Builds a task from its files' rows. Throws a {@link TaskFileError} when a file has too few usable rows. */
export function assembleTask(options: AssembleOptions): Task {
  const seed = options.seed ?? DEFAULT_SPLIT_SEED;
  const issues: TaskIssue[] = options.plans.flatMap((plan) => plan.readIssues);
  // Bytes that are not UTF-8 were read as U+FFFD: the row is kept, and the user told which line it was.
  for (const file of new Map(options.plans.map((plan) => [plan.file.path, plan.file])).values()) {
    for (const line of file.invalidUtf8Lines) {
      issues.push({ kind: "invalid-utf8", file: file.path, line, message: "holds bytes that are not UTF-8; they were read as U+FFFD (\uFFFD)" });
    }
  }
  const candidates = dropDuplicates(usableRows(options.plans, issues), issues);

  const settled = settleFormat(options, candidates);
  const examplesByPlan = new Map<FilePlan, Example[]>(options.plans.map((plan) => [plan, []]));
  candidates.forEach((candidate, index) => {
    const answer = settled.misfits.has(index) ? null : goldFor(settled.format, candidate.rawAnswer, candidate.question);
    if (answer === null) {
      issues.push({
        kind: "answer-format",
        file: candidate.plan.file.path,
        line: candidate.line,
        message: `the answer "${candidate.rawAnswer}" does not fit the task's format (${describeFormat(settled.format)})`,
      });
      return;
    }
    examplesByPlan.get(candidate.plan)!.push({
      id: `${basename(candidate.plan.file.path)}:${candidate.line}`,
      question: candidate.question,
      answer,
      source: { file: candidate.plan.file.path, line: candidate.line },
    });
  });

  const splits: Record<SplitName, Example[]> = { train: [], dev: [], test: [] };
  for (const plan of options.plans) dealOut(plan, examplesByPlan.get(plan)!, seed, splits);

  const fileOrder = new Map(options.plans.map((plan, index) => [plan.file.path, index]));
  issues.sort((a, b) => fileOrder.get(a.file)! - fileOrder.get(b.file)! || a.line - b.line);
  return {
    name: options.name,
    extractor: settled.extractor,
    normalise: settled.normalise,
    format: settled.format,
    formatOrigin: settled.origin,
    formatNote: settled.note,
    train: splits.train,
    dev: splits.dev,
    test: splits.test,
    split: {
      seed,
      sizes: { train: splits.train.length, dev: splits.dev.length, test: splits.test.length },
      files: options.plans.map((plan) => ({ path: plan.file.path, sha256: plan.file.sha256 })),
      method: options.method,
    },
    issues,
  };
}

// Rows with a question and an answer; the others become issues.
function usableRows(plans: FilePlan[], issues: TaskIssue[]): Candidate[] {
  const candidates: Candidate[] = [];
  for (const plan of plans) {
    for (const row of plan.rows) {
      const question = row.question?.trim() ?? "";
      const rawAnswer = row.answer?.trim() ?? "";
      if (question === "") {
        issues.push({ kind: "empty-question", file: plan.file.path, line: row.line, message: "the question is empty" });
      } else if (rawAnswer === "") {
        issues.push({ kind: "missing-answer", file: plan.file.path, line: row.line, message: "the answer is missing" });
      } else {
        candidates.push({ plan, question, rawAnswer, line: row.line });
      }
    }
  }
  return candidates;
}

// A question asked twice would leak between splits (or weigh double). When the copies agree, the one
// kept is in the file dealt out last (the test file when a task has one, so a standard test set stays
// whole), else the first in the file. When their answers disagree, no copy can be trusted: all are left out.
function dropDuplicates(candidates: Candidate[], issues: TaskIssue[]): Candidate[] {
  const planRank = new Map<FilePlan, number>();
  for (const candidate of candidates) if (!planRank.has(candidate.plan)) planRank.set(candidate.plan, planRank.size);
  const byPriority = [...candidates].sort((a, b) => planRank.get(b.plan)! - planRank.get(a.plan)! || a.line - b.line);
  const copies = new Map<string, Candidate[]>();
  for (const candidate of byPriority) {
    const group = copies.get(candidate.question) ?? [];
    group.push(candidate);
    copies.set(candidate.question, group);
  }
  const dropped = new Set<Candidate>();
  const where = (candidate: Candidate) => `${basename(candidate.plan.file.path)} line ${candidate.line}`;
  for (const group of copies.values()) {
    if (group.length === 1) continue;
    const [first, ...others] = group;
    const conflicting = others.some((other) => other.rawAnswer !== first.rawAnswer);
    for (const candidate of conflicting ? group : others) {
      dropped.add(candidate);
      const elsewhere = group.filter((other) => other !== candidate).map(where).join(", ");
      issues.push({
        kind: "duplicate-question",
        file: candidate.plan.file.path,
        line: candidate.line,
        message: conflicting
          ? `the same question as ${elsewhere} with a different answer ("${candidate.rawAnswer}" here); all copies left out`
          : `the same question and answer as ${where(first)}, which is kept`,
      });
    }
  }
  return candidates.filter((candidate) => !dropped.has(candidate));
}

interface SettledFormat {
  format: AnswerFormat;
  origin: FormatOrigin;
  extractor: string;
  normalise: (answer: string) => string;
  note: string;
  /** Candidate indices whose answers the inference found not to fit. */
  misfits: Set<number>;
}

function settleFormat(options: AssembleOptions, candidates: Candidate[]): SettledFormat {
  const choice = options.formatChoice;
  const style = options.extractorStyle ?? "default";
  if (choice.origin === "preset") {
    const preset = findPreset(choice.presetName);
    if (preset === undefined) throw new Error(`no built-in task named "${choice.presetName}"`);
    const styleNote = style === "default" ? "" : ` (${style} spelling)`;
    return {
      format: preset.format,
      origin: "preset",
      extractor: preset.extractor(style),
      normalise: normaliserFor(preset.format),
      note: `the built-in preset for ${preset.name}${styleNote}`,
      misfits: new Set(),
    };
  }
  // Inferred, or the caller's where given (a custom task may give any of format, extractor, normaliser).
  const custom: { format?: AnswerFormat; extractor?: string; normalise?: (answer: string) => string } = choice.origin === "custom" ? choice : {};
  const inferred =
    custom.format === undefined
      ? inferAnswerFormat(
          candidates.map((candidate) => candidate.rawAnswer),
          candidates.map((candidate) => candidate.question),
        )
      : null;
  const format = custom.format ?? inferred!.format;
  const given = [
    custom.format !== undefined && "format",
    custom.extractor !== undefined && "extractor",
    custom.normalise !== undefined && "normaliser",
  ].filter((name): name is string => typeof name === "string");
  const inferredNote = inferred === null ? "" : inferred.note;
  return {
    format,
    origin: given.length > 0 ? "custom" : "inferred",
    extractor: custom.extractor ?? extractorFor(format, style),
    normalise: custom.normalise ?? normaliserFor(format),
    note: given.length > 0 ? `given by the caller: ${given.join(", ")}${inferred === null ? "" : `; format ${inferredNote}`}` : inferredNote,
    misfits: new Set(inferred?.misfits ?? []),
  };
}

/** A few words naming an answer format, e.g. "option letters A–E", "Yes/No", "signed integers". */
export function describeFormat(format: AnswerFormat): string {
  switch (format.kind) {
    case "letters":
      return format.letters.length > 0 ? `option letters A–${format.letters[format.letters.length - 1]}` : "option letters";
    case "choices":
      return format.choices.join("/");
    case "integer":
      return format.signed ? "signed integers" : "non-negative integers";
    case "number":
      return "numbers";
    case "text":
      return "free text";
  }
}

function dealOut(plan: FilePlan, examples: Example[], seed: number, splits: Record<SplitName, Example[]>): void {
  const ordered = plan.shuffle ? seededShuffle(examples, seed) : examples;
  const fixedTotal = plan.parts.reduce((sum, part) => sum + (typeof part.size === "number" ? part.size : 0), 0);
  const flexibleParts = plan.parts.filter((part) => typeof part.size !== "number").length;
  if (ordered.length < fixedTotal + flexibleParts) {
    const wanted = plan.parts.map((part) => `${part.split} ${typeof part.size === "number" ? part.size : "at least 1"}`).join(" + ");
    throw new TaskFileError(plan.file.path, `has ${ordered.length} usable examples, too few for the split (${wanted})`);
  }
  let next = 0;
  for (const part of plan.parts) {
    const left = ordered.length - next;
    const count =
      part.size === "rest"
        ? left
        : typeof part.size === "number"
          ? part.size
          : left - part.size.atMost >= part.size.leaveAtLeast
            ? part.size.atMost
            : Math.floor(left / 2);
    splits[part.split].push(...ordered.slice(next, next + count));
    next += count;
  }
}
