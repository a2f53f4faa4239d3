// Chat templates strip strings as Python does (ts/text/jinja-python-strings.ts): Jinja's trim filter and the
// strip/lstrip/rstrip methods, against jinja2's own rendering (test/fixtures/tokenizers/chat/strip.json, made by
// tools/make_tokenizer_fixtures.py --only strip).
import { describe, expect, test } from "vitest";
import { ChatTemplate } from "../../ts/text/index.js";
import { pythonStrip } from "../../ts/text/jinja-python-strings.js";
import { readFixture } from "./helpers.js";

const fixture = readFixture<{ cases: Array<{ template: string; input: string; output: string }> }>("chat/strip.json");

describe("string stripping in chat templates", () => {
  test.each(fixture.cases.map((c) => [c.template, JSON.stringify(c.input), c] as const))("%s on %s renders as jinja2 does", (_, __, c) => {
    const rendered = new ChatTemplate(c.template, "test", { s: c.input }).render([], { addGenerationPrompt: false });
    expect(rendered).toBe(c.output);
  });

  test("the cases include the characters where Python and JavaScript disagree", () => {
    const keptByPython = fixture.cases.filter((c) => c.template === "{{ s | trim }}" && c.output.startsWith("\ufeff"));
    const strippedByPython = fixture.cases.filter((c) => c.template === "{{ s.strip() }}" && /[\x85\x1c-\x1f]/.test(c.input) && !/[\x85\x1c-\x1f]/.test(c.output));
    expect(keptByPython.length).toBeGreaterThan(0);
    expect(strippedByPython.length).toBeGreaterThan(0);
    expect("\ufeffx".trim()).toBe("x"); // JavaScript's own trim, which the library used, differs
  });

  test("pythonStrip with characters strips code points, not UTF-16 halves", () => {
    expect(pythonStrip("🙂ab🙂", "🙂", "both")).toBe("ab");
    expect(pythonStrip("xxhixx", "x", "start")).toBe("hixx");
    expect(pythonStrip("xxhixx", "x", "end")).toBe("xxhi");
  });
});
