// The layout round-trips on the training examples of three BBH tasks (first 50 rows) and GSM8K (first 100 train
// rows) from ../shared/data, with each chat template: ids are the whole text's tokenization, the prompt is verbatim,
// the parts decode to their texts, and the generation prefix is the head of the full example.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { buildExampleLayout, encodePrompt, type ExampleInput, type LoadTokenizerOptions } from "../../ts/text/index.js";
import { readCsv, readJsonl, SHIPPED_DATA, tokenizer, type TokenizerName } from "./helpers.js";

const INITIAL_PROMPT = " proper logical reasoning and think step by step. Finally give the actual correct answer.";
const letters = (n: number) => "ABCDEFGHIJ".slice(0, n).split("").map((x) => `'$${x}'`).join(" or ");

/** An example as the optimizer would lay it out: its question, a reasoning text, the extractor and the gold answer. */
interface DataExample {
  question: string;
  reasoning: string;
  extractor: string;
  answer: string;
}

function bbhExamples(task: string, extractor: string, answerOf: (finalTarget: string) => string): DataExample[] {
  return readCsv(join(SHIPPED_DATA, "bbh", `${task}.csv`)).slice(0, 50).map((row) => ({
    question: row["goal"],
    // BBH rows have no reasoning; this stands in for a generated one, with the question's text in it.
    reasoning: `Let's think step by step.\n${row["goal"].split("\n")[0]}\nSo the answer is ${row["final_target"]}.`,
    extractor,
    answer: answerOf(row["final_target"]),
  }));
}

function gsm8kExamples(): DataExample[] {
  return readJsonl<{ question: string; answer: string }>(join(SHIPPED_DATA, "gsm8k", "train.jsonl")).slice(0, 100).map((row) => {
    const [reasoning, gold] = row.answer.split("\n#### ");
    return { question: row.question, reasoning, extractor: "Therefore, the final numerical answer is $ ", answer: gold.trim() };
  });
}

const datasets: Array<[string, () => DataExample[]]> = [
  ["navigate", () => bbhExamples("navigate", "Therefore, the final answer (use exact format: '$ Yes' or '$ No') is $ ", (a) => a)],
  ["date_understanding", () => bbhExamples("date_understanding", `Therefore, the final answer (use exact format: ${letters(6)}) is $`, (a) => a.replace(/[()]/g, ""))],
  ["boolean_expressions", () => bbhExamples("boolean_expressions", "Therefore, the final answer (use exact format: '$ True' or '$ False') is $ ", (a) => a)],
  ["gsm8k", gsm8kExamples],
];

const templates: Array<[string, TokenizerName, LoadTokenizerOptions]> = [
  ["llama3", "llama3", {}],
  ["qwen3", "qwen3", {}],
  ["qwen3 without thinking", "qwen3", { chatTemplateKwargs: { enable_thinking: false } }],
  ["tiny-bytelevel", "tiny-bytelevel", {}],
  ["tiny-bytelevel-gpt2", "tiny-bytelevel-gpt2", {}],
];

// Where ../shared/data is absent the suite is skipped, and its name says why.
describe("layout round trip on the shipped data", () => {
  for (const [label, name, options] of templates) {
    for (const [dataset, load] of datasets) {
      test(`${label}: ${dataset}`, async () => {
        const tok = await tokenizer(name, options);
        const prompt = encodePrompt(tok, INITIAL_PROMPT);
        const examples = load();
        expect(examples.length).toBe(dataset === "gsm8k" ? 100 : 50);
        for (const example of examples) {
          const input: ExampleInput = {
            question: example.question, prompt, reasoning: tok.encode(example.reasoning), extractor: example.extractor, answer: example.answer,
          };
          const layout = buildExampleLayout(tok, input);
          const decode = (span: { start: number; end: number }) => tok.decode(layout.ids.slice(span.start, span.end));
          const { question, prompt: promptSpan, header, reasoning, extractor, answer } = layout.spans;
          const context = `${label} ${dataset}: ${JSON.stringify(example.question.slice(0, 60))}`;

          expect(layout.ids, context).toEqual(tok.encode(layout.text));
          expect(layout.canonical, context).toBe(true);
          expect(layout.promptVerbatim, context).toBe(true);
          expect([question.end, promptSpan.end, header.end, reasoning.end, extractor.end], context)
            .toEqual([promptSpan.start, header.start, reasoning.start, extractor.start, answer.start]);
          expect(answer.end).toBe(layout.ids.length);
          expect(decode(question), context).toBe('"' + example.question + '. Use"');
          expect(decode(promptSpan), context).toBe(INITIAL_PROMPT);
          expect(decode(reasoning), context).toBe(example.reasoning);
          expect(decode({ start: extractor.start, end: answer.end }), context).toBe(" " + example.extractor + example.answer);
          expect(decode(answer).endsWith(example.answer), context).toBe(true);
          for (const merge of layout.merges) expect([merge.before, merge.after], context).toEqual(["extractor", "answer"]);

          const prefix = buildExampleLayout(tok, { question: example.question, prompt });
          expect(prefix.ids, context).toEqual(layout.ids.slice(0, header.end));
        }
      });
    }
  }
});
