import { describe, expect, it } from "vitest";
import { extractorFor, extractorStyleFor, goldFor, inferAnswerFormat, lettersThrough } from "../../ts/tasks/formats.js";
import { findPreset, presetNames } from "../../ts/tasks/presets.js";

// The extractor texts of docs/ALGORITHM.md's table, written out in full.
const EXPECTED_BBH_EXTRACTORS: Record<string, string> = {
  multistep_arithmetic_two:
    "Therefore, the final answer (use exactly this format: $NUMBER$, where NUMBER is a positive or negative integer) is $",
  object_counting: "Therefore, the final answer (use exactly this format: $NUMBER$, where NUMBER is a positive integer) is $",
  causal_judgement: "Therefore, the final answer (use exact format: '$ Yes' or '$ No') is $ ",
  navigate: "Therefore, the final answer (use exact format: '$ Yes' or '$ No') is $ ",
  web_of_lies: "Therefore, the final answer (use exact format: '$ Yes' or '$ No') is $ ",
  sports_understanding: "Therefore, the final answer (use exact format: '$ yes' or '$ no') is $ ",
  formal_fallacies: "Therefore, the final answer (use exact format: '$ valid' or '$ invalid') is $ ",
  boolean_expressions: "Therefore, the final answer (use exact format: '$ True' or '$ False') is $ ",
  hyperbaton: "Therefore, the final answer (use exact format: '$A' or '$B') is $",
  snarks: "Therefore, the final answer (use exact format: '$A' or '$B') is $",
  disambiguation_qa: "Therefore, the final answer (use exact format: '$A' or '$B' or '$C') is $",
  movie_recommendation: "Therefore, the final answer (use exact format: '$A' or '$B' or '$C' or '$D') is $",
  ruin_names: "Therefore, the final answer (use exact format: '$A' or '$B' or '$C' or '$D') is $",
  temporal_sequences: "Therefore, the final answer (use exact format: '$A' or '$B' or '$C' or '$D') is $",
  date_understanding: "Therefore, the final answer (use exact format: '$A' or '$B' or '$C' or '$D' or '$E') is $",
  tracking_shuffled_objects_five_objects:
    "Therefore, the final answer (use exact format: '$A' or '$B' or '$C' or '$D' or '$E') is $",
  penguins_in_a_table: "Therefore, the final answer (use exact format: '$A' or '$B' or '$C' or '$D' or '$E') is $",
  logical_deduction_five_objects: "Therefore, the final answer (use exact format: '$A' or '$B' or '$C' or '$D' or '$E') is $",
  salient_translation_error_detection:
    "Therefore, the final answer (use exact format: '$A' or '$B' or '$C' or '$D' or '$E' or '$F') is $",
  geometric_shapes:
    "Therefore, the final answer (use exact format: '$A' or '$B' or '$C' or '$D' or '$E' or '$F' or '$G' or '$H' or '$I' or '$J') is $",
  reasoning_about_colored_objects:
    "Therefore, the final answer (use exact format: '$A' or '$B' or '$C' or '$D' or '$E' or '$F' or '$G' or '$H' or '$I' or '$J' or '$K' or '$L' or '$M' or '$N' or '$O' or '$P' or '$Q' or '$R') is $",
};

describe("presets", () => {
  it("has the paper's 21 BBH tasks, GSM8K and FOLIO", () => {
    const names = presetNames();
    expect(names.filter((name) => name.startsWith("bbh:")).sort()).toEqual(
      Object.keys(EXPECTED_BBH_EXTRACTORS)
        .map((task) => `bbh:${task}`)
        .sort(),
    );
    expect(names).toContain("gsm8k");
    expect(names).toContain("folio");
    expect(names).toHaveLength(23);
  });

  it.each(Object.entries(EXPECTED_BBH_EXTRACTORS))("bbh:%s has the authors' extractor", (task, extractor) => {
    expect(findPreset(`bbh:${task}`)!.extractor()).toBe(extractor);
  });

  it("writes Gemma-2 letters with a space, and leaves word extractors alone", () => {
    expect(findPreset("bbh:hyperbaton")!.extractor("gemma2")).toBe("Therefore, the final answer (use exact format: '$ A' or '$ B') is $");
    expect(findPreset("bbh:navigate")!.extractor("gemma2")).toBe(EXPECTED_BBH_EXTRACTORS.navigate);
    expect(extractorStyleFor("gemma2")).toBe("gemma2");
    expect(extractorStyleFor("llama")).toBe("default");
  });

  it("GSM8K asks for a number, FOLIO for True/False/Uncertain", () => {
    expect(findPreset("gsm8k")!.extractor()).toBe("Therefore, the final numerical answer is $ ");
    expect(findPreset("folio")!.format).toEqual({ kind: "choices", choices: ["True", "False", "Uncertain"] });
    expect(findPreset("bbh:nonexistent")).toBeUndefined();
  });
});

describe("goldFor", () => {
  it("drops parentheses from letters and accepts bare letters only when the question lists them", () => {
    const letters = { kind: "letters" as const, letters: lettersThrough("C") };
    expect(goldFor(letters, "(B)")).toBe("B");
    expect(goldFor(letters, "B", "Options:\n(A) x\n(B) y")).toBe("B");
    expect(goldFor(letters, "B", "no options here")).toBeNull();
    expect(goldFor(letters, "Monsters, Inc")).toBeNull();
  });

  it("spells choices as the extractor does", () => {
    expect(goldFor({ kind: "choices", choices: ["Yes", "No"] }, "yes")).toBe("Yes");
    expect(goldFor({ kind: "choices", choices: ["Yes", "No"] }, "Maybe")).toBeNull();
  });

  it("checks integers' sign and drops thousands commas", () => {
    expect(goldFor({ kind: "integer", signed: false }, "1,024")).toBe("1024");
    expect(goldFor({ kind: "integer", signed: false }, "-3")).toBeNull();
    expect(goldFor({ kind: "integer", signed: true }, "-3")).toBe("-3");
    expect(goldFor({ kind: "integer", signed: true }, "3.5")).toBeNull();
    expect(goldFor({ kind: "number" }, "3.50")).toBe("3.5");
  });
});

describe("inferAnswerFormat", () => {
  it("infers option letters, counting options listed in questions", () => {
    const inferred = inferAnswerFormat(["(A)", "(C)", "(B)"], ["q\n(A) a\n(B) b\n(C) c\n(D) d", "", ""]);
    expect(inferred.format).toEqual({ kind: "letters", letters: ["A", "B", "C", "D"] });
    expect(inferred.misfits).toEqual([]);
    expect(inferred.note).toContain("3 of 3");
    expect(extractorFor(inferred.format)).toBe("Therefore, the final answer (use exact format: '$A' or '$B' or '$C' or '$D') is $");
  });

  it("keeps the data's case for yes/no", () => {
    expect(inferAnswerFormat(["yes", "no", "no"], []).format).toEqual({ kind: "choices", choices: ["yes", "no"] });
    expect(inferAnswerFormat(["Yes", "Yes"], []).format).toEqual({ kind: "choices", choices: ["Yes", "No"] });
    expect(inferAnswerFormat(["no", "no"], []).format).toEqual({ kind: "choices", choices: ["yes", "no"] });
  });

  it("prefers True/False over True/False/Uncertain unless Uncertain occurs", () => {
    expect(inferAnswerFormat(["True", "False"], []).format).toEqual({ kind: "choices", choices: ["True", "False"] });
    expect(inferAnswerFormat(["True", "Uncertain", "False"], []).format).toEqual({
      kind: "choices",
      choices: ["True", "False", "Uncertain"],
    });
    expect(inferAnswerFormat(["valid", "invalid"], []).format).toEqual({ kind: "choices", choices: ["valid", "invalid"] });
  });

  it("infers integers (signed when negatives occur), numbers, and free text", () => {
    expect(inferAnswerFormat(["3", "12"], []).format).toEqual({ kind: "integer", signed: false });
    expect(inferAnswerFormat(["3", "-12"], []).format).toEqual({ kind: "integer", signed: true });
    expect(inferAnswerFormat(["3.5", "12"], []).format).toEqual({ kind: "number" });
    const text = inferAnswerFormat(["Paris", "Rome", "12"], []);
    expect(text.format).toEqual({ kind: "text" });
    expect(text.note).toContain("free text");
  });

  it("takes a format that 95 % fit and names the misfits", () => {
    const golds = [...Array.from({ length: 19 }, (_, index) => `(${"ABCD"[index % 4]})`), "Monsters, Inc"];
    const inferred = inferAnswerFormat(golds, []);
    expect(inferred.format.kind).toBe("letters");
    expect(inferred.misfits).toEqual([19]);
    const tooMany = inferAnswerFormat([...golds.slice(0, 18), "x", "y"], []);
    expect(tooMany.format.kind).toBe("text");
  });
});
