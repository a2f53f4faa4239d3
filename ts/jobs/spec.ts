// A job is data: the JSON a service submits, checked here with errors that name the field. One schema
// (TypeBox, i.e. JSON Schema) gives the TypeScript type, the validation and the document an HTTP API serves.
// `runInputs` turns a spec into the same inputs `greater optimize` builds from its flags, so a job and a CLI
// run with the same spec and seed do the same work.
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { GreaterConfigError, resolveConfig, type GreaterConfig } from "../optimizer/config.js";
import type { RunInputs, TaskSource } from "../runs/run.js";
import { findPreset } from "../tasks/presets.js";

const Example = Type.Object(
  { question: Type.String({ minLength: 1 }), answer: Type.String({ minLength: 1 }) },
  { additionalProperties: false },
);

const PresetTask = Type.Object(
  {
    preset: Type.String({ minLength: 1, description: "bbh:<task>, gsm8k or folio" }),
    data: Type.Optional(Type.String({ minLength: 1, description: "a task file, or a folder laid out as bbh/, gsm8k/, folio/ (default: the shipped data)" })),
  },
  { additionalProperties: false },
);
const FileTask = Type.Object(
  { file: Type.String({ minLength: 1, description: "a BBH-format, JSON-lines or CSV task file" }) },
  { additionalProperties: false },
);
const InlineTask = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    extractor: Type.Optional(Type.String({ minLength: 1 })),
    train: Type.Array(Example, { minItems: 1 }),
    dev: Type.Optional(Type.Array(Example)),
    test: Type.Array(Example, { minItems: 1 }),
  },
  { additionalProperties: false },
);

const Sizes = Type.Object(
  {
    train: Type.Optional(Type.Integer({ minimum: 1 })),
    dev: Type.Optional(Type.Integer({ minimum: 0 })),
    test: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

const Split = Type.Union([Type.Literal("train"), Type.Literal("dev"), Type.Literal("test")]);

export const JobSpecSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal("optimize"), Type.Literal("evaluate")], { description: "optimize a prompt, or measure one" }),
    model: Type.String({ minLength: 1, description: "model folder on the worker (config.json, safetensors, tokenizer.json)" }),
    device: Type.Optional(Type.Union([Type.Literal("cpu"), Type.Literal("cuda")], { description: "which workers take it (default cpu)" })),
    dtype: Type.Optional(Type.Union([Type.Literal("float32"), Type.Literal("bfloat16"), Type.Literal("float16")])),
    task: Type.Union([PresetTask, FileTask, InlineTask], { description: "a preset, a task file, or inline examples" }),
    splitSeed: Type.Optional(Type.Integer({ minimum: 0 })),
    sizes: Type.Optional(Sizes),
    optimizer: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: "GReaTer options (GreaterConfig): steps, seed, initialPrompt, topK, maxNewTokens, …" }),
    ),
    evaluation: Type.Optional(
      Type.Object(
        {
          splits: Type.Optional(Type.Array(Split, { minItems: 1 })),
          maxNewTokens: Type.Optional(Type.Integer({ minimum: 1 })),
          limit: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    prompt: Type.Optional(Type.String({ description: "evaluate: the prompt measured (default: the optimizer's initial prompt)" })),
    name: Type.Optional(Type.String({ maxLength: 200, description: "a label shown in lists" })),
  },
  { additionalProperties: false, $id: "JobSpec" },
);

export type JobSpec = Static<typeof JobSpecSchema>;

/** A job spec that does not hold: `field` is its path, e.g. `optimizer.steps` or `task.train[3].answer`. */
export class JobSpecError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`job spec: ${field === "" ? "the spec" : `"${field}"`} ${reason}`);
    this.name = "JobSpecError";
  }
}

// "/task/train/3/answer" -> "task.train[3].answer"
function fieldName(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name === "" ? part : `${name}.${part}`), "");
}

const KNOWN_FIELDS = Object.keys(JobSpecSchema.properties);

/** Checks `value` against the job spec; returns it typed, or throws a {@link JobSpecError} naming the field. */
export function parseJobSpec(value: unknown): JobSpec {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new JobSpecError("", "must be a JSON object");
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!KNOWN_FIELDS.includes(key)) throw new JobSpecError(key, `is not a job spec field (known: ${KNOWN_FIELDS.join(", ")})`);
  }
  for (const key of ["kind", "model", "task"]) if (record[key] === undefined) throw new JobSpecError(key, "is required");
  if (!Value.Check(JobSpecSchema, value)) {
    // The union of task shapes reports only "expected a union"; say which shape the object was meant to be.
    const task = record.task;
    if (task !== null && typeof task === "object" && !Array.isArray(task)) {
      const shape = "preset" in task ? PresetTask : "file" in task ? FileTask : "train" in task || "test" in task ? InlineTask : null;
      if (shape === null) throw new JobSpecError("task", 'must have "preset", "file", or inline examples ("name", "train", "test")');
      const inner = Value.Errors(shape, task).First();
      if (inner) throw new JobSpecError(fieldName(`/task${inner.path}`), describeError(inner.message, inner.value));
    }
    const first = deepest(value);
    throw new JobSpecError(fieldName(first.path), describeError(first.message, first.value));
  }
  const spec = value as JobSpec;
  if ("preset" in spec.task && /[\\/]|\.\./.test(spec.task.preset)) {
    throw new JobSpecError("task.preset", `names a task, not a path (${JSON.stringify(spec.task.preset)}; give a file as task.file)`);
  }
  if ("preset" in spec.task && findPreset(spec.task.preset) === undefined && !spec.task.preset.startsWith("bbh:")) {
    throw new JobSpecError("task.preset", `names no built-in task (${JSON.stringify(spec.task.preset)}; e.g. bbh:navigate, gsm8k, folio)`);
  }
  try {
    resolveConfig(spec.optimizer as Partial<GreaterConfig> | undefined);
  } catch (error) {
    if (error instanceof GreaterConfigError) {
      throw new JobSpecError(`optimizer${error.field ? `.${error.field}` : ""}`, error.message.replace(/^config\.\S*\s/, ""));
    }
    throw error;
  }
  if (spec.kind === "optimize" && spec.prompt !== undefined) {
    throw new JobSpecError("prompt", 'is for "evaluate" jobs; an "optimize" job starts from optimizer.initialPrompt');
  }
  return spec;
}

// The error at the deepest path: for nested objects it names the innermost field that is wrong.
function deepest(value: unknown) {
  let best: { path: string; message: string; value: unknown } | undefined;
  for (const error of Value.Errors(JobSpecSchema, value)) {
    if (best === undefined || error.path.split("/").length > best.path.split("/").length) best = error;
  }
  return best!;
}

function describeError(message: string, value: unknown): string {
  const got = value === undefined ? "missing" : JSON.stringify(value)?.slice(0, 60);
  return `${message.replace(/^Expected/, "must be").replace(/^Unexpected property/, "is not a known field")} (got ${got})`;
}

/** The run a spec describes, as `greater optimize` would build it from its flags. */
export function runInputs(spec: JobSpec): RunInputs {
  const task: TaskSource = { spec: "custom", splitSeed: spec.splitSeed ?? 0, sizes: spec.sizes };
  if ("preset" in spec.task) Object.assign(task, { spec: spec.task.preset, data: spec.task.data });
  else if ("file" in spec.task) task.spec = spec.task.file;
  else task.inline = spec.task;
  const optimizer = { ...(spec.optimizer as Partial<GreaterConfig> | undefined) };
  if (spec.kind === "evaluate" && spec.prompt !== undefined) optimizer.initialPrompt = spec.prompt;
  return {
    model: { path: spec.model, device: spec.device ?? "cpu", dtype: spec.dtype },
    task,
    optimizer,
    evaluation: {
      splits: spec.evaluation?.splits ?? ["dev", "test"],
      maxNewTokens: spec.evaluation?.maxNewTokens ?? (optimizer.maxNewTokens as number | undefined) ?? 512,
      limit: spec.evaluation?.limit,
    },
  };
}

/** The paths a spec names, by field: what a worker or an API must check before anything reads them. */
export function namedPaths(spec: JobSpec): { field: "model" | "task.data" | "task.file"; path: string }[] {
  const named: { field: "model" | "task.data" | "task.file"; path: string }[] = [{ field: "model", path: spec.model }];
  if ("preset" in spec.task && spec.task.data !== undefined) named.push({ field: "task.data", path: spec.task.data });
  if ("file" in spec.task) named.push({ field: "task.file", path: spec.task.file });
  return named;
}

/** A short label for lists and sweep tables: the spec's name, else its task. */
export function jobLabel(spec: JobSpec): string {
  if (spec.name) return spec.name;
  return "preset" in spec.task ? spec.task.preset : "file" in spec.task ? spec.task.file : spec.task.name;
}
