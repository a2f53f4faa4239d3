// Step 5, advance: the search moves one position to the right after every step. Past the last position it
// wraps to position 0 if the last chosen token ends a sentence; otherwise the prompt grows by one filler
// token (the code's `"_"`) and the search continues there. (The code's "same position again" and
// "circular selection" branches sit behind the condition `a == b or a != b`, which is always true, so it
// always advances; they are not reproduced.)

export interface Advance {
  /** The prompt for the next step (one filler token longer when it grew). */
  prompt: number[];
  /** The position of the next step. */
  position: number;
  /** True when the search wrapped to position 0. */
  wrapped: boolean;
  /** True when a filler token was appended. */
  grew: boolean;
}

/**
 * @param prompt the prompt with the chosen token already in place at `position`
 * @param chosenEndsSentence whether the chosen token's text contains the sentence end
 * @param fillerToken the id appended when the prompt grows
 */
export function advancePosition(
  prompt: readonly number[],
  position: number,
  chosenEndsSentence: boolean,
  fillerToken: number,
): Advance {
  const next = position + 1;
  if (next < prompt.length) return { prompt: [...prompt], position: next, wrapped: false, grew: false };
  if (chosenEndsSentence) return { prompt: [...prompt], position: 0, wrapped: true, grew: false };
  return { prompt: [...prompt, fillerToken], position: next, wrapped: false, grew: true };
}
