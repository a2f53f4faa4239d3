import { describe, expect, it } from "vitest";
import { emptyBookkeeping, recordStep, stopReason, type ScoredPrompt } from "../../ts/optimizer/bookkeeping.js";

const scored = (text: string, loss: number, step: number): ScoredPrompt => ({ ids: [text.length], text, loss, step });
const limits = { lossThreshold: 0.12, patience: 2, steps: 10 };

describe("bookkeeping", () => {
  it("keeps the best prompt by strictly lower loss (an equal loss keeps the earlier)", () => {
    let book = recordStep(emptyBookkeeping(), scored("a", 0.5, 0), 10);
    book = recordStep(book, scored("b", 0.5, 1), 10);
    expect(book.best?.text).toBe("a");
    book = recordStep(book, scored("c", 0.4, 2), 10);
    expect(book.best).toEqual(scored("c", 0.4, 2));
  });

  it("counts the steps since the best loss improved", () => {
    let book = recordStep(emptyBookkeeping(), scored("a", 0.5, 0), 10);
    expect(book.stepsSinceImprovement).toBe(0);
    book = recordStep(book, scored("b", 0.6, 1), 10);
    book = recordStep(book, scored("c", 0.5, 2), 10);
    expect(book.stepsSinceImprovement).toBe(2);
    book = recordStep(book, scored("d", 0.1, 3), 10);
    expect(book.stepsSinceImprovement).toBe(0);
  });

  it("keeps the top prompts sorted by loss, dropping the worst when full", () => {
    let book = emptyBookkeeping();
    for (const [i, loss] of [0.9, 0.3, 0.5, 0.7].entries()) book = recordStep(book, scored(`p${i}`, loss, i), 3);
    // 0.9 entered while there was room and left when 0.7 came in.
    expect(book.topPrompts.map((p) => [p.text, p.loss])).toEqual([["p1", 0.3], ["p2", 0.5], ["p3", 0.7]]);
    book = recordStep(book, scored("p4", 0.8, 4), 3); // worse than the worst kept: not entered
    expect(book.topPrompts.map((p) => p.text)).toEqual(["p1", "p2", "p3"]);
    book = recordStep(book, scored("p5", 0.5, 5), 3); // equal to p2: after it
    expect(book.topPrompts.map((p) => p.text)).toEqual(["p1", "p2", "p5"]);
  });

  it("holds each prompt text once, at its lowest loss", () => {
    let book = recordStep(emptyBookkeeping(), scored("same", 0.5, 0), 10);
    book = recordStep(book, scored("same", 0.6, 1), 10);
    expect(book.topPrompts).toEqual([scored("same", 0.5, 0)]);
    book = recordStep(book, scored("same", 0.2, 2), 10);
    expect(book.topPrompts).toEqual([scored("same", 0.2, 2)]);
  });

  it("stops under the loss threshold, after the patience, or at the step budget", () => {
    const fresh = recordStep(emptyBookkeeping(), scored("a", 0.5, 0), 10);
    expect(stopReason(fresh, 0.5, 1, limits)).toBeNull();
    expect(stopReason(fresh, 0.11, 1, limits)).toBe("threshold");
    expect(stopReason(fresh, 0.12, 1, limits)).toBeNull(); // strictly under
    expect(stopReason({ ...fresh, stepsSinceImprovement: 2 }, 0.5, 3, limits)).toBeNull(); // not more than patience
    expect(stopReason({ ...fresh, stepsSinceImprovement: 3 }, 0.5, 4, limits)).toBe("patience");
    expect(stopReason(fresh, 0.5, 10, limits)).toBe("steps");
  });
});
