// Built-in tasks: the 21 BIG-Bench Hard tasks of the GReaTer paper, GSM8K and FOLIO, each with the answer
// format and extractor text of the authors' run scripts (docs/algorithm.md, "The objects").
import { extractorFor, lettersThrough, type ExtractorStyle } from "./formats.js";
import type { AnswerFormat } from "./types.js";

/** A built-in task's answer format and extractor. */
export interface TaskPreset {
  /** `bbh:<task>`, `gsm8k` or `folio`. */
  name: string;
  format: AnswerFormat;
  /** The extractor text for a model family's style (the styles differ only for option letters). */
  extractor(style?: ExtractorStyle): string;
}

// The authors' extractors for the word and number answers, verbatim.
const YES_NO = "Therefore, the final answer (use exact format: '$ Yes' or '$ No') is $ ";
const LOWER_YES_NO = "Therefore, the final answer (use exact format: '$ yes' or '$ no') is $ ";
const VALID_INVALID = "Therefore, the final answer (use exact format: '$ valid' or '$ invalid') is $ ";
const TRUE_FALSE = "Therefore, the final answer (use exact format: '$ True' or '$ False') is $ ";
const SIGNED_INTEGER =
  "Therefore, the final answer (use exactly this format: $NUMBER$, where NUMBER is a positive or negative integer) is $";
const POSITIVE_INTEGER =
  "Therefore, the final answer (use exactly this format: $NUMBER$, where NUMBER is a positive integer) is $";
// GSM8K and FOLIO have no line in the table of BBH extractors; these follow the same pattern.
const GSM8K_NUMBER = "Therefore, the final numerical answer is $ ";
const TRUE_FALSE_UNCERTAIN = "Therefore, the final answer (use exact format: '$ True' or '$ False' or '$ Uncertain') is $ ";

function fixed(name: string, format: AnswerFormat, extractor: string): TaskPreset {
  return { name, format, extractor: () => extractor };
}

function letters(name: string, last: string): TaskPreset {
  const format: AnswerFormat = { kind: "letters", letters: lettersThrough(last) };
  return { name, format, extractor: (style = "default") => extractorFor(format, style) };
}

const PRESETS: TaskPreset[] = [
  fixed("bbh:multistep_arithmetic_two", { kind: "integer", signed: true }, SIGNED_INTEGER),
  fixed("bbh:object_counting", { kind: "integer", signed: false }, POSITIVE_INTEGER),
  fixed("bbh:causal_judgement", { kind: "choices", choices: ["Yes", "No"] }, YES_NO),
  fixed("bbh:navigate", { kind: "choices", choices: ["Yes", "No"] }, YES_NO),
  fixed("bbh:web_of_lies", { kind: "choices", choices: ["Yes", "No"] }, YES_NO),
  fixed("bbh:sports_understanding", { kind: "choices", choices: ["yes", "no"] }, LOWER_YES_NO),
  fixed("bbh:formal_fallacies", { kind: "choices", choices: ["valid", "invalid"] }, VALID_INVALID),
  fixed("bbh:boolean_expressions", { kind: "choices", choices: ["True", "False"] }, TRUE_FALSE),
  letters("bbh:hyperbaton", "B"),
  letters("bbh:snarks", "B"),
  letters("bbh:disambiguation_qa", "C"),
  letters("bbh:movie_recommendation", "D"),
  letters("bbh:ruin_names", "D"),
  letters("bbh:temporal_sequences", "D"),
  letters("bbh:date_understanding", "E"),
  letters("bbh:tracking_shuffled_objects_five_objects", "E"),
  letters("bbh:penguins_in_a_table", "E"),
  letters("bbh:logical_deduction_five_objects", "E"),
  letters("bbh:salient_translation_error_detection", "F"),
  letters("bbh:geometric_shapes", "J"),
  letters("bbh:reasoning_about_colored_objects", "R"),
  fixed("gsm8k", { kind: "number" }, GSM8K_NUMBER),
  fixed("folio", { kind: "choices", choices: ["True", "False", "Uncertain"] }, TRUE_FALSE_UNCERTAIN),
];

const PRESETS_BY_NAME = new Map(PRESETS.map((preset) => [preset.name, preset]));

/** The built-in task of that name (`bbh:navigate`, `gsm8k`, `folio`), or undefined. */
export function findPreset(name: string): TaskPreset | undefined {
  return PRESETS_BY_NAME.get(name);
}

/** Names of all built-in tasks, BBH first in the order of the paper's table. */
export function presetNames(): string[] {
  return PRESETS.map((preset) => preset.name);
}
