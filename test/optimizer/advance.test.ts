import { describe, expect, it } from "vitest";
import { advancePosition } from "../../ts/optimizer/advance.js";

const FILLER = 99;

describe("advancePosition", () => {
  it("moves to the next position inside the prompt", () => {
    expect(advancePosition([1, 2, 3], 1, true, FILLER)).toEqual({ prompt: [1, 2, 3], position: 2, wrapped: false, grew: false });
  });

  it("wraps to position 0 after the last position when the chosen token ends a sentence", () => {
    expect(advancePosition([1, 2, 3], 2, true, FILLER)).toEqual({ prompt: [1, 2, 3], position: 0, wrapped: true, grew: false });
  });

  it("otherwise appends the filler token and continues there", () => {
    expect(advancePosition([1, 2, 3], 2, false, FILLER)).toEqual({
      prompt: [1, 2, 3, FILLER],
      position: 3,
      wrapped: false,
      grew: true,
    });
  });

  it("does not wrap from inside the prompt even after a sentence end", () => {
    expect(advancePosition([1, 2, 3], 0, true, FILLER).position).toBe(1);
  });
});
