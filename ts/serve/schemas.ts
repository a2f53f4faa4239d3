// The API's schemas: the request body is the job spec's own schema (ts/jobs/spec.ts); the responses are defined
// here once, checked against the job layer's TypeScript types at compile time, and served as OpenAPI.
import { Type, type Static } from "@sinclair/typebox";
import { JobSpecSchema } from "../jobs/spec.js";
import { JOB_STATUSES, type JobInfo } from "../jobs/types.js";

export const JobStatusSchema = Type.Union(JOB_STATUSES.map((s) => Type.Literal(s)));

const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);

export const JobProgressSchema = Type.Object({
  phase: Type.Union([Type.Literal("loading"), Type.Literal("evaluating"), Type.Literal("optimizing"), Type.Literal("done")]),
  step: Type.Integer(),
  steps: Type.Integer(),
  loss: Nullable(Type.Number()),
  bestLoss: Nullable(Type.Number()),
  prompt: Nullable(Type.String()),
  bestPrompt: Nullable(Type.String()),
  worker: Type.String(),
});

export const JobInfoSchema = Type.Object(
  {
    id: Type.String(),
    status: JobStatusSchema,
    label: Type.String(),
    spec: Type.Ref("JobSpec"),
    device: Type.Union([Type.Literal("cpu"), Type.Literal("cuda")]),
    progress: Type.Union([JobProgressSchema, Type.Null()]),
    result: Type.Union([Type.Object({ kind: Type.Union([Type.Literal("optimize"), Type.Literal("evaluate")]) }, { additionalProperties: true }), Type.Null()], {
      description: "optimize: the run's result.json (initialPrompt, bestPrompt, trainLoss, accuracy, topPrompts, …) and worker; evaluate: prompt, accuracy, counts",
    }),
    error: Nullable(Type.String()),
    attempts: Type.Integer(),
    maxAttempts: Type.Integer(),
    createdAt: Type.String({ format: "date-time" }),
    startedAt: Nullable(Type.String({ format: "date-time" })),
    finishedAt: Nullable(Type.String({ format: "date-time" })),
  },
  { $id: "JobInfo" },
);

// The schema and the type the job layer returns must agree: this line stops compiling when they drift.
export const jobInfoMatches = (info: JobInfo): Omit<Static<typeof JobInfoSchema>, "spec" | "result"> => info;

export const ErrorSchema = Type.Object({ error: Type.String(), field: Type.Optional(Type.String()) }, { $id: "Error" });

export const HealthSchema = Type.Object({
  redis: Type.String({ description: '"ok", or why Redis cannot be used' }),
  workers: Type.Array(Type.Object({ id: Type.String(), host: Type.String(), pid: Type.Integer(), device: Type.String(), job: Nullable(Type.String()), seenAt: Type.Integer() })),
});

/** The OpenAPI 3.1 document of the API (JSON Schema 2020-12 schemas, as TypeBox writes them). */
export function openApiDocument(version: string): Record<string, unknown> {
  const json = { "application/json": {} };
  const ref = (name: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${name}` } } });
  const errors = { 400: { description: "invalid input; `field` names it", content: ref("Error") }, 401: { description: "no or wrong bearer token", content: ref("Error") } };
  const idParam = [{ name: "id", in: "path", required: true, schema: { type: "string" } }];
  return {
    openapi: "3.1.0",
    info: { title: "greater", version, description: "GReaTer prompt optimization jobs on a BullMQ queue" },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        JobSpec: stripId(JobSpecSchema),
        JobInfo: stripId(JobInfoSchema),
        JobStatus: JobStatusSchema,
        Error: stripId(ErrorSchema),
        Health: HealthSchema,
      },
    },
    security: [{ bearer: [] }],
    paths: {
      "/api/jobs": {
        post: { summary: "submit a job", requestBody: { required: true, content: ref("JobSpec") }, responses: { 201: { description: "queued", content: json }, ...errors } },
        get: {
          summary: "list jobs, newest first",
          parameters: [
            { name: "status", in: "query", schema: { $ref: "#/components/schemas/JobStatus" } },
            { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 500, default: 50 } },
            { name: "offset", in: "query", schema: { type: "integer", minimum: 0, default: 0 } },
          ],
          responses: { 200: { description: "jobs", content: { "application/json": { schema: { type: "object", properties: { jobs: { type: "array", items: { $ref: "#/components/schemas/JobInfo" } }, limit: { type: "integer" }, offset: { type: "integer" } } } } } }, ...errors },
        },
      },
      "/api/jobs/{id}": {
        get: { summary: "a job's status, progress and result", parameters: idParam, responses: { 200: { description: "the job", content: ref("JobInfo") }, 404: { description: "no such job", content: ref("Error") }, ...errors } },
        delete: { summary: "cancel a job", parameters: idParam, responses: { 200: { description: "its status after the request", content: json }, 404: { description: "no such job", content: ref("Error") }, ...errors } },
      },
      "/api/jobs/{id}/events": {
        get: { summary: "Server-Sent Events: the run's history, then live events, then `end`", parameters: idParam, responses: { 200: { description: "text/event-stream; Last-Event-ID resumes", content: { "text/event-stream": {} } }, ...errors } },
      },
      "/api/jobs/{id}/plot": {
        get: { summary: "the run's Vega-Lite spec (as `greater plot` draws it)", parameters: [...idParam, { name: "width", in: "query", schema: { type: "integer", minimum: 120, maximum: 2000 } }], responses: { 200: { description: "a Vega-Lite spec, or null before the first step", content: json }, ...errors } },
      },
      "/api/health": { get: { summary: "Redis reachable, and workers seen in the last minute", responses: { 200: { description: "healthy", content: ref("Health") }, 503: { description: "Redis unreachable", content: ref("Health") }, 401: errors[401] } } },
      "/api/openapi.json": { get: { summary: "this document", responses: { 200: { description: "OpenAPI 3.1", content: json }, 401: errors[401] } } },
    },
  };
}

function stripId<T extends object>(schema: T): Omit<T, "$id"> {
  const { $id: _, ...rest } = schema as T & { $id?: string };
  return JSON.parse(JSON.stringify(rest).replace(/"\$ref":"JobSpec"/g, '"$ref":"#/components/schemas/JobSpec"'));
}
