// The job spec: valid specs become the same run inputs `greater optimize` builds; invalid ones name the field.
import { describe, expect, it } from "vitest";
import { JobSpecError, parseJobSpec, runInputs } from "../../ts/jobs/spec.js";

const valid = {
  kind: "optimize",
  model: "/models/llama",
  task: { preset: "bbh:navigate" },
  optimizer: { steps: 3, seed: 7 },
  evaluation: { splits: ["test"], limit: 20 },
};

function fieldOf(spec: unknown): string {
  try {
    parseJobSpec(spec);
  } catch (error) {
    expect(error).toBeInstanceOf(JobSpecError);
    return (error as JobSpecError).field;
  }
  throw new Error("the spec was accepted");
}

describe("job spec", () => {
  it("accepts a preset, a file and an inline task, and maps them to run inputs", () => {
    const inputs = runInputs(parseJobSpec(valid));
    expect(inputs.model).toEqual({ path: "/models/llama", device: "cpu", dtype: undefined });
    expect(inputs.task).toMatchObject({ spec: "bbh:navigate", splitSeed: 0 });
    expect(inputs.optimizer).toEqual({ steps: 3, seed: 7 });
    expect(inputs.evaluation).toEqual({ splits: ["test"], maxNewTokens: 512, limit: 20 });

    const file = runInputs(parseJobSpec({ ...valid, task: { file: "/data/navigate.json" }, device: "cuda", dtype: "bfloat16" }));
    expect(file.task.spec).toBe("/data/navigate.json");
    expect(file.model).toEqual({ path: "/models/llama", device: "cuda", dtype: "bfloat16" });

    const inline = { name: "sums", train: [{ question: "1+1?", answer: "2" }], test: [{ question: "2+2?", answer: "4" }] };
    const fromInline = runInputs(parseJobSpec({ ...valid, task: inline, sizes: { train: 1 } }));
    expect(fromInline.task.inline).toEqual(inline);
    expect(fromInline.task.sizes).toEqual({ train: 1 });

    const evaluation = runInputs(parseJobSpec({ kind: "evaluate", model: "/m", task: { preset: "gsm8k" }, prompt: " think." }));
    expect(evaluation.optimizer.initialPrompt).toBe(" think.");
    expect(evaluation.evaluation.splits).toEqual(["dev", "test"]);
  });

  it("names the field at fault", () => {
    expect(fieldOf(null)).toBe("");
    expect(fieldOf({ ...valid, kind: undefined })).toBe("kind");
    expect(fieldOf({ ...valid, kind: "train" })).toBe("kind");
    expect(fieldOf({ ...valid, model: 3 })).toBe("model");
    expect(fieldOf({ ...valid, modle: "/x" })).toBe("modle");
    expect(fieldOf({ ...valid, device: "tpu" })).toBe("device");
    expect(fieldOf({ ...valid, optimizer: { steps: 0 } })).toBe("optimizer.steps");
    expect(fieldOf({ ...valid, optimizer: { stepz: 2 } })).toBe("optimizer.stepz");
    expect(fieldOf({ ...valid, evaluation: { splits: ["val"] } })).toBe("evaluation.splits[0]");
    expect(fieldOf({ ...valid, sizes: { train: 0 } })).toBe("sizes.train");
    expect(fieldOf({ ...valid, task: { preset: "navigate" } })).toBe("task.preset");
    expect(fieldOf({ ...valid, task: { preset: "bbh:../../etc/passwd" } })).toBe("task.preset");
    expect(fieldOf({ ...valid, task: { preset: "bbh:navigate", colour: 1 } })).toBe("task.colour");
    expect(fieldOf({ ...valid, task: { name: "t", train: [{ question: "q", answer: "" }], test: [{ question: "q", answer: "a" }] } })).toBe("task.train[0].answer");
    expect(fieldOf({ ...valid, task: {} })).toBe("task");
    expect(fieldOf({ ...valid, prompt: "x" })).toBe("prompt");
  });

  it("says what is wrong in the message", () => {
    expect(() => parseJobSpec({ ...valid, optimizer: { steps: -1 } })).toThrow(/"optimizer\.steps".*(integer|positive|≥|>=)/);
    expect(() => parseJobSpec({ ...valid, evaluation: { splits: ["val"] } })).toThrow(/"evaluation\.splits\[0\]".*val/);
  });
});
