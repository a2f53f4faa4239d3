// `greater serve`'s HTTP API against a real Redis and a real worker process: each route, and each refusal (no or
// wrong token, bad spec, path outside the roots, relative path, body too large, CORS off by default).
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { JobSpecSchema } from "../../ts/jobs/spec.js";
import { createServer, tinyTemplate, type GreaterServer } from "../../ts/serve/index.js";
import { startRedis, startWorkerProcess, stopWorkerProcess, TINY, type RedisHandle, type WorkerProcess } from "../jobs/services.js";

const TOKEN = "test-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "greater-serve-"));
let redis: RedisHandle;
let server: GreaterServer;
let base: string;
let worker: WorkerProcess;

const call = (path: string, init: RequestInit & { token?: string | null } = {}) => {
  const { token = TOKEN, ...rest } = init;
  return fetch(base + path, {
    ...rest,
    headers: { ...(token === null ? {} : { Authorization: `Bearer ${token}` }), ...(rest.body ? { "Content-Type": "application/json" } : {}), ...(rest.headers as Record<string, string>) },
  });
};
const post = (spec: unknown) => call("/api/jobs", { method: "POST", body: JSON.stringify(spec) });
const quick = () => {
  const spec = tinyTemplate();
  (spec.optimizer as Record<string, unknown>).steps = 2;
  return spec;
};

beforeAll(async () => {
  redis = await startRedis(inject("redisServer"));
  server = await createServer({ redis: redis.url, token: TOKEN, allowRoots: [work], bodyLimit: 256 * 1024 });
  base = await server.listen(0);
  worker = await startWorkerProcess(redis.url, ["--runs", join(work, "runs"), "--allow-root", work]);
}, 120_000);

afterAll(async () => {
  if (worker) await stopWorkerProcess(worker);
  await server?.close();
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("security", () => {
  it("every /api route and /queues need the token; the wrong one is refused like none", async () => {
    for (const path of ["/api/jobs", "/api/health", "/api/openapi.json", "/api/jobs/x", "/api/jobs/x/events", "/api/templates/tiny", "/queues"]) {
      for (const token of [null, "wrong-token-0123456789", `${TOKEN}x`]) {
        const r = await call(path, { token });
        expect(r.status, `${path} with ${token}`).toBe(401);
        expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
        expect(await r.json()).toEqual({ error: expect.stringMatching(/bearer token/) });
      }
    }
    expect((await call("/api/health")).status).toBe(200);
    expect((await call("/queues")).status).toBe(200);
    // The dashboard's cookie opens Bull Board (a page that cannot send a header).
    expect((await call("/queues", { token: null, headers: { Cookie: `greater_token=${TOKEN}` } })).status).toBe(200);
    // The page's own files hold no data and need no token.
    expect((await call("/", { token: null })).status).toBe(200);
    expect((await call("/app.js", { token: null })).status).toBe(200);
  });

  it("refuses model folders and task files outside the allowed roots (symlinks resolved), and relative paths", async () => {
    const outside = mkdtempSync(join(tmpdir(), "greater-serve-outside-"));
    symlinkSync(outside, join(work, "escape"));
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ ...quick(), model: "/etc" }, "model", /\/etc is outside the folders this server allows/],
      [{ ...quick(), model: join(work, "escape", "model") }, "model", /really .*greater-serve-outside-.*\/model\) is outside/],
      [{ ...quick(), model: "models/tiny-reasoner" }, "model", /must be an absolute path/],
      [{ ...quick(), task: { file: "/etc/passwd" } }, "task.file", /outside the folders/],
      [{ ...quick(), task: { preset: "bbh:navigate", data: "/var" } }, "task.data", /outside the folders/],
    ];
    for (const [spec, field, message] of cases) {
      const r = await post(spec);
      expect(r.status).toBe(400);
      const body = (await r.json()) as { error: string; field: string };
      expect(body.field).toBe(field);
      expect(body.error).toMatch(message);
    }
    rmSync(outside, { recursive: true, force: true });
    expect((await call("/api/jobs")).status).toBe(200);
    expect(((await (await call("/api/jobs")).json()) as { jobs: unknown[] }).jobs).toEqual([]);
  });

  it("limits the request body, and sends no CORS headers unless origins are configured", async () => {
    const big = { ...quick(), name: "x", padding: "y".repeat(300 * 1024) };
    const r = await post(big);
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: string }).error).toMatch(/larger than 262144 bytes/);
    const preflight = await call("/api/jobs", { method: "OPTIONS", token: null, headers: { Origin: "https://elsewhere.example", "Access-Control-Request-Method": "POST" } });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    const plain = await call("/api/health", { headers: { Origin: "https://elsewhere.example" } });
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();

    const withCors = await createServer({ redis: redis.url, token: TOKEN, corsOrigins: ["https://dash.example"] });
    try {
      const url = await withCors.listen(0);
      const allowed = await fetch(`${url}/api/health`, { headers: { Origin: "https://dash.example", Authorization: `Bearer ${TOKEN}` } });
      expect(allowed.headers.get("access-control-allow-origin")).toBe("https://dash.example");
      const other = await fetch(`${url}/api/health`, { headers: { Origin: "https://evil.example", Authorization: `Bearer ${TOKEN}` } });
      expect(other.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await withCors.close();
    }
  });
});

describe("routes", () => {
  it("POST /api/jobs names the field of a bad spec", async () => {
    const r = await post({ ...quick(), optimizer: { steps: 0 } });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ field: "optimizer.steps", error: expect.stringMatching(/"optimizer\.steps"/) });
    const unknown = await post({ ...quick(), colour: "blue" });
    expect(await unknown.json()).toMatchObject({ field: "colour" });
    const notJson = await call("/api/jobs", { method: "POST", body: "{not json" });
    expect(notJson.status).toBe(400);
  });

  it("submit, follow over SSE (history, live steps, end), get, list with filter and paging, cancel", async () => {
    const created = await post(quick());
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect(created.headers.get("location")).toBe(`/api/jobs/${id}`);

    const sse = await call(`/api/jobs/${id}/events`);
    expect(sse.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const text = await sse.text();
    const events = text.split("\n\n").filter((b) => b.includes("data: ")).map((b) => ({
      id: /^id: (.*)$/m.exec(b)?.[1],
      type: /^event: (.*)$/m.exec(b)?.[1],
      data: JSON.parse(/^data: (.*)$/m.exec(b)![1]) as { type: string; status?: string },
    }));
    expect(events[0].type).toBe("attempt");
    expect(events.filter((e) => e.type === "step").length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ type: "end", data: { status: "completed" } });
    // Last-Event-ID resumes after an event: only what came later.
    const firstStep = events.find((e) => e.type === "step")!;
    const later = await (await call(`/api/jobs/${id}/events`, { headers: { "Last-Event-ID": firstStep.id! } })).text();
    expect(later).not.toContain(`id: ${firstStep.id}\n`);
    expect(later).toContain("event: end");

    const info = (await (await call(`/api/jobs/${id}`)).json()) as { status: string; result: { kind: string; bestPrompt: { text: string } } };
    expect(info.status).toBe("completed");
    expect(info.result.kind).toBe("optimize");
    const plot = (await (await call(`/api/jobs/${id}/plot?width=300`)).json()) as { spec: { vconcat: { width: number }[] } };
    expect(plot.spec.vconcat[0].width).toBe(300);

    const second = ((await (await post({ ...quick(), optimizer: { steps: 300, lossThreshold: 0, patience: 1000 } })).json()) as { id: string }).id;
    const third = ((await (await post({ ...quick(), name: "third" })).json()) as { id: string }).id;
    const waiting = (await (await call("/api/jobs?status=waiting")).json()) as { jobs: { id: string }[] };
    expect(waiting.jobs.map((j) => j.id)).toContain(third);
    const page = (await (await call("/api/jobs?limit=1&offset=1")).json()) as { jobs: { id: string }[]; limit: number; offset: number };
    expect(page).toMatchObject({ limit: 1, offset: 1 });
    expect(page.jobs.length).toBe(1);
    expect((await call("/api/jobs?status=sleeping")).status).toBe(400);
    expect(((await (await call("/api/jobs?limit=0")).json()) as { field: string }).field).toBe("limit");

    const cancelled = await call(`/api/jobs/${third}`, { method: "DELETE" });
    expect(await cancelled.json()).toEqual({ id: third, status: "cancelled" });
    await call(`/api/jobs/${second}`, { method: "DELETE" });
    const end = await (await call(`/api/jobs/${second}/events`)).text();
    expect(end).toMatch(/event: end\ndata: .*"status":"cancelled"/);
    expect((await call("/api/jobs/no-such-job")).status).toBe(404);
    expect((await call("/api/jobs/no-such-job", { method: "DELETE" })).status).toBe(404);
  });

  it("GET /api/health reports Redis and the workers with their devices", async () => {
    const health = (await (await call("/api/health")).json()) as { redis: string; workers: { device: string; pid: number }[] };
    expect(health.redis).toBe("ok");
    expect(health.workers).toEqual([expect.objectContaining({ device: "cpu", pid: worker.pid })]);
  });

  it("GET /api/openapi.json: the request schema is the job spec's own", async () => {
    const doc = (await (await call("/api/openapi.json")).json()) as { openapi: string; components: { schemas: Record<string, unknown> }; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    const { $id: _, ...spec } = JSON.parse(JSON.stringify(JobSpecSchema)) as Record<string, unknown>;
    expect(doc.components.schemas.JobSpec).toEqual(spec);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/api/jobs", "/api/jobs/{id}", "/api/jobs/{id}/events", "/api/health"]));
    expect(TINY).toContain("tiny-reasoner");
  });
});
