// `greater serve`: an HTTP API over the job layer and a live dashboard, on Fastify. Every /api route and Bull Board
// (/queues) need the operator's token; the dashboard's own files are public (they hold no data). Submitted specs may
// only name paths under the allowed roots. CORS is off unless origins are given.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import { Queue } from "bullmq";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { packageRoot } from "../engine/binding.js";
import { connectJobs, type Jobs } from "../jobs/client.js";
import { DEVICE_CLASSES } from "../jobs/keys.js";
import { openRedis, redisOptions, type RedisInput } from "../jobs/redis.js";
import { JobSpecError, parseJobSpec } from "../jobs/spec.js";
import { JOB_STATUSES, type JobStatus } from "../jobs/types.js";
import { runPlotSpec, type PlottedEvent } from "../runs/plot-spec.js";
import { DEMO_MODEL_DIR, demoTaskFiles, readDemoTask } from "../tasks/demo-task.js";
import { requestToken, tokenChecker } from "./auth.js";
import { allowedRoots, pathsOutsideRoots } from "./paths.js";
import { openApiDocument } from "./schemas.js";

const WEB = join(packageRoot, "web");
const require = createRequire(import.meta.url);

export interface ServerOptions {
  redis: RedisInput;
  prefix?: string;
  /** The API token (see readApiToken). */
  token: string;
  /** Folders submitted specs may name (the package's own models and data always). */
  allowRoots?: string[];
  /** Largest request body, in bytes (default 1 MiB: an inline task of a few thousand examples). */
  bodyLimit?: number;
  /** Origins allowed to call the API from other sites; none by default (CORS off). */
  corsOrigins?: string[];
  /** Fastify's request log (default off). */
  logger?: boolean;
}

export interface GreaterServer {
  app: FastifyInstance;
  jobs: Jobs;
  /** Listens on host:port (default 127.0.0.1); resolves with the address. */
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

// The browser builds of the plotting libraries, from their packages' build folders (the packages' exports name
// only their module entry points, which sit in the same folders).
const VENDOR: Record<string, [string, string]> = {
  "vega.min.js": ["vega", "vega.min.js"],
  "vega-lite.min.js": ["vega-lite", "vega-lite.min.js"],
  "vega-embed.min.js": ["vega-embed", "vega-embed.min.js"],
};

/** A job spec for the shipped tiny model and its task (train, dev and 60 test questions, inline). */
export function tinyTemplate(): Record<string, unknown> & { optimizer: Record<string, unknown> } {
  const task = readDemoTask();
  const files = demoTaskFiles();
  const rows = (file: string, n: number) =>
    readFileSync(file, "utf8").trim().split("\n").slice(0, n).map((line) => {
      const { question, answer } = JSON.parse(line) as { question: string; answer: string };
      return { question, answer };
    });
  return {
    kind: "optimize",
    name: "tiny last-digit",
    model: DEMO_MODEL_DIR,
    device: "cpu",
    task: { name: task.name, extractor: task.extractor, train: rows(files.train, 100), dev: rows(files.dev, 20), test: rows(files.test, 60) },
    sizes: { train: 16 },
    optimizer: { initialPrompt: task.initialPrompt, steps: 6, seed: 0, maxNewTokens: task.maxNewTokens },
    evaluation: { splits: ["test"], maxNewTokens: task.maxNewTokens },
  };
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export async function createServer(options: ServerOptions): Promise<GreaterServer> {
  const jobs = await connectJobs({ redis: options.redis, prefix: options.prefix });
  const roots = allowedRoots(options.allowRoots ?? []);
  const authorized = tokenChecker(options.token);
  const version = (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string }).version;
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: options.bodyLimit ?? 1024 * 1024 });

  if (options.corsOrigins && options.corsOrigins.length > 0) {
    const cors = (await import("@fastify/cors")).default;
    await app.register(cors, { origin: options.corsOrigins, methods: ["GET", "POST", "DELETE"], allowedHeaders: ["Authorization", "Content-Type", "Last-Event-ID"] });
  }

  // One place decides who may see data: every /api route and /queues.
  app.addHook("onRequest", async (request, reply) => {
    const path = request.url.split("?")[0];
    const guarded = path === "/api" || path.startsWith("/api/") || path === "/queues" || path.startsWith("/queues/");
    if (!guarded || request.method === "OPTIONS") return;
    if (!authorized(requestToken(request.headers))) {
      reply.header("WWW-Authenticate", 'Bearer realm="greater"');
      return reply.code(401).send({ error: "a valid bearer token is required (Authorization: Bearer <token>)" });
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    if (error instanceof HttpError) return reply.code(error.statusCode).send({ error: error.message, ...(error.field !== undefined ? { field: error.field } : {}) });
    if (error instanceof JobSpecError) return reply.code(400).send({ error: error.message, field: error.field });
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") return reply.code(413).send({ error: `the request body is larger than ${options.bodyLimit ?? 1024 * 1024} bytes` });
    if (error.statusCode && error.statusCode < 500) return reply.code(error.statusCode).send({ error: error.message });
    app.log.error(error);
    return reply.code(500).send({ error: error.message });
  });

  // The API.
  app.post("/api/jobs", async (request, reply) => {
    const spec = parseJobSpec(request.body);
    const outside = pathsOutsideRoots(spec, roots);
    if (outside.length > 0) throw new HttpError(400, `job spec: "${outside[0].field}" ${outside[0].reason}`, outside[0].field);
    const id = await jobs.submit(spec);
    return reply.code(201).header("Location", `/api/jobs/${id}`).send({ id, status: "waiting" });
  });

  app.get("/api/jobs", async (request) => {
    const query = request.query as Record<string, string | undefined>;
    const status = query.status;
    if (status !== undefined && !JOB_STATUSES.includes(status as JobStatus)) throw new HttpError(400, `status must be one of ${JOB_STATUSES.join(", ")}`, "status");
    const integer = (name: string, fallback: number, min: number, max: number) => {
      const text = query[name];
      if (text === undefined) return fallback;
      const n = Number(text);
      if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be an integer from ${min} to ${max}`, name);
      return n;
    };
    const limit = integer("limit", 50, 1, 500);
    const offset = integer("offset", 0, 0, 1_000_000);
    return { jobs: await jobs.list({ status: status as JobStatus | undefined, limit, offset }), limit, offset };
  });

  const found = async (id: string) => {
    const info = await jobs.get(id);
    if (info === null) throw new HttpError(404, `no job with id ${id}`);
    return info;
  };
  app.get("/api/jobs/:id", async (request) => found((request.params as { id: string }).id));

  app.delete("/api/jobs/:id", async (request) => {
    const { id } = request.params as { id: string };
    await found(id);
    return { id, status: await jobs.cancel(id, "cancelled through the API") };
  });

  app.get("/api/jobs/:id/plot", async (request) => {
    const { id } = request.params as { id: string };
    const info = await found(id);
    const width = Number((request.query as { width?: string }).width ?? 640);
    if (!Number.isInteger(width) || width < 120 || width > 2000) throw new HttpError(400, "width must be an integer from 120 to 2000", "width");
    const events = ((await jobs.history(id)) ?? []) as unknown as PlottedEvent[];
    return { spec: runPlotSpec(events, info.label, width) };
  });

  app.get("/api/jobs/:id/events", async (request: FastifyRequest, reply: FastifyReply) => {
    const { id } = request.params as { id: string };
    await found(id);
    const after = (request.headers["last-event-id"] as string | undefined) ?? (request.query as { after?: string }).after;
    const controller = new AbortController();
    request.raw.on("close", () => controller.abort());
    reply.hijack();
    reply.raw.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
    reply.raw.write(": greater job events\n\n");
    try {
      for await (const event of jobs.events(id, { after, signal: controller.signal, pollMs: 500 })) {
        reply.raw.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        if (event.type === "end") break;
      }
    } catch (error) {
      reply.raw.write(`event: error\ndata: ${JSON.stringify({ error: (error as Error).message })}\n\n`);
    } finally {
      reply.raw.end();
    }
  });

  app.get("/api/health", async (_request, reply) => {
    const redis = await jobs.ping();
    const workers = redis === "ok" ? await jobs.workers() : [];
    return reply.code(redis === "ok" ? 200 : 503).send({ redis, workers });
  });

  app.get("/api/openapi.json", async () => openApiDocument(version));

  // Bull Board for queue administration, on its own connection.
  const boardConnection = openRedis(redisOptions(options.redis));
  const boardQueues = DEVICE_CLASSES.map((device) => new Queue(jobs.keys.queue(device), { connection: boardConnection, prefix: jobs.keys.prefix }));
  for (const queue of boardQueues) queue.on("error", () => {});
  const board = new FastifyAdapter();
  createBullBoard({ queues: boardQueues.map((queue) => new BullMQAdapter(queue)), serverAdapter: board });
  board.setBasePath("/queues");
  await app.register(board.registerPlugin() as never, { prefix: "/queues" });

  // The dashboard: a few static files and the plotting libraries it draws with.
  // Read once here, not per request; the plotting builds (a few hundred kB each) on first use.
  const page = (file: string, type: string) => {
    const body = readFileSync(join(WEB, file));
    return async (_request: FastifyRequest, reply: FastifyReply) => reply.type(type).header("Cache-Control", "no-cache").send(body);
  };
  const vendorFiles = new Map<string, Buffer>();
  app.get("/", page("index.html", "text/html; charset=utf-8"));
  app.get("/app.js", page("app.js", "text/javascript; charset=utf-8"));
  app.get("/app.css", page("app.css", "text/css; charset=utf-8"));
  app.get("/vendor/:file", async (request, reply) => {
    const target = VENDOR[(request.params as { file: string }).file];
    if (!target) throw new HttpError(404, "no such file");
    const file = (request.params as { file: string }).file;
    if (!vendorFiles.has(file)) vendorFiles.set(file, readFileSync(join(dirname(require.resolve(target[0])), target[1])));
    return reply.type("text/javascript; charset=utf-8").header("Cache-Control", "max-age=86400").send(vendorFiles.get(file));
  });

  // What the dashboard's form submits: the shipped tiny model on its own task, given inline.
  app.get("/api/templates/tiny", async () => tinyTemplate());

  return {
    app,
    jobs,
    async listen(port: number, host = "127.0.0.1") {
      return app.listen({ port, host });
    },
    async close() {
      await app.close();
      await Promise.all(boardQueues.map((queue) => queue.close()));
      boardConnection.disconnect();
      await jobs.close();
    },
  };
}
