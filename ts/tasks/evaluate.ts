// Accuracy of a prompt on a task split (docs/algorithm.md, step 7): generate the reasoning for
// chat(user: question ⊕ prompt), append " " + extractor, generate a few answer tokens (stopping at the end
// of turn or a newline), normalise, compare with the gold answer. Batched through model.generate.
import { isOutOfMemory, type GenerateResult, type LanguageModel } from "../engine/types.js";
import { buildExampleLayout, encodePrompt } from "../text/layout.js";
import type { ExampleInput, ExampleLayout, ModelTokenizer, UserTurnTemplate } from "../text/types.js";
import type { Example, SplitName, Task } from "./types.js";

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** How question and prompt form the user turn (default "authors", as in the optimization). */
  template?: UserTurnTemplate;
  /** Reasoning budget per example (default 512: ample for BBH; the authors' code allows up to 1024). */
  maxNewTokens?: number;
  /** Tokens generated for the answer after the extractor (default 8). */
  answerTokens?: number;
  /** Examples per generate call (default 16); halved automatically when the engine runs out of memory. */
  batchSize?: number;
  /** Evaluate only the first `limit` examples of the split. */
  limit?: number;
  signal?: AbortSignal;
  /** Called after each batch. */
  onProgress?: (progress: EvaluationProgress) => void;
  /** The example layout; default the text layer's buildExampleLayout with `template`. */
  layout?: (input: ExampleInput) => ExampleLayout;
}

export interface EvaluationProgress {
  done: number;
  total: number;
  correct: number;
}

/** What happened on one example. */
export interface EvaluationRecord {
  id: string;
  question: string;
  /** The generated reasoning, decoded. */
  reasoning: string;
  /** True where the reasoning hit maxNewTokens instead of ending by itself. */
  reasoningTruncated: boolean;
  /** The raw answer text generated after the extractor, up to the first newline. */
  extracted: string;
  /** `extracted` after the task's normaliser. */
  normalised: string;
  /** The gold answer as stored in the task (as it follows the extractor). */
  gold: string;
  correct: boolean;
}

export interface EvaluationResult {
  task: string;
  split: SplitName;
  /** The prompt evaluated: its ids in this model's vocabulary and its text. */
  prompt: { ids: number[]; text: string };
  correct: number;
  total: number;
  /** correct / total. */
  accuracy: number;
  /** One per example, in split order. */
  records: EvaluationRecord[];
}

const DEFAULT_MAX_NEW_TOKENS = 512;
const DEFAULT_ANSWER_TOKENS = 8;
const DEFAULT_BATCH_SIZE = 16;

// Generates for all rows, `size` rows per call, halving the size whenever a call runs out of memory. The
// size that fit is kept (in `size.value`) for later calls of the evaluation.
async function generateInChunks(
  model: LanguageModel,
  rows: number[][],
  options: { maxNewTokens: number; stopTokenIds: number[]; signal?: AbortSignal },
  size: { value: number },
): Promise<GenerateResult> {
  const result: GenerateResult = { tokens: [], stopped: [] };
  let start = 0;
  while (start < rows.length) {
    const end = Math.min(start + size.value, rows.length);
    try {
      const part = await model.generate(rows.slice(start, end), options);
      result.tokens.push(...part.tokens);
      result.stopped.push(...part.stopped);
      start = end;
    } catch (error) {
      if (!isOutOfMemory(error) || end - start <= 1) throw error;
      size.value = Math.ceil((end - start) / 2);
    }
  }
  return result;
}

// Single tokens that are nothing but line breaks: the answer ends at the first one.
function newlineTokenIds(tokenizer: ModelTokenizer): number[] {
  const ids = new Set<number>();
  for (const text of ["\n", "\n\n", "\r\n"]) {
    const encoded = tokenizer.encode(text, { addSpecialTokens: false });
    if (encoded.length === 1) ids.add(encoded[0]);
  }
  return [...ids];
}

function splitExamples(task: Task, split: SplitName): Example[] {
  const examples = task[split];
  if (!Array.isArray(examples)) throw new Error(`unknown split "${split}"; use "train", "dev" or "test"`);
  return examples;
}

/**
 * Evaluates a prompt (token ids in `tokenizer`'s vocabulary) on a split of a task: greedy reasoning, then
 * the extractor, then a short greedy answer, compared with the gold answer after `task.normalise`.
 * Rows are sorted by length into batches (less padding); records come back in split order.
 * @throws when the split is empty, the signal aborts, or the engine fails (other than out of memory).
 */
export async function evaluate(
  model: LanguageModel,
  tokenizer: ModelTokenizer,
  task: Task,
  prompt: number[],
  split: SplitName,
  options: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const template = options.template ?? "authors";
  const layout = options.layout ?? ((input: ExampleInput) => buildExampleLayout(tokenizer, input, { userTurnTemplate: template }));
  const maxNewTokens = options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const answerTokens = options.answerTokens ?? DEFAULT_ANSWER_TOKENS;
  const batch = { value: options.batchSize ?? DEFAULT_BATCH_SIZE };
  if (!Number.isInteger(batch.value) || batch.value < 1) throw new RangeError(`batchSize must be a positive integer, got ${batch.value}`);
  const all = splitExamples(task, split);
  const examples = options.limit === undefined ? all : all.slice(0, options.limit);
  if (examples.length === 0) throw new Error(`task ${task.name} has no ${split} examples to evaluate`);

  const stopTokenIds = tokenizer.stopTokenIds;
  const answerStopIds = [...stopTokenIds, ...newlineTokenIds(tokenizer)];
  const prefixes = examples.map((example) => layout({ question: example.question, prompt }).ids);
  // Longest first: similar lengths share a batch, and an out-of-memory split happens on the first batch.
  const order = examples.map((_, index) => index).sort((a, b) => prefixes[b].length - prefixes[a].length);

  const records: EvaluationRecord[] = new Array(examples.length);
  let done = 0;
  let correct = 0;
  // batch.value may shrink inside a batch (out of memory), so the loop advances by the rows it took.
  for (let start = 0; start < order.length; ) {
    options.signal?.throwIfAborted();
    const rows = order.slice(start, start + batch.value);
    start += rows.length;
    const reasoning = await generateInChunks(model, rows.map((row) => prefixes[row]), { maxNewTokens, stopTokenIds, signal: options.signal }, batch);
    const answerPrefixes = rows.map(
      (row, k) => layout({ question: examples[row].question, prompt, reasoning: reasoning.tokens[k], extractor: task.extractor }).ids,
    );
    const answers = await generateInChunks(model, answerPrefixes, { maxNewTokens: answerTokens, stopTokenIds: answerStopIds, signal: options.signal }, batch);
    rows.forEach((row, k) => {
      const example = examples[row];
      const extracted = tokenizer.decode(answers.tokens[k], { skipSpecialTokens: true }).split(/\r?\n/, 1)[0];
      const normalised = task.normalise(extracted);
      const isCorrect = normalised !== "" && normalised === task.normalise(example.answer);
      if (isCorrect) correct += 1;
      records[row] = {
        id: example.id,
        question: example.question,
        reasoning: tokenizer.decode(reasoning.tokens[k], { skipSpecialTokens: true }),
        reasoningTruncated: !reasoning.stopped[k],
        extracted,
        normalised,
        gold: example.answer,
        correct: isCorrect,
      };
    });
    done += rows.length;
    options.onProgress?.({ done, total: examples.length, correct });
  }
  return {
    task: task.name,
    split,
    prompt: { ids: prompt, text: tokenizer.decode(prompt) },
    correct,
    total: examples.length,
    accuracy: correct / examples.length,
    records,
  };
}

/**
 * Evaluates a prompt given as text, encoded with this model's tokenizer: for transfer, where a prompt
 * optimized with one model is evaluated with another. The text is encoded as the optimizer encodes an
 * initial prompt for the template (a leading space for "authors" and "plain").
 */
export async function evaluateText(
  model: LanguageModel,
  tokenizer: ModelTokenizer,
  task: Task,
  promptText: string,
  split: SplitName,
  options: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const prompt = encodePrompt(tokenizer, promptText, options.template ?? "authors");
  return evaluate(model, tokenizer, task, prompt, split, options);
}
