import { describe, expect, it } from "vitest";
import {
  answersMatch,
  canonicalAnswer,
  canonicalNumber,
  firstNumber,
  leadingLetter,
  normaliserFor,
  statedChoice,
} from "../../ts/tasks/answers.js";

describe("canonicalNumber", () => {
  it.each([
    ["24", "24"],
    ["24.0", "24"],
    ["24.50", "24.5"],
    ["1,000", "1000"],
    ["1,000,000.00", "1000000"],
    ["+7", "7"],
    ["-0", "0"],
    ["-0.0", "0"],
    ["007", "7"],
    ["-11520", "-11520"],
    [" 12 ", "12"],
    [".5", "0.5"],
    ["123456789012345678901234567890", "123456789012345678901234567890"],
  ])("%s → %s", (text, expected) => {
    expect(canonicalNumber(text)).toBe(expected);
  });

  it.each(["", "abc", "1,00", "12a", "1.2.3", "--4", "1 000"])("rejects %j", (text) => {
    expect(canonicalNumber(text)).toBeNull();
  });
});

describe("firstNumber", () => {
  it("finds the first number and canonicalises it", () => {
    expect(firstNumber("$1,080$. Because")).toBe("1080");
    expect(firstNumber(" 18 dollars")).toBe("18");
    expect(firstNumber("The answer is -3 and 4")).toBe("-3");
    expect(firstNumber("\u22125")).toBe("-5");
    expect(firstNumber("none")).toBeNull();
  });
});

describe("canonicalAnswer", () => {
  it("treats (A) and A alike, ignoring case, $, spaces and punctuation around", () => {
    expect(canonicalAnswer("(A)")).toBe("a");
    expect(canonicalAnswer(" $A$ ")).toBe("a");
    expect(canonicalAnswer("'$ Yes'.")).toBe("yes");
    expect(canonicalAnswer("**No**")).toBe("no");
    expect(canonicalAnswer("Monsters,  Inc")).toBe("monsters, inc");
  });

  it("compares numbers as numbers and keeps their sign", () => {
    expect(canonicalAnswer("$-24$")).toBe("-24");
    expect(canonicalAnswer("24.0")).toBe("24");
    expect(canonicalAnswer("1,000.")).toBe("1000");
  });

  it("answersMatch is equality of canonical forms, never of two empty answers", () => {
    expect(answersMatch("(B)", "b")).toBe(true);
    expect(answersMatch("24.0", "$24$")).toBe(true);
    expect(answersMatch("1,000", "1000")).toBe(true);
    expect(answersMatch("Yes", "No")).toBe(false);
    expect(answersMatch("$", " ")).toBe(false);
  });
});

describe("leadingLetter and statedChoice", () => {
  it("reads the option letter a text starts with", () => {
    expect(leadingLetter("B")).toBe("b");
    expect(leadingLetter(" (C) because")).toBe("c");
    expect(leadingLetter("$D$.")).toBe("d");
    expect(leadingLetter("E) circle")).toBe("e");
    expect(leadingLetter("Because")).toBeNull();
    expect(leadingLetter("")).toBeNull();
  });

  it("reads the choice a text states, as a whole word", () => {
    expect(statedChoice("Yes.", ["Yes", "No"])).toBe("yes");
    expect(statedChoice(" $ no$", ["yes", "no"])).toBe("no");
    expect(statedChoice("invalid", ["valid", "invalid"])).toBe("invalid");
    expect(statedChoice("The argument is valid", ["valid", "invalid"])).toBe("valid");
    expect(statedChoice("Not sure, but No", ["Yes", "No"])).toBe("no");
    expect(statedChoice("Nothing", ["Yes", "No"])).toBeNull();
  });
});

describe("normaliserFor", () => {
  it("letters: gold and generation agree on the letter", () => {
    const normalise = normaliserFor({ kind: "letters", letters: ["A", "B", "C"] });
    expect(normalise("B")).toBe("b");
    expect(normalise("(B)")).toBe("b");
    expect(normalise("B$. The other options")).toBe("b");
    expect(normalise(" b")).toBe("b");
    expect(normalise("Monsters, Inc")).toBe("monsters, inc");
  });

  it("choices: case-insensitive words", () => {
    const normalise = normaliserFor({ kind: "choices", choices: ["Yes", "No"] });
    expect(normalise("Yes")).toBe("yes");
    expect(normalise("no$")).toBe("no");
    expect(normalise("Maybe")).toBe("maybe");
  });

  it("numbers: the first number, compared numerically", () => {
    const normalise = normaliserFor({ kind: "number" });
    expect(normalise("1000")).toBe(normalise("$1,000.00$"));
    expect(normalise("18 dollars")).toBe("18");
    expect(normalise("-24")).toBe("-24");
    expect(normalise("no idea")).toBe("no idea");
  });

  it("text: up to the closing $", () => {
    const normalise = normaliserFor({ kind: "text" });
    expect(normalise(" Monsters, Inc$. Because")).toBe("monsters, inc");
    expect(normalise("Monsters, Inc")).toBe("monsters, inc");
  });
});
