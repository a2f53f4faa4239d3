// Text that continues other text, for tokenizers that start every encoded text with a word boundary.
// SentencePiece tokenizers (Llama 2's, Mistral's) encode a text alone as if a space preceded it ("Hi" -> "▁Hi") and
// drop one leading space when they decode ("▁Hi" -> "Hi"). A prompt or a reasoning inside a longer text is neither:
// " step by step" after `Use"` is "▁step ▁by ▁step", and those ids stand for " step by step". These helpers encode and
// decode such a piece in context, through an anchor text before it. For tokenizers without that dummy prefix (the
// byte-level BPE ones) they are encode and decode unchanged.
import { sameIds } from "./token-boundary.js";
import type { ModelTokenizer } from "./types.js";

const ANCHOR = "a";
const dummyPrefix = new WeakMap<ModelTokenizer, boolean>();

/** True where the tokenizer encodes a text alone as if a space preceded it (a SentencePiece dummy prefix). */
export function addsDummyPrefix(tokenizer: ModelTokenizer): boolean {
  let adds = dummyPrefix.get(tokenizer);
  if (adds === undefined) {
    // "b" then "a", each encoded alone: with a dummy prefix both carry a word boundary, and decode shows the space.
    adds = tokenizer.decode([...tokenizer.encode("b"), ...tokenizer.encode(ANCHOR)]) === `b ${ANCHOR}`;
    dummyPrefix.set(tokenizer, adds);
  }
  return adds;
}

/** The text that `ids` stand for in the middle of a longer text (with the leading space a lone decode drops). */
export function decodeContinuation(tokenizer: ModelTokenizer, ids: number[], options: { skipSpecialTokens?: boolean } = {}): string {
  if (ids.length === 0) return "";
  if (!addsDummyPrefix(tokenizer)) return tokenizer.decode(ids, options);
  const anchor = tokenizer.encode(ANCHOR);
  const anchorText = tokenizer.decode(anchor, options);
  const both = tokenizer.decode([...anchor, ...ids], options);
  return both.startsWith(anchorText) ? both.slice(anchorText.length) : tokenizer.decode(ids, options);
}

/** The ids `text` gets in the middle of a longer text (after a word), e.g. " step" -> "▁step", not "▁▁step". */
export function encodeContinuation(tokenizer: ModelTokenizer, text: string): number[] {
  if (!addsDummyPrefix(tokenizer)) return tokenizer.encode(text);
  const anchor = tokenizer.encode(ANCHOR);
  const both = tokenizer.encode(ANCHOR + text);
  const rest = both.slice(anchor.length);
  // The anchor must stay its own token(s), and the rest must stand for exactly the text.
  return sameIds(both.slice(0, anchor.length), anchor) && decodeContinuation(tokenizer, rest) === text ? rest : tokenizer.encode(text);
}
