// The contract of the text layer (ts/text/), used by the optimizer and the evaluation.
// Implementations live beside this file; everything is re-exported from ts/text/index.ts.
import type { Span } from "../engine/types.js";

/**
 * How the question and the prompt form the user turn.
 * - "authors": `"{question}. Use"{prompt}` — the authors' code (default); the prompt's tokens carry their
 *   own leading space, e.g. " proper logical reasoning".
 * - "plain": `{question}{prompt}`
 * - "prompt-first": `{prompt}\n{question}` (prompt without its leading space)
 */
export type UserTurnTemplate = "authors" | "plain" | "prompt-first";

export interface ModelTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  /** eos ids of generation_config.json, the tokenizer's eos, and end-of-turn tokens such as <|eot_id|>. */
  readonly stopTokenIds: number[];
  /** Ids of all special / added-special tokens. */
  readonly specialTokenIds: Set<number>;
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
  /** Renders the chat template for one user message, with the assistant header (generation prompt). */
  renderUserTurn(content: string): string;
  /** Optional: the unk id where the tokenizer has one. */
  readonly unkTokenId?: number | null;
  /** Optional: ids of all added tokens, special or not (e.g. Qwen's <think>); never prompt candidates. */
  readonly addedTokenIds?: ReadonlySet<number>;
  /** Optional: sha256 of tokenizer.json; keys on-disk caches (the candidate mask). Without it nothing is cached. */
  readonly fingerprint?: string;
}

export interface ExampleInput {
  question: string;
  /** The prompt as token ids (the optimizer edits ids, never text). */
  prompt: number[];
  /** Reasoning the model generated (token ids, without the stop token). Omit for a generation prefix. */
  reasoning?: number[];
  /** Answer extractor text, e.g. "Therefore, the final answer is $"; joined to the reasoning by " ". */
  extractor?: string;
  /** Gold answer text, placed right after the extractor. */
  answer?: string;
}

export interface ExampleLayout {
  /** Token ids of the whole example. */
  ids: number[];
  /** Spans into ids; a part that is absent has an empty span at its would-be start. */
  spans: {
    question: Span;
    prompt: Span;
    header: Span;
    reasoning: Span;
    extractor: Span;
    answer: Span;
  };
}

export interface CandidateFilterOptions {
  /** "strict" (default): letters and spaces only, plus the single tokens ".", ",", " " (the paper's code).
   *  "punctuation": also allows ASCII punctuation.
   *  "ascii": any printable ASCII (the original llm-attacks filter). */
  rule?: "strict" | "punctuation" | "ascii";
}
