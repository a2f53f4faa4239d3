// Answer normalisation: turning a gold answer or a generated answer text into one canonical form, so
// that `(A)` ≡ `A`, case does not matter, surrounding `$`, spaces and punctuation are ignored, and numbers
// compare as numbers ("24.0" = "24", "1,000" = "1000"). All functions here are pure.
import type { AnswerFormat } from "./types.js";

// Characters a model wraps answers in: `$B$`, `(B)`, `'$ Yes'`, `**Yes**`, `"24".`
// (A leading "-" or "." is kept: it may belong to a number, "-5", ".5".)
const SURROUNDING_NOISE = /^[\s$'"`*()[\]{}<>,;:!?_~]+|[\s$'"`*()[\]{}<>.,;:!?_~]+$/g;

// A number as a model or a dataset writes it: optional sign, digits with optional thousands commas, an
// optional fraction. "1,000" and "1000.50" match; "3, 4" matches only "3".
const NUMBER_PATTERN = /[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+/;
const WHOLE_NUMBER = new RegExp(`^(?:${NUMBER_PATTERN.source})$`);

/**
 * Canonical decimal form of a number written as text: commas, a leading `+`, leading zeros and trailing
 * fraction zeros removed, so equal numbers give equal strings ("1,000.50" → "1000.5", "-0" → "0",
 * "24.0" → "24"). Works on the digits, not on floats, so large integers stay exact.
 * Returns null when `text` is not a number.
 */
export function canonicalNumber(text: string): string | null {
  const trimmed = text.trim();
  if (!WHOLE_NUMBER.test(trimmed)) return null;
  let digits = trimmed.replace(/,/g, "");
  let negative = false;
  if (digits.startsWith("+") || digits.startsWith("-")) {
    negative = digits.startsWith("-");
    digits = digits.slice(1);
  }
  let [whole, fraction = ""] = digits.split(".");
  whole = whole.replace(/^0+/, "") || "0";
  fraction = fraction.replace(/0+$/, "");
  const magnitude = fraction ? `${whole}.${fraction}` : whole;
  return negative && magnitude !== "0" ? `-${magnitude}` : magnitude;
}

/** The first number in `text` (in canonical form), or null when there is none. */
export function firstNumber(text: string): string | null {
  // U+2212 (minus sign) is what some tokenizers decode "−5" to.
  const match = NUMBER_PATTERN.exec(text.replace(/\u2212/g, "-"));
  return match ? canonicalNumber(match[0]) : null;
}

/**
 * The format-independent canonical form of an answer: surrounding `$`, spaces and punctuation stripped,
 * `(A)` → `a`, numbers in canonical form, everything lower case, inner whitespace collapsed.
 */
export function canonicalAnswer(text: string): string {
  const stripped = text.replace(SURROUNDING_NOISE, "");
  const asNumber = canonicalNumber(stripped);
  if (asNumber !== null) return asNumber;
  return stripped.replace(/\s+/g, " ").toLowerCase();
}

/** True when two answers are equal after {@link canonicalAnswer}, and not empty. */
export function answersMatch(a: string, b: string): boolean {
  const left = canonicalAnswer(a);
  return left !== "" && left === canonicalAnswer(b);
}

// Strips what precedes an answer's first character: spaces, `$`, quotes, an opening parenthesis, bold marks.
function stripLeadingNoise(text: string): string {
  return text.replace(/^[\s$'"`*([{<]+/, "");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The option letter a text starts with (`B`, `(B)`, `$B$`, `B) because`), lower case; null if none. */
export function leadingLetter(text: string): string | null {
  const match = /^([A-Za-z])(?![A-Za-z])/.exec(stripLeadingNoise(text));
  return match ? match[1].toLowerCase() : null;
}

/**
 * The choice a text states, lower case: the choice it starts with, else the earliest whole-word
 * occurrence of any choice ("The answer is Yes" → "yes"); null if it names none.
 */
export function statedChoice(text: string, choices: string[]): string | null {
  const lowered = stripLeadingNoise(text).toLowerCase();
  let best: { at: number; choice: string } | null = null;
  for (const choice of choices) {
    const pattern = new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(choice.toLowerCase())}(?![A-Za-z0-9])`);
    const match = pattern.exec(lowered);
    if (match && (best === null || match.index < best.at)) best = { at: match.index, choice: choice.toLowerCase() };
  }
  return best ? best.choice : null;
}

/**
 * The normaliser of an answer format: maps a gold answer or the model's raw answer text (what it
 * generated after the extractor, up to the first newline) to a canonical string; two answers agree when
 * their canonical strings are equal and not empty.
 * - letters: the letter the text starts with (`B`, `(B)`, `$B$`) → `b`
 * - choices: the stated choice → lower case (`$ Yes.` → `yes`)
 * - integer, number: the first number → canonical decimal (`$1,000$` → `1000`, `24.0` → `24`)
 * - text: the text up to a closing `$`, then {@link canonicalAnswer}
 * When the expected shape is absent, the whole text's {@link canonicalAnswer} is returned, so a wrong or
 * malformed answer still shows what the model said.
 */
export function normaliserFor(format: AnswerFormat): (answer: string) => string {
  switch (format.kind) {
    case "letters":
      return (answer) => leadingLetter(answer) ?? canonicalAnswer(answer);
    case "choices":
      return (answer) => statedChoice(answer, format.choices) ?? canonicalAnswer(answer);
    case "integer":
    case "number":
      return (answer) => firstNumber(answer) ?? canonicalAnswer(answer);
    case "text":
      return (answer) => canonicalAnswer(upToClosingDollar(answer));
  }
}

// "Monsters, Inc$. Because" → "Monsters, Inc": a `$`-style extractor's answer ends at the next `$`.
function upToClosingDollar(text: string): string {
  const body = text.replace(/^[\s$]+/, "");
  const end = body.indexOf("$");
  return end === -1 ? body : body.slice(0, end);
}
