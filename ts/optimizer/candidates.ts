// Step 1, candidate proposal: the tokens the model itself finds likely at prompt position i, agreed on by
// groups of train examples.
//
// For every example, the model's distribution over the token at position i given chat(user: x ⊕ p_<i), with
// disallowed tokens and the token at position i-1 masked, gives a top-k set. topQ times, the top-k sets of
// `examplesPerIntersection` randomly drawn examples are intersected; the candidates are the union of those
// intersections. A set smaller than `minCandidates` raises k by `kIncrement` and draws the intersections
// again (k starts from config.topK at every step, as in the code). The current token p_i is added last.
// Candidates that would not stay the same token ids once the prompt is text in the user turn are dropped
// before the size check (the authors' code keeps the prompt as text between steps; this project edits ids,
// so every prompt it scores must tokenize back to itself).
import type { GreaterConfig } from "./config.js";
import { absolutePromptPosition, placesVerbatim, type StepContext } from "./context.js";
import { topCandidateRows } from "./engine-calls.js";
import type { Mulberry32 } from "./prng.js";
import type { ReasoningSet } from "./reasoning.js";

export interface CandidateProposal {
  /** The union of the intersections in ascending id order, then the current token if it was not in it. */
  candidates: number[];
  /** The per-example k in effect after any raises. */
  k: number;
  /** How many times k was raised. */
  raises: number;
}

/**
 * Per-example token lists sorted by descending probability, at least `k` long unless the vocabulary (after
 * masking) has fewer tokens.
 */
export type TopListsProvider = (k: number) => Promise<number[][]> | number[][];

type ProposalSettings = Pick<GreaterConfig, "topK" | "topQ" | "examplesPerIntersection" | "minCandidates" | "kIncrement">;

/**
 * The union of `topQ` intersections; each intersects the top-k sets of `perIntersection` examples drawn
 * without replacement (fewer when there are fewer examples). Returned in ascending id order.
 */
export function unionOfIntersections(
  topSets: readonly (readonly number[])[],
  topQ: number,
  perIntersection: number,
  rng: Mulberry32,
): number[] {
  const drawn = Math.min(perIntersection, topSets.length);
  const union = new Set<number>();
  for (let q = 0; q < topQ; q++) {
    const [first, ...rest] = rng.sampleWithoutReplacement(topSets.length, drawn);
    let intersection = new Set(topSets[first]);
    for (const example of rest) {
      const other = new Set(topSets[example]);
      intersection = new Set([...intersection].filter((token) => other.has(token)));
    }
    for (const token of intersection) union.add(token);
  }
  return [...union].sort((a, b) => a - b);
}

/**
 * The candidate set of one position: intersections drawn with k = topK, raised by kIncrement (with fresh
 * draws) until the union holds minCandidates tokens or the lists cannot grow any more; then the current
 * token is added. `keep` drops tokens from the union before its size is checked.
 */
export async function drawCandidateSet(
  topLists: TopListsProvider,
  currentToken: number,
  settings: ProposalSettings,
  rng: Mulberry32,
  keep: (token: number) => boolean = () => true,
): Promise<CandidateProposal> {
  let k = settings.topK;
  let raises = 0;
  let union: number[];
  for (;;) {
    const lists = await topLists(k);
    if (lists.length === 0) throw new Error("candidate proposal needs at least one train example");
    const topSets = lists.map((list) => list.slice(0, k));
    union = unionOfIntersections(topSets, settings.topQ, settings.examplesPerIntersection, rng).filter(keep);
    if (union.length >= settings.minCandidates) break;
    // Every list shorter than k: the masked vocabulary is exhausted and a larger k cannot add tokens.
    if (lists.every((list) => list.length < k)) break;
    k += settings.kIncrement;
    raises++;
  }
  const candidates = union.includes(currentToken) ? union : [...union, currentToken];
  return { candidates, k, raises };
}

/**
 * Step 1 against the model: one topCandidates call over all examples' generation prefixes, reading the
 * distribution for prompt position `position`. Fetches a few raises' worth of k at once so that raising k
 * rarely needs another forward pass.
 */
export async function proposeCandidates(
  context: StepContext,
  current: ReasoningSet,
  position: number,
  rng: Mulberry32,
): Promise<CandidateProposal> {
  const prompt = current.prompt;
  // The code masks control_toks[pos - 1]; at pos 0 Python's index -1 is the prompt's last token.
  const previousToken = prompt[(position - 1 + prompt.length) % prompt.length];
  const sequences = current.prefixes.map((layout) => layout.ids);
  const positions = current.prefixes.map((layout) => absolutePromptPosition(layout, position));
  const exclude = current.prefixes.map(() => [previousToken]);

  let fetched: number[][] | undefined;
  let fetchedK = 0;
  const provider: TopListsProvider = async (k) => {
    if (fetched === undefined || k > fetchedK) {
      fetchedK = Math.max(k, fetchedK * 2, context.config.topK + 4 * context.config.kIncrement);
      fetched = await topCandidateRows(context.model, context.splitter, sequences, {
        positions,
        k: fetchedK,
        disallowed: context.disallowed,
        exclude,
        signal: context.signal,
      });
    }
    return fetched.map((list) => list.slice(0, k));
  };
  const verdicts = new Map<number, boolean>();
  const keep = (token: number) => {
    let verdict = verdicts.get(token);
    if (verdict === undefined) {
      const candidatePrompt = prompt.slice();
      candidatePrompt[position] = token;
      verdicts.set(token, (verdict = placesVerbatim(context, candidatePrompt)));
    }
    return verdict;
  };
  return drawCandidateSet(provider, prompt[position], context.config, rng, keep);
}
