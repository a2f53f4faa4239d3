// Answer formats: the extractor text each one asks for, whether a gold answer fits it, how the gold is
// written after the extractor, and inferring a format from a file's gold answers.
import { canonicalNumber } from "./answers.js";
import type { AnswerFormat } from "./types.js";

/**
 * Which spelling of the extractors to use. "default" is the authors' run scripts for most models;
 * "gemma2" is their Gemma-2 launch script, which writes option letters with a space (`'$ A' or '$ B'`).
 */
export type ExtractorStyle = "default" | "gemma2";

/** The extractor style for a model's `model_type` (config.json): "gemma2" for Gemma-2, else "default". */
export function extractorStyleFor(modelType: string): ExtractorStyle {
  return modelType === "gemma2" ? "gemma2" : "default";
}

/** Letters A, B, … up to and including `last`. */
export function lettersThrough(last: string): string[] {
  const end = last.toUpperCase().charCodeAt(0);
  const letters: string[] = [];
  for (let code = "A".charCodeAt(0); code <= end; code++) letters.push(String.fromCharCode(code));
  return letters;
}

/**
 * The extractor text for an answer format, as the authors' run scripts write it, e.g.
 * `Therefore, the final answer (use exact format: '$A' or '$B') is $` for two option letters, or
 * `Therefore, the final answer (use exact format: '$ Yes' or '$ No') is $ ` for Yes/No.
 */
export function extractorFor(format: AnswerFormat, style: ExtractorStyle = "default"): string {
  switch (format.kind) {
    case "letters": {
      const quoted = format.letters.map((letter) => (style === "gemma2" ? `'$ ${letter}'` : `'$${letter}'`));
      return `Therefore, the final answer (use exact format: ${quoted.join(" or ")}) is $`;
    }
    case "choices": {
      const quoted = format.choices.map((choice) => `'$ ${choice}'`);
      return `Therefore, the final answer (use exact format: ${quoted.join(" or ")}) is $ `;
    }
    case "integer": {
      const range = format.signed ? "a positive or negative integer" : "a positive integer";
      return `Therefore, the final answer (use exactly this format: $NUMBER$, where NUMBER is ${range}) is $`;
    }
    case "number":
      return "Therefore, the final numerical answer is $ ";
    case "text":
      return "Therefore, the final answer is $ ";
  }
}

const LETTER_GOLD = /^\(([A-Za-z])\)$/;

/**
 * The gold answer as it follows the extractor, or null when `raw` does not fit the format:
 * letters lose their parentheses (`(B)` → `B`), choices take the extractor's spelling
 * (`yes` → `Yes` when the choices are `Yes`/`No`), numbers lose thousands commas (`1,000` → `1000`).
 * `question` lets a bare letter count as an option letter only when the question lists that option.
 */
export function goldFor(format: AnswerFormat, raw: string, question = ""): string | null {
  const text = raw.trim();
  switch (format.kind) {
    case "letters": {
      const bracketed = LETTER_GOLD.exec(text);
      if (bracketed) return bracketed[1].toUpperCase();
      if (/^[A-Za-z]$/.test(text) && optionLetters(question).includes(text.toUpperCase())) return text.toUpperCase();
      return null;
    }
    case "choices": {
      const choice = format.choices.find((candidate) => candidate.toLowerCase() === text.toLowerCase());
      return choice ?? null;
    }
    case "integer": {
      if (!/^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)$/.test(text)) return null;
      const value = canonicalNumber(text);
      return value !== null && (format.signed || !value.startsWith("-")) ? value : null;
    }
    case "number":
      return canonicalNumber(text);
    case "text":
      return text === "" ? null : text;
  }
}

/** The option letters a question lists as `(A) …` at the start of a line, in order. */
export function optionLetters(question: string): string[] {
  return [...question.matchAll(/^\(([A-Z])\)/gm)].map((match) => match[1]);
}

/** The options a question lists as `(A) text` lines, by letter. */
export function optionTexts(question: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const match of question.matchAll(/^\(([A-Z])\)[ \t]*(.*?)[ \t]*$/gm)) options.set(match[1], match[2]);
  return options;
}

// Word answers a BBH-style file may use, in the order an extractor lists them. Smaller vocabularies come
// first so that a True/False file is not taken for True/False/Uncertain.
const WORD_VOCABULARIES: string[][] = [
  ["yes", "no"],
  ["true", "false"],
  ["true", "false", "uncertain"],
  ["valid", "invalid"],
];

/** The inferred format of a file's gold answers, which answers do not fit it, and why it was chosen. */
export interface InferredFormat {
  format: AnswerFormat;
  /** Indices (into the golds given) of answers that do not fit the format. */
  misfits: number[];
  note: string;
}

// Left-out answers must stay rare for a format to be chosen: a file whose answers are 95 % letters and
// 5 % stray text (BBH movie_recommendation has one "Monsters, Inc") is a letters task with a few bad rows.
const MIN_FIT_FRACTION = 0.95;

/**
 * Infers the answer format from gold answers (and the questions' option lists): option letters (how many:
 * the highest letter among the golds and the questions' `(X)` options), yes/no (spelled as in the data),
 * True/False, True/False/Uncertain, valid/invalid, integers (signed when negatives occur), other numbers,
 * else free text. The closed format that the most answers fit wins (ties: the order just given) when at
 * least 95 % of the answers fit it; the rest are reported as misfits.
 */
export function inferAnswerFormat(golds: string[], questions: string[]): InferredFormat {
  const count = golds.length;
  const candidates: { format: AnswerFormat; label: string }[] = [];

  const letterGolds = golds.map((gold, index) => goldFor({ kind: "letters", letters: [] }, gold, questions[index] ?? ""));
  if (letterGolds.some((letter) => letter !== null)) {
    let highest = "A";
    for (const letter of letterGolds) if (letter !== null && letter > highest) highest = letter;
    for (const question of questions) for (const letter of optionLetters(question)) if (letter > highest) highest = letter;
    candidates.push({ format: { kind: "letters", letters: lettersThrough(highest) }, label: `option letters A–${highest}` });
  }
  for (const vocabulary of WORD_VOCABULARIES) {
    const spellings = spellingsInData(golds, vocabulary);
    candidates.push({ format: { kind: "choices", choices: spellings }, label: spellings.join("/") });
  }
  const signed = golds.some((gold) => /^\s*-\d/.test(gold));
  candidates.push({ format: { kind: "integer", signed }, label: signed ? "signed integers" : "non-negative integers" });
  candidates.push({ format: { kind: "number" }, label: "numbers" });

  let best: { format: AnswerFormat; label: string; misfits: number[] } | null = null;
  for (const { format, label } of candidates) {
    const misfits = golds.flatMap((gold, index) => (goldFor(format, gold, questions[index] ?? "") === null ? [index] : []));
    if (best === null || misfits.length < best.misfits.length) best = { format, label, misfits };
  }
  if (best !== null && count > 0 && count - best.misfits.length >= MIN_FIT_FRACTION * count) {
    const fitting = count - best.misfits.length;
    return { format: best.format, misfits: best.misfits, note: `inferred from the gold answers: ${fitting} of ${count} are ${best.label}` };
  }
  const misfits = golds.flatMap((gold, index) => (gold.trim() === "" ? [index] : []));
  return {
    format: { kind: "text" },
    misfits,
    note: `inferred from the gold answers: free text (no closed format fits 95 % of the ${count} answers)`,
  };
}

// For each word of a vocabulary, the spelling the data uses most ("Yes" in navigate, "yes" in
// sports_understanding). A word the data never uses follows the case of the words it does use.
function spellingsInData(golds: string[], vocabulary: string[]): string[] {
  const counts = new Map<string, Map<string, number>>();
  for (const gold of golds) {
    const text = gold.trim();
    const word = text.toLowerCase();
    if (!vocabulary.includes(word)) continue;
    const spellings = counts.get(word) ?? new Map<string, number>();
    spellings.set(text, (spellings.get(text) ?? 0) + 1);
    counts.set(word, spellings);
  }
  const commonest = (spellings: Map<string, number>): string =>
    [...spellings.entries()].reduce((best, entry) => (entry[1] > best[1] ? entry : best))[0];
  const seen = [...counts.values()].map(commonest);
  const caseOf = (spelling: string | undefined): ((word: string) => string) => {
    if (spelling !== undefined && spelling === spelling.toLowerCase()) return (word) => word;
    if (spelling !== undefined && spelling.length > 1 && spelling === spelling.toUpperCase()) return (word) => word.toUpperCase();
    return (word) => word[0].toUpperCase() + word.slice(1);
  };
  return vocabulary.map((word) => {
    const spellings = counts.get(word);
    return spellings ? commonest(spellings) : caseOf(seen[0])(word);
  });
}
