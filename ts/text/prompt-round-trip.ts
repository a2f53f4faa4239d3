// The official code's "filter candidates" rule: a prompt (token ids) is kept only if decoding it and encoding the
// text again does not change it, because the model will later see the prompt as text.
import { decodeContinuation, encodeContinuation } from "./continuation.js";
import type { ModelTokenizer } from "./types.js";

export interface RoundTripOptions {
  /**
   * "length" (default, the authors' rule): re-encoding gives as many tokens as the prompt has.
   * "exact": re-encoding gives the very same ids.
   */
  mode?: "length" | "exact";
}

/**
 * True where decoding `promptIds` (special tokens skipped) and encoding the text again keeps the prompt: the same
 * number of tokens ("length", the authors' rule) or the same ids ("exact"). A prompt that fails would silently
 * change length once it goes through text, so a candidate that produces it is dropped.
 */
export function promptRoundTrips(tokenizer: ModelTokenizer, promptIds: number[], options: RoundTripOptions = {}): boolean {
  // As text inside the user message (after the question's words), which is how the model will see it.
  const reencoded = encodeContinuation(tokenizer, decodeContinuation(tokenizer, promptIds, { skipSpecialTokens: true }));
  if ((options.mode ?? "length") === "length") return reencoded.length === promptIds.length;
  return reencoded.length === promptIds.length && reencoded.every((id, k) => id === promptIds[k]);
}

/**
 * The candidate tokens for prompt position `position` that keep the prompt round-tripping (see
 * {@link promptRoundTrips}) once put there. The current token is not treated specially: it is kept when the current
 * prompt round-trips. Order is preserved.
 */
export function filterCandidatesAtPosition(
  tokenizer: ModelTokenizer,
  promptIds: number[],
  position: number,
  candidateIds: Iterable<number>,
  options: RoundTripOptions = {},
): number[] {
  if (!Number.isInteger(position) || position < 0 || position >= promptIds.length) {
    throw new RangeError(`prompt position ${position} is outside the prompt (length ${promptIds.length})`);
  }
  const kept: number[] = [];
  const candidate = [...promptIds];
  for (const id of candidateIds) {
    candidate[position] = id;
    if (promptRoundTrips(tokenizer, candidate, options)) kept.push(id);
  }
  return kept;
}
