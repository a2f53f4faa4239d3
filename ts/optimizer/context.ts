// What every phase of a step works with: the model, the tokenizer, the train examples, the configuration,
// and the two helpers that build token sequences (the text layer's example layout) and split engine calls.
import type { LanguageModel, Span } from "../engine/types.js";
import type { ExampleInput, ExampleLayout, ModelTokenizer } from "../text/types.js";
import type { GreaterConfig } from "./config.js";
import type { RowSplitter } from "./oom.js";

/** One train example as the optimizer needs it (a tasks `Example` fits). */
export interface TrainingExample {
  id: string;
  question: string;
  /** Gold answer text, written right after the extractor (e.g. `B`, `Yes`, `24`). */
  answer: string;
}

/** The part of a task the optimizer uses (a tasks `Task` fits). */
export interface OptimizationTask {
  name?: string;
  /** Appended after the reasoning, joined by one space, to make the model state the answer. */
  extractor: string;
  train: readonly TrainingExample[];
  dev?: readonly TrainingExample[];
}

/** Builds the token ids and spans of one example (the text layer's layout, bound to the user-turn template). */
export type LayoutExample = (input: ExampleInput) => ExampleLayout;

export interface StepContext {
  model: LanguageModel;
  tokenizer: ModelTokenizer;
  config: GreaterConfig;
  examples: readonly TrainingExample[];
  extractor: string;
  layout: LayoutExample;
  /** 1 for every token id the proposal may never offer (the candidate filter), length = vocabulary. */
  disallowed: Uint8Array;
  /** Ids that end a generation: the model's eos ids and the tokenizer's end-of-turn tokens. */
  stopTokenIds: number[];
  splitter: RowSplitter;
  signal?: AbortSignal;
}

/** The generation prefix `chat(user: question ⊕ prompt)`, ending with the assistant header. */
export function layoutPrefix(context: StepContext, example: TrainingExample, prompt: number[]): ExampleLayout {
  return checkedLayout(context, example, prompt, { question: example.question, prompt });
}

/** The full sequence `chat(user: question ⊕ prompt) ⊕ reasoning ⊕ " " ⊕ extractor ⊕ answer`. */
export function layoutFull(
  context: StepContext,
  example: TrainingExample,
  prompt: number[],
  reasoning: number[],
): ExampleLayout {
  return checkedLayout(context, example, prompt, {
    question: example.question,
    prompt,
    reasoning,
    extractor: context.extractor,
    answer: example.answer,
  });
}

/** The absolute index of prompt position `position` inside a layout. */
export function absolutePromptPosition(layout: ExampleLayout, position: number): number {
  return layout.spans.prompt.start + position;
}

function checkedLayout(
  context: StepContext,
  example: TrainingExample,
  prompt: number[],
  input: ExampleInput,
): ExampleLayout {
  const layout = context.layout(input);
  const span = layout.spans.prompt;
  const placed = layout.ids.slice(span.start, span.end);
  // The optimizer edits prompt ids in place: the layout must carry them verbatim, or position i would
  // address some other token.
  if (placed.length !== prompt.length || placed.some((id, index) => id !== prompt[index])) {
    throw new Error(
      `example ${example.id}: the layout's prompt span [${span.start}, ${span.end}) holds ` +
        `[${placed.join(", ")}], not the prompt ids [${prompt.join(", ")}]`,
    );
  }
  if (input.answer !== undefined) assertNonEmpty(example, "answer", layout.spans.answer);
  return layout;
}

function assertNonEmpty(example: TrainingExample, part: string, span: Span): void {
  if (span.end <= span.start) throw new Error(`example ${example.id}: the ${part} has no tokens in its layout`);
}
