// The dashboard in a real browser: Debian's chromium, headless, driven by puppeteer-core, against `greater serve`
// with a real Redis and a real worker. Screenshots go to test-output/ (a test artifact, not committed).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { createServer, tinyTemplate, type GreaterServer } from "../../ts/serve/index.js";
import { ROOT, startRedis, startWorkerProcess, stopWorkerProcess, type RedisHandle, type WorkerProcess } from "../jobs/services.js";

const TOKEN = "dashboard-token-0123456789";
const work = mkdtempSync(join(tmpdir(), "greater-dashboard-"));
const artifacts = join(ROOT, "test-output");
let redis: RedisHandle;
let server: GreaterServer;
let base: string;
let worker: WorkerProcess;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  redis = await startRedis(inject("redisServer"));
  server = await createServer({ redis: redis.url, token: TOKEN });
  base = await server.listen(0);
  worker = await startWorkerProcess(redis.url, ["--runs", join(work, "runs")]);
  browser = await puppeteer.launch({
    executablePath: inject("chromium"),
    headless: true,
    userDataDir: join(work, "profile"),
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (worker) await stopWorkerProcess(worker);
  await server?.close();
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function signedIn(width = 1100): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width, height: 900 });
  await page.goto(`${base}/`);
  await page.waitForSelector("#sign-in:not([hidden])");
  await page.type("#token", TOKEN);
  await page.click("#sign-in-form button");
  await page.waitForSelector("#runs:not([hidden])");
  return page;
}

const statusOf = (page: Page) => page.$eval("#run", (el) => (el as HTMLElement).dataset.status);

it("submits the tiny model's task from the form, watches it run and finish, and draws the chart", async () => {
  const page = await signedIn();
  await page.click('a[href="#/new"]');
  await page.waitForSelector("#new:not([hidden])");
  await page.waitForFunction(() => (document.querySelector("#new-prompt") as HTMLInputElement).value !== "");
  await page.$eval("#new-steps", (el) => ((el as HTMLInputElement).value = "3"));
  await page.click("#new-form button");
  await page.waitForFunction(() => location.hash.startsWith("#/jobs/"));
  const id = await page.evaluate(() => location.hash.slice("#/jobs/".length));
  // It moves on from waiting (the worker takes it) and ends completed.
  const seen = new Set<string>();
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const status = await statusOf(page);
    if (status) seen.add(status);
    if (status === "completed" || status === "failed") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect([...seen].at(-1)).toBe("completed");
  expect(seen.has("active") || seen.has("waiting")).toBe(true);

  const job = (await (await fetch(`${base}/api/jobs/${id}`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json()) as {
    result: { stepsDone: number; accuracy: { initial: { test: number }; best: { test: number } } };
  };
  const stepsDone = job.result.stepsDone;
  // The chart: drawn, with one loss point and one best-so-far point per step.
  await page.waitForFunction((n) => (document.querySelector("#chart") as HTMLElement).dataset.steps === String(n), { timeout: 30_000 }, stepsDone);
  const points = await page.evaluate(() => (window as unknown as { greaterChart: { data(name: string): { series: string; value: number }[] } }).greaterChart.data("loss"));
  expect(points.length).toBe(2 * stepsDone);
  expect(new Set(points.map((p) => p.series))).toEqual(new Set(["step loss", "best so far"]));
  expect(await page.$$eval("#chart svg path", (paths) => paths.length)).toBeGreaterThan(2);
  // The prompt after each step, with the changed token marked; the candidates of the last step.
  expect(await page.$$eval("#prompts li", (items) => items.length)).toBe(stepsDone);
  expect(await page.$$eval("#prompts li mark", (marks) => marks.length)).toBe(stepsDone);
  expect(await page.$$eval("#candidates tbody tr", (rows) => rows.length)).toBeGreaterThan(1);
  // Accuracy before and after, as the result says.
  const accuracy = await page.$$eval("#accuracy tbody td", (cells) => cells.map((c) => c.textContent));
  expect(accuracy).toEqual(["test", `${(job.result.accuracy.initial.test * 100).toFixed(1)}%`, `${(job.result.accuracy.best.test * 100).toFixed(1)}%`]);
  await page.screenshot({ path: join(artifacts, "run-page.png"), fullPage: true });

  // The runs table lists it, completed.
  await page.click('a[href="#/"]');
  await page.waitForSelector(`#runs-table tr[data-id="${id}"][data-status="completed"]`);
  await page.close();
});

it("cancels a running run from its page", async () => {
  const spec = tinyTemplate();
  Object.assign(spec.optimizer, { steps: 300, lossThreshold: 0, patience: 1000 });
  const r = await fetch(`${base}/api/jobs`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" }, body: JSON.stringify({ ...spec, name: "long run" }) });
  const { id } = (await r.json()) as { id: string };
  const page = await signedIn();
  await page.goto(`${base}/#/jobs/${id}`);
  await page.waitForSelector("#prompts li", { timeout: 60_000 });
  expect(await statusOf(page)).toBe("active");
  await page.click("#cancel");
  await page.waitForFunction(() => (document.querySelector("#run") as HTMLElement).dataset.status === "cancelled", { timeout: 30_000 });
  expect(await page.$eval("#cancel", (el) => (el as HTMLElement).hidden)).toBe(true);
  expect(await page.$eval("#run-error", (el) => el.textContent)).toMatch(/cancelled/);
  await page.close();
});

it("with a bad token the page asks to sign in and shows no data", async () => {
  const page = await browser.newPage();
  await page.evaluateOnNewDocument(() => sessionStorage.setItem("greater_token", "not-the-token-at-all"));
  await page.goto(`${base}/`);
  await page.waitForSelector("#sign-in:not([hidden])");
  expect(await page.$eval("#runs", (el) => (el as HTMLElement).hidden)).toBe(true);
  expect(await page.$$eval("#runs-table tbody tr", (rows) => rows.length)).toBe(0);
  expect(await page.$eval("#sign-in-error", (el) => el.textContent)).toMatch(/not accepted|sign in/i);
  await page.screenshot({ path: join(artifacts, "sign-in.png") });
  await page.close();
});

it("fits a phone's width without horizontal scrolling", async () => {
  const page = await signedIn(375);
  await page.waitForSelector("#runs-table tbody tr");
  const widths = async () => page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  let w = await widths();
  expect(w.scroll).toBeLessThanOrEqual(w.client);
  const id = await page.$eval("#runs-table tbody tr[data-status=completed]", (tr) => (tr as HTMLElement).dataset.id);
  await page.goto(`${base}/#/jobs/${id}`);
  await page.waitForFunction(() => (document.querySelector("#chart") as HTMLElement).dataset.steps !== undefined, { timeout: 30_000 });
  w = await widths();
  expect(w.scroll).toBeLessThanOrEqual(w.client);
  await page.screenshot({ path: join(artifacts, "phone-run-page.png"), fullPage: true });
  await page.goto(`${base}/#/new`);
  await page.waitForSelector("#new:not([hidden])");
  w = await widths();
  expect(w.scroll).toBeLessThanOrEqual(w.client);
  await page.close();
});
