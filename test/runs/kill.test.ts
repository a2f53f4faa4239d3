// A real crash test: a child process writes a run as fast as it can and is killed with SIGKILL at a
// random moment, several times, each time resumed with RunRecorder.open. Whatever the moment, the run must
// read back whole: a valid state, consecutive events, at most the step in flight lost.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRun, RunRecorder } from "../../ts/runs/recorder.js";

const workDir = mkdtempSync(join(tmpdir(), "greater-kill-"));
const moduleDir = join(workDir, "runs");
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

// The child runs plain JavaScript: the runs module, transpiled here (it imports only Node built-ins).
beforeAll(() => {
  mkdirSync(moduleDir);
  writeFileSync(join(moduleDir, "package.json"), '{"type": "module"}\n');
  for (const name of ["durable", "recorder"]) {
    const source = readFileSync(resolve(import.meta.dirname, `../../ts/runs/${name}.ts`), "utf8");
    const output = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    writeFileSync(join(moduleDir, `${name}.js`), output.outputText);
  }
  writeFileSync(
    join(moduleDir, "writer.js"),
    `import { RunRecorder } from "./recorder.js";
const [dir, mode] = process.argv.slice(2);
const recorder = mode === "create" ? await RunRecorder.create(dir, { seed: 1 }) : await RunRecorder.open(dir);
const events = recorder.loaded.events;
const lastEvent = events.length > 0 ? events[events.length - 1].step : -1;
let step = (recorder.loaded.state?.step ?? -1) + 1;
// A big state makes each atomic write long enough for kills to land inside it.
const padding = "x".repeat(200000);
for (;;) {
  // Protocol: the step's event, then the state after the step. A step whose event was written but whose
  // state was not is redone on resume, without writing its event twice.
  if (step > lastEvent) await recorder.appendEvent({ step });
  await recorder.saveState({ step, padding });
  process.stdout.write(step + "\\n");
  step += 1;
}
`,
  );
});

/** Starts the writer and kills it with SIGKILL once it has reported `steps` steps plus a random delay. */
function runAndKill(dir: string, mode: "create" | "open", steps: number): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(moduleDir, "writer.js"), dir, mode], { stdio: ["ignore", "pipe", "pipe"] });
    let reported = 0;
    let stderr = "";
    let killing = false;
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.stdout.on("data", (chunk: Buffer) => {
      reported += chunk.toString().split("\n").filter(Boolean).length;
      if (reported >= steps && !killing) {
        killing = true;
        setTimeout(() => child.kill("SIGKILL"), Math.floor(Math.random() * 15));
      }
    });
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") done();
      else fail(new Error(`writer exited with ${code}: ${stderr}`));
    });
  });
}

describe("a run killed with SIGKILL at random moments", () => {
  it("reads back whole after every kill and resumes without gaps or duplicates", async () => {
    const dir = join(workDir, "run");
    for (let round = 0; round < 8; round++) {
      await runAndKill(dir, round === 0 ? "create" : "open", 3 + Math.floor(Math.random() * 20));
      const run = await readRun<{ seed: number }, { step: number; padding: string }, { step: number }>(dir);
      expect(run.config).toEqual({ seed: 1 });
      expect(run.events.map((event) => event.step)).toEqual(run.events.map((_, index) => index));
      const lastEvent = run.events.length - 1;
      // Killed after the event but before the state: the state is one step behind.
      expect([lastEvent - 1, lastEvent]).toContain(run.state!.step);
      expect(run.state!.padding).toHaveLength(200000);
    }
    const final = await RunRecorder.open(dir);
    expect(final.loaded.tornEventLine).toBeNull();
    await final.close();
  }, 60_000);
});
