// The token layout of one GReaTer example: chat(user: question ⊕ prompt) ⊕ reasoning ⊕ " " ⊕ extractor ⊕ answer,
// with the token span of every part.
import type { Span } from "../engine/types.js";
import { decodeContinuation, encodeContinuation } from "./continuation.js";
import { assertDecodesTo, LayoutError, sameIds, tokenBoundary } from "./token-boundary.js";
import type { ExampleInput, ExampleLayout, ModelTokenizer, UserTurnTemplate } from "./types.js";

export interface LayoutOptions {
  /** How question and prompt form the user turn; default "authors" (see {@link UserTurnTemplate}). */
  userTurnTemplate?: UserTurnTemplate;
}

/** The parts of an example; "template" is the chat template's text before the user message (BOS, user header). */
export type LayoutPart = "template" | "question" | "prompt" | "header" | "reasoning" | "extractor" | "answer";

/** One token whose text spans the end of one part and the start of the next. */
export interface BoundaryMerge {
  /** The part whose text ends inside the token. */
  before: LayoutPart;
  /** The part whose text starts inside the token; the token is counted in this part's span. */
  after: LayoutPart;
  /** Index of the token in the layout's ids. */
  tokenIndex: number;
}

/** What {@link buildExampleLayout} returns: the contract's layout plus how faithfully it holds the inputs. */
export interface BuiltExampleLayout extends ExampleLayout {
  /** The whole text: the rendered user turn with its assistant header, the decoded reasoning, extractor and answer. */
  text: string;
  /**
   * True where ids[spans.prompt] are exactly the prompt ids given. False where a token merges the prompt with its
   * neighbours in the whole text's tokenization, or the chat template altered the prompt's text (e.g. trimmed a
   * trailing space): the optimizer must drop such a candidate, since position i of the prompt is not token
   * spans.prompt.start + i.
   */
  promptVerbatim: boolean;
  /**
   * True where ids equal tokenizer.encode(text). The prefix (user turn and header) and the tail (extractor and
   * answer) are always the whole text's tokenization in their context; the reasoning ids are kept as generated, so
   * this is false only where the model generated a tokenization that encoding its text would not give, or where the
   * reasoning's last token merges with the extractor.
   */
  canonical: boolean;
  /** Tokens that straddle two parts (each counted in the later part's span). Empty in the usual case. */
  merges: BoundaryMerge[];
}

/** The user message's text pieces around the prompt, for each user-turn template. */
export function userTurnPieces(question: string, template: UserTurnTemplate): { before: string; after: string } {
  switch (template) {
    case "authors":
      return { before: '"' + question + '. Use"', after: "" };
    case "plain":
      return { before: question, after: "" };
    case "prompt-first":
      return { before: "", after: "\n" + question };
    default:
      throw new LayoutError(`unknown userTurnTemplate ${JSON.stringify(template)}; use "authors", "plain" or "prompt-first"`);
  }
}

/**
 * Token ids of a prompt text, shaped for the user-turn template: with one leading space for "authors" and "plain"
 * (the prompt follows the question's text, e.g. `Use" proper logical reasoning`), without for "prompt-first"
 * (it opens the message). Use it for the initial prompt.
 */
export function encodePrompt(tokenizer: ModelTokenizer, text: string, template: UserTurnTemplate = "authors"): number[] {
  if (template === "prompt-first") return tokenizer.encode(text.trimStart());
  return encodeContinuation(tokenizer, /^\s/.test(text) ? text : " " + text);
}

/** The text of the user message for a question and a prompt (ids), as the layout renders it. */
export function userTurnContent(
  tokenizer: ModelTokenizer,
  question: string,
  prompt: number[],
  template: UserTurnTemplate = "authors",
): string {
  const { before, after } = userTurnPieces(question, template);
  return before + promptTextOf(tokenizer, prompt, template) + after;
}

/**
 * Builds the token ids of one example and the token span of each part:
 * `chat(user: question ⊕ prompt)` (rendered by the chat template, with the assistant header), then the reasoning ids
 * exactly as generated, then `" " + extractor`, then the answer.
 *
 * Tokenization: the user turn (with header) is encoded as one text, and so is the reasoning's text followed by
 * `" " + extractor + answer`; so where a token merges two parts (e.g. an extractor ending in "$ " and the answer
 * "Yes" give the token " Yes"), the ids are those of the whole text and the straddling token is counted in the
 * later part (the answer here). Such tokens are listed in `merges`. The prompt is decoded to text and placed in the
 * message; `promptVerbatim` says whether its ids come back unchanged at spans.prompt.
 *
 * What each span covers: `question` is the question with the template's words around it (`"{question}. Use"` in
 * "authors" mode, the newline before it in "prompt-first"); the chat template's text before the message (BOS, user
 * header) precedes the first span and belongs to none; `header` is everything after the message up to the reasoning
 * (end of turn, assistant header); `extractor` starts with the joining space.
 *
 * With "prompt-first", a prompt that ends in punctuation merges with the newline before the question in Llama 3 and
 * Qwen tokenizers (".\n" is one token), so such a prompt is not verbatim.
 *
 * Parts that are absent (no reasoning, extractor or answer) get empty spans at their would-be start; without
 * reasoning, extractor and answer the ids are the generation prefix, and ids[0, spans.header.end) of a full example
 * are exactly that prefix.
 *
 * @throws LayoutError where the chat template rewrites the user message beyond trimming it, where the tokenizer does
 *   not reproduce the text (a normalizer changed it), or where an id is outside the vocabulary.
 */
export function buildExampleLayout(
  tokenizer: ModelTokenizer,
  input: ExampleInput,
  options: LayoutOptions = {},
): BuiltExampleLayout {
  const template = options.userTurnTemplate ?? "authors";
  checkIds(tokenizer, input.prompt, "prompt");
  const reasoning = input.reasoning ?? [];
  checkIds(tokenizer, reasoning, "reasoning");

  // ---- prefix: the rendered user turn and assistant header, tokenized as one text
  const { before, after } = userTurnPieces(input.question, template);
  const promptText = promptTextOf(tokenizer, input.prompt, template);
  const content = before + promptText + after;
  const rendered = tokenizer.renderUserTurn(content);
  const placed = placeUserContent(tokenizer, rendered, content);
  const at = (contentIndex: number) => placed.toRendered(contentIndex);
  const contentParts: Array<[LayoutPart, number]> =
    template === "prompt-first"
      ? [["prompt", at(0)], ["question", at(promptText.length)]]
      : [["question", at(0)], ["prompt", at(before.length)]];
  const prefixParts: Array<[LayoutPart, number]> = [
    ["template", 0],
    ...contentParts,
    ["header", at(content.length)],
  ];
  const prefixIds = tokenizer.encode(rendered);
  assertDecodesTo(tokenizer, rendered, prefixIds, "the rendered user turn");
  const prefix = spansOfParts(tokenizer, rendered, prefixIds, prefixParts, 0);

  // ---- tail: " " + extractor + answer, tokenized after the text that precedes it
  const extractorText = input.extractor === undefined ? "" : " " + input.extractor;
  const answerText = input.answer ?? "";
  const reasoningText = decodeContinuation(tokenizer, reasoning);
  // Tokenization is local: the last tokens of the reasoning are context enough for the tail, and much cheaper than
  // re-encoding all of it (the whole text is encoded once more below, to check the result).
  const context = reasoning.length > 0 ? tokenizer.decode(reasoning.slice(-TAIL_CONTEXT_TOKENS)) : rendered;
  const tail = layTail(tokenizer, context, extractorText, answerText, reasoning.length > 0 ? "reasoning" : "header",
    prefixIds.length + reasoning.length);

  const ids = [...prefixIds, ...reasoning, ...tail.ids];
  const text = rendered + reasoningText + extractorText + answerText;
  const reasoningStart = prefixIds.length;
  const spans = {
    question: prefix.spans.get("question")!,
    prompt: prefix.spans.get("prompt")!,
    header: prefix.spans.get("header")!,
    reasoning: { start: reasoningStart, end: reasoningStart + reasoning.length },
    extractor: tail.extractor,
    answer: tail.answer,
  };
  return {
    ids,
    spans,
    text,
    promptVerbatim: sameIds(ids.slice(spans.prompt.start, spans.prompt.end), input.prompt),
    canonical: tail.ids.length === 0 && reasoning.length === 0 ? true : sameIds(ids, tokenizer.encode(text)),
    merges: [...prefix.merges, ...tail.merges],
  };
}

/** The prompt's text in the message: it follows the question's words, except where it opens the message. */
function promptTextOf(tokenizer: ModelTokenizer, prompt: number[], template: UserTurnTemplate): string {
  return template === "prompt-first" ? tokenizer.decode(prompt) : decodeContinuation(tokenizer, prompt);
}

function checkIds(tokenizer: ModelTokenizer, ids: number[], field: string): void {
  ids.forEach((id, index) => {
    if (!Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize) {
      throw new LayoutError(`ExampleInput.${field}[${index}] = ${id} is not a token id below ${tokenizer.vocabSize}`);
    }
  });
}

/** Where the user message's characters lie in the rendered turn, found by rendering a marker in its place. */
interface PlacedContent {
  /** Maps an index into the message to an index into the rendered text (clamped where the template trimmed). */
  toRendered(contentIndex: number): number;
}

const MARKER = "GREATERUSERMESSAGEMARKER";
/** Reasoning tokens decoded as the context in which extractor and answer are tokenized. */
const TAIL_CONTEXT_TOKENS = 32;
const frames = new WeakMap<ModelTokenizer, { head: string; tail: string }>();

function placeUserContent(tokenizer: ModelTokenizer, rendered: string, content: string): PlacedContent {
  const cached = frames.get(tokenizer);
  const frame = cached !== undefined && frameFits(cached, rendered) ? cached : renderFrame(tokenizer);
  const shown = frameFits(frame, rendered) ? rendered.slice(frame.head.length, rendered.length - frame.tail.length) : null;
  // Templates may trim the message (Llama 3's does); anything else cannot be followed.
  const offset = shown === null ? -1 : shown === content ? 0 : content.indexOf(shown);
  if (shown === null || offset < 0) {
    throw new LayoutError(
      "the chat template changes the user message beyond trimming it, so the question and prompt cannot be located",
    );
  }
  const start = frame.head.length;
  const end = frame.head.length + shown.length;
  return { toRendered: (contentIndex) => Math.min(end, Math.max(start, start + contentIndex - offset)) };
}

function frameFits(frame: { head: string; tail: string }, rendered: string): boolean {
  return rendered.length >= frame.head.length + frame.tail.length && rendered.startsWith(frame.head) && rendered.endsWith(frame.tail);
}

/** The text around the user message, rendered afresh (a template may change it, e.g. with today's date). */
function renderFrame(tokenizer: ModelTokenizer): { head: string; tail: string } {
  const framed = tokenizer.renderUserTurn(MARKER);
  const at = framed.indexOf(MARKER);
  if (at < 0 || framed.indexOf(MARKER, at + 1) >= 0) {
    throw new LayoutError("the chat template does not place the user message once, verbatim, in its output");
  }
  const frame = { head: framed.slice(0, at), tail: framed.slice(at + MARKER.length) };
  frames.set(tokenizer, frame);
  return frame;
}

/**
 * Token spans of consecutive parts of `text`, each given by the character where it starts (in order; it ends where
 * the next one starts). `base` is added to every token index.
 */
function spansOfParts(
  tokenizer: ModelTokenizer,
  text: string,
  ids: number[],
  parts: Array<[LayoutPart, number]>,
  base: number,
): { spans: Map<LayoutPart, Span>; merges: BoundaryMerge[] } {
  const boundaries = new Map<number, ReturnType<typeof tokenBoundary>>();
  const boundaryAt = (position: number) => {
    let boundary = boundaries.get(position);
    if (boundary === undefined) boundaries.set(position, (boundary = tokenBoundary(tokenizer, text, ids, position)));
    return boundary;
  };
  const starts = parts.map(([part, position]) => ({ part, position, ...boundaryAt(position) }));
  const spans = new Map<LayoutPart, Span>();
  const merges: BoundaryMerge[] = [];
  let lastNonEmptyPart: LayoutPart | null = null;
  starts.forEach((start, k) => {
    const next = starts[k + 1];
    spans.set(start.part, { start: base + start.index, end: base + (next === undefined ? ids.length : next.index) });
    const endChar = next === undefined ? text.length : next.position;
    if (endChar === start.position) return; // a part without text: an empty span, never the owner of a merge
    if (start.straddles && lastNonEmptyPart !== null) {
      merges.push({ before: lastNonEmptyPart, after: start.part, tokenIndex: base + start.index });
    }
    lastNonEmptyPart = start.part;
  });
  return { spans, merges };
}

/** The tail's ids and spans: `context` is the text before it (reasoning, or the prefix where there is none). */
function layTail(
  tokenizer: ModelTokenizer,
  context: string,
  extractorText: string,
  answerText: string,
  contextPart: LayoutPart,
  base: number,
): { ids: number[]; extractor: Span; answer: Span; merges: BoundaryMerge[] } {
  const tailText = extractorText + answerText;
  if (tailText === "") return { ids: [], extractor: { start: base, end: base }, answer: { start: base, end: base }, merges: [] };

  const whole = context + tailText;
  const wholeIds = tokenizer.encode(whole);
  assertDecodesTo(tokenizer, whole, wholeIds, `the ${contextPart} followed by extractor and answer`);
  const start = tokenBoundary(tokenizer, whole, wholeIds, context.length);
  if (!start.straddles) {
    const laid = spansOfParts(tokenizer, whole, wholeIds, [
      [contextPart, 0],
      ["extractor", context.length],
      ["answer", context.length + extractorText.length],
    ], base - start.index);
    return { ids: wholeIds.slice(start.index), extractor: laid.spans.get("extractor")!, answer: laid.spans.get("answer")!, merges: laid.merges };
  }
  // The context's last token merges with the extractor: the context ids stay as they are (they are what the model
  // generated), so the tail is tokenized on its own, and the merge is reported.
  const ownIds = tokenizer.encode(tailText);
  assertDecodesTo(tokenizer, tailText, ownIds, "the extractor and answer");
  const laid = spansOfParts(tokenizer, tailText, ownIds, [["extractor", 0], ["answer", extractorText.length]], base);
  const firstTailPart: LayoutPart = extractorText === "" ? "answer" : "extractor";
  return {
    ids: ownIds,
    extractor: laid.spans.get("extractor")!,
    answer: laid.spans.get("answer")!,
    merges: [{ before: contextPart, after: firstTailPart, tokenIndex: base }, ...laid.merges],
  };
}
