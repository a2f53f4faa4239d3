// Where a character position of a text falls among the text's tokens: the piece that turns character spans of the
// parts of an example (question, prompt, answer, ...) into token spans, and detects tokens that merge two parts.
import type { ModelTokenizer } from "./types.js";

export interface TokenBoundary {
  /** Number of tokens that lie wholly before the character position. */
  index: number;
  /** True where the token at `index` starts before the position and ends after it (a merge across it). */
  straddles: boolean;
}

/** Error raised when the tokenizer does not give back the text it tokenized, so positions cannot be matched. */
export class LayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LayoutError";
  }
}

/**
 * Checks that `ids` (the tokenization of `text`) decode back to `text`; character positions map to tokens only then.
 * One difference is allowed: a space the tokenizer adds right after a special token. SentencePiece tokenizers in the
 * legacy layout (Llama 2's, Mistral's) start every text segment between special tokens with "▁", so
 * "<s>[INST] Hi" encodes as <s> "▁[" "INST" "]" "▁Hi" (as transformers encodes it too) and decodes as
 * "<s> [INST] Hi".
 * @param what names the text in the error message
 */
export function assertDecodesTo(tokenizer: ModelTokenizer, text: string, ids: number[], what: string): void {
  const decoded = tokenizer.decode(ids);
  if (decoded === text) return;
  const aligned = alignDecoded(tokenizer, decoded, text);
  if (aligned.decoded === decoded.length && aligned.text === text.length) return;
  const at = aligned.text;
  throw new LayoutError(
    `the tokenizer does not reproduce ${what}: decode(encode(text)) differs at character ${at} ` +
      `(${JSON.stringify(text.slice(at, at + 12))} became ${JSON.stringify(decoded.slice(aligned.decoded, aligned.decoded + 12))}); ` +
      `a normalizer changes it (normalize the input, e.g. to NFC) or the tokenizer adds text`,
  );
}

const specialTextsOf = new WeakMap<ModelTokenizer, string[]>();

/** The texts of the tokenizer's special tokens (e.g. "<s>", "</s>"), as decode gives them. */
function specialTexts(tokenizer: ModelTokenizer): string[] {
  let texts = specialTextsOf.get(tokenizer);
  if (texts === undefined) {
    texts = [...tokenizer.specialTokenIds].map((id) => tokenizer.decode([id])).filter((t) => t.length > 0);
    specialTextsOf.set(tokenizer, texts);
  }
  return texts;
}

/**
 * Walks `decoded` (a decode of some ids) along `text`, skipping the spaces the tokenizer adds right after special
 * tokens, for as long as they agree. Returns how far each got: both at their ends means decoded is text but for
 * such spaces; `text` is then the number of text characters that decoded covers.
 */
export function alignDecoded(tokenizer: ModelTokenizer, decoded: string, text: string): { decoded: number; text: number } {
  let i = 0;
  let j = 0;
  let specials: string[] | null = null;
  while (i < decoded.length) {
    const added = decoded[i] === " " && (text[j] !== " " || decoded[i + 1] === " ") && i > 0 &&
      (specials ??= specialTexts(tokenizer)).some((special) => decoded.endsWith(special, i));
    if (added) i++;
    else if (j < text.length && decoded[i] === text[j]) {
      i++;
      j++;
    } else break;
  }
  return { decoded: i, text: j };
}

/**
 * The token boundary at character `position` of `text`, given `ids` = tokenizer.encode(text) (which must decode back
 * to `text`). Fast path: the tokens of the text before the position, encoded alone, begin `ids` (the usual case).
 * Otherwise the tokens are walked by decoded length near where the two tokenizations part.
 */
export function tokenBoundary(tokenizer: ModelTokenizer, text: string, ids: number[], position: number): TokenBoundary {
  if (position <= 0) return { index: 0, straddles: false };
  if (position >= text.length) return { index: ids.length, straddles: false };
  const before = tokenizer.encode(text.slice(0, position));
  const common = commonPrefixLength(before, ids);
  if (common === before.length) return { index: common, straddles: false };

  // Back off one token: the last common token may end inside a multi-byte character. Lengths are counted in text
  // characters (spaces the tokenizer adds after special tokens are not in the text).
  const covered = (count: number) => {
    const decoded = tokenizer.decode(ids.slice(0, count));
    const aligned = alignDecoded(tokenizer, decoded, text);
    return aligned.decoded === decoded.length ? aligned.text : Number.POSITIVE_INFINITY;
  };
  let index = Math.max(0, common - 1);
  while (index > 0 && covered(index) > position) index--;
  while (index < ids.length && covered(index + 1) <= position) index++;
  const straddles = covered(index) !== position;
  return { index, straddles };
}

/** Length of the longest common prefix of two id arrays. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const limit = Math.min(a.length, b.length);
  let n = 0;
  while (n < limit && a[n] === b[n]) n++;
  return n;
}

/** True where two id arrays are equal. */
export function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && commonPrefixLength(a, b) === a.length;
}
