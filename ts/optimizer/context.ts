// What every phase of a step works with: the model, the tokenizer, the train examples, the configuration,
// and the two helpers that build token sequences (the text layer's example layout) and split engine calls.
import type { LanguageModel, Span } from "../engine/types.js";
import type { ExampleInput, ExampleLayout, ModelTokenizer, UserTurnTemplate } from "../text/types.js";
import type { GreaterConfig } from "./config.js";
import type { RowSplitter } from "./row-splitter.js";

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

/** What placing a prompt in the user turn needs (the run's context has it before the run's state exists). */
export type PromptPlacement = Pick<StepContext, "tokenizer" | "layout" | "probes">;

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
  /** One example per distinct text context around the prompt (see boundaryProbes). */
  probes: readonly TrainingExample[];
  /** Token count of the run's initial prompt (the early exit applies from half of it on). */
  initialPromptLength: number;
  signal?: AbortSignal;
}

/**
 * Examples that together cover every text context the user-turn template puts right before and after the
 * prompt: with "authors" the prompt always sits between `. Use"` and the chat header, so one example does;
 * with "plain" the question's end precedes it, with "prompt-first" the question's start follows it.
 */
export function boundaryProbes(examples: readonly TrainingExample[], template: UserTurnTemplate): TrainingExample[] {
  if (template === "authors") return examples.slice(0, 1);
  const seen = new Map<string, TrainingExample>();
  for (const example of examples) {
    const key = template === "plain" ? example.question.slice(-16) : example.question.slice(0, 16);
    if (!seen.has(key)) seen.set(key, example);
  }
  return [...seen.values()];
}

/**
 * Whether the layout carries `prompt`'s ids verbatim at its prompt span for every probe. Where it does not
 * (a token merges with its neighbours once the prompt is text in the user turn, or the chat template trims
 * it), position i of the prompt would not be token spans.prompt.start + i, so such a candidate is dropped.
 */
export function placesVerbatim(context: PromptPlacement, prompt: number[]): boolean {
  return context.probes.every((example) => {
    let layout: ExampleLayout;
    try {
      layout = context.layout({ question: example.question, prompt });
    } catch (error) {
      if ((error as Error).name === "LayoutError") return false;
      throw error;
    }
    const { start, end } = layout.spans.prompt;
    return end - start === prompt.length && prompt.every((id, index) => layout.ids[start + index] === id);
  });
}

/**
 * The prompt as the layout tokenizes its text (the ids at the prompt span of the first probe), which is what
 * the authors' code works on after every step: it keeps the prompt as text and tokenizes it again.
 * @throws when even those ids do not come back verbatim.
 */
export function canonicalPrompt(context: PromptPlacement, prompt: number[]): number[] {
  if (placesVerbatim(context, prompt)) return prompt;
  const probe = context.probes[0];
  const layout = context.layout({ question: probe.question, prompt });
  const canonical = layout.ids.slice(layout.spans.prompt.start, layout.spans.prompt.end);
  if (canonical.length === 0 || !placesVerbatim(context, canonical)) {
    throw new Error(
      `the prompt ${JSON.stringify(context.tokenizer.decode(prompt))} cannot be placed in the user turn as token ids ` +
        `(its tokenization changes with the surrounding text); choose another initial prompt or user-turn template`,
    );
  }
  return canonical;
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
