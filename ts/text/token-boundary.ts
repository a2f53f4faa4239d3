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
 * @param what names the text in the error message
 */
export function assertDecodesTo(tokenizer: ModelTokenizer, text: string, ids: number[], what: string): void {
  const decoded = tokenizer.decode(ids);
  if (decoded === text) return;
  let at = 0;
  while (at < text.length && decoded[at] === text[at]) at++;
  throw new LayoutError(
    `the tokenizer does not reproduce ${what}: decode(encode(text)) differs at character ${at} ` +
      `(${JSON.stringify(text.slice(at, at + 12))} became ${JSON.stringify(decoded.slice(at, at + 12))}); ` +
      `a normalizer changes it (normalize the input, e.g. to NFC) or the tokenizer adds text`,
  );
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

  // Back off one token: the last common token may end inside a multi-byte character.
  const decodedLength = (count: number) => tokenizer.decode(ids.slice(0, count)).length;
  let index = Math.max(0, common - 1);
  while (index > 0 && decodedLength(index) > position) index--;
  while (index < ids.length && decodedLength(index + 1) <= position) index++;
  const straddles = decodedLength(index) !== position || tokenizer.decode(ids.slice(0, index)) !== text.slice(0, position);
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
