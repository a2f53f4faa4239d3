// [INST]-style chat templates (Mistral-Instruct, Llama-2-chat) lay out: their SentencePiece tokenizers start every text
// segment between special tokens with "▁", so "<s>[INST]" encodes as <s> "▁[" "INST" "]" (as transformers encodes it)
// and decodes with a space after <s>. The layout's ids are the rendered text's tokenization, the prompt is verbatim, and
// the parts decode, as continuations (ts/text/continuation.ts), to their texts. On the real Mistral-7B tokenizer with
// Mistral-Instruct's template, and on the real Llama 2 tokenizer with Llama-2-chat's.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import {
  addsDummyPrefix,
  buildExampleLayout,
  decodeContinuation,
  encodePrompt,
  type HfModelTokenizer,
} from "../../ts/text/index.js";
import { promptRoundTrips } from "../../ts/text/prompt-round-trip.js";
import { readCsv, readJsonl, SHIPPED_DATA, tokenizer } from "./helpers.js";

const INITIAL_PROMPT = " proper logical reasoning and think step by step. Finally give the actual correct answer.";
// Llama-2-chat's template, as its tokenizer_config.json on the hub has it (system message folded into the first turn).
const LLAMA2_CHAT_TEMPLATE =
  "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
  "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}" +
  "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}" +
  "{% else %}{% set content = message['content'] %}{% endif %}" +
  "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

const cases: Array<[string, () => Promise<HfModelTokenizer>]> = [
  ["mistral (Mistral-Instruct template)", () => tokenizer("mistral")],
  ["llama2 (Llama-2-chat template)", () => tokenizer("llama2", { chatTemplate: LLAMA2_CHAT_TEMPLATE })],
];

interface Example { question: string; reasoning: string; extractor: string; answer: string }

function examples(): Example[] {
  const navigate = readCsv(join(SHIPPED_DATA, "bbh", "navigate.csv")).slice(0, 30).map((row) => ({
    question: row["goal"],
    reasoning: `Let's think step by step.\n${row["goal"].split("\n")[0]}\nSo the answer is ${row["final_target"]}.`,
    extractor: "Therefore, the final answer (use exact format: '$ Yes' or '$ No') is $ ",
    answer: row["final_target"],
  }));
  const gsm = readJsonl<{ question: string; answer: string }>(join(SHIPPED_DATA, "gsm8k", "train.jsonl")).slice(0, 30).map((row) => {
    const [reasoning, gold] = row.answer.split("\n#### ");
    return { question: row.question, reasoning, extractor: "Therefore, the final numerical answer is $ ", answer: gold.trim() };
  });
  return [...navigate, ...gsm];
}

describe.each(cases)("%s", (_, load) => {
  test("the tokenizer adds a dummy prefix, and the rendered turn starts <s> [INST] as transformers tokenizes it", async () => {
    const tok = await load();
    expect(addsDummyPrefix(tok)).toBe(true);
    const rendered = tok.renderUserTurn("Hi");
    expect(rendered).toBe("<s>[INST] Hi [/INST]");
    const ids = tok.encode(rendered);
    expect(ids[0]).toBe(tok.bosTokenId);
    expect(tok.idToToken(ids[1])).toBe("▁[");
    expect(tok.decode(ids)).toBe("<s> [INST] Hi [/INST]");
  });

  test("the initial prompt is the ids it has inside the message, and round-trips", async () => {
    const tok = await load();
    const prompt = encodePrompt(tok, INITIAL_PROMPT);
    expect(tok.idToToken(prompt[0])).toBe("▁proper"); // not "▁▁proper", as encoding the text alone gives
    expect(decodeContinuation(tok, prompt)).toBe(INITIAL_PROMPT);
    expect(promptRoundTrips(tok, prompt, { mode: "exact" })).toBe(true);
  });

  test("examples from BBH and GSM8K lay out: ids are the text's tokenization, spans decode to their parts", async () => {
    const tok = await load();
    const prompt = encodePrompt(tok, INITIAL_PROMPT);
    const all = examples();
    expect(all.length).toBe(60);
    for (const example of all) {
      // The model's reasoning after "[/INST]" starts with a word boundary, as encoding the text alone gives.
      const reasoning = tok.encode(example.reasoning);
      const layout = buildExampleLayout(tok, { question: example.question, prompt, reasoning, extractor: example.extractor, answer: example.answer });
      const part = (span: { start: number; end: number }) => decodeContinuation(tok, layout.ids.slice(span.start, span.end));
      const context = JSON.stringify(example.question.slice(0, 50));
      const { question, prompt: promptSpan, header, reasoning: reasoningSpan, extractor, answer } = layout.spans;

      expect(layout.text, context).toBe(tok.renderUserTurn('"' + example.question + '. Use"' + INITIAL_PROMPT) + " " + example.reasoning +
        " " + example.extractor + example.answer);
      expect(layout.ids, context).toEqual(tok.encode(layout.text));
      expect(layout.canonical, context).toBe(true);
      expect(layout.promptVerbatim, context).toBe(true);
      expect([question.end, promptSpan.end, header.end, reasoningSpan.end, extractor.end], context)
        .toEqual([promptSpan.start, header.start, reasoningSpan.start, extractor.start, answer.start]);
      expect(answer.end).toBe(layout.ids.length);
      expect(layout.ids.slice(promptSpan.start, promptSpan.end)).toEqual(prompt);
      expect(part(question), context).toBe(' "' + example.question + '. Use"');
      expect(part(promptSpan), context).toBe(INITIAL_PROMPT);
      expect(part(header), context).toBe(" [/INST]");
      expect(part(reasoningSpan), context).toBe(" " + example.reasoning);
      expect(part({ start: extractor.start, end: answer.end }), context).toBe(" " + example.extractor + example.answer);

      const prefix = buildExampleLayout(tok, { question: example.question, prompt });
      expect(prefix.ids, context).toEqual(layout.ids.slice(0, header.end));
    }
  });
});
