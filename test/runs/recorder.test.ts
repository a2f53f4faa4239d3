import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../ts/runs/durable.js";
import { readRun, RunFolderError, RunRecorder, RUN_FILES } from "../../ts/runs/recorder.js";

const workDir = mkdtempSync(join(tmpdir(), "greater-runs-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

let runCounter = 0;
function freshRunDir(): string {
  runCounter += 1;
  return join(workDir, `run-${runCounter}`);
}

interface StepEvent {
  step: number;
  loss: number;
}

async function rejection(promise: Promise<unknown>): Promise<RunFolderError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RunFolderError);
    return error as RunFolderError;
  }
  throw new Error("expected a rejection");
}

describe("RunRecorder", () => {
  it("writes config, events, state and result that read back whole", async () => {
    const dir = freshRunDir();
    const config = { seed: 3, model: "/models/tiny", task: { name: "bbh:navigate", extractor: "… is $ " } };
    const recorder = await RunRecorder.create<typeof config, { position: number }, StepEvent, { best: string }>(dir, config);
    await recorder.appendEvent({ step: 0, loss: 0.5 });
    await recorder.saveState({ position: 1 });
    await recorder.appendEvent({ step: 1, loss: Number.NaN });
    await recorder.saveState({ position: 2 });
    await recorder.writeResult({ best: " think step by step" });
    await recorder.close();

    expect(readFileSync(join(dir, RUN_FILES.events), "utf8")).toBe('{"step":0,"loss":0.5}\n{"step":1,"loss":"NaN"}\n');
    const contents = await readRun(dir);
    expect(contents).toEqual({
      config,
      state: { position: 2 },
      events: [
        { step: 0, loss: 0.5 },
        { step: 1, loss: "NaN" },
      ],
      result: { best: " think step by step" },
      tornEventLine: null,
    });
    expect(readdirSync(dir).sort()).toEqual([RUN_FILES.config, RUN_FILES.events, RUN_FILES.result, RUN_FILES.state].sort());
  });

  it("refuses to clobber an existing run unless asked, and overwrites only the run's files", async () => {
    const dir = freshRunDir();
    const first = await RunRecorder.create(dir, { attempt: 1 });
    await first.appendEvent({ step: 0 });
    await first.close();
    writeFileSync(join(dir, "notes.txt"), "mine");

    const refused = await rejection(RunRecorder.create(dir, { attempt: 2 }));
    expect(refused.code).toBe("RUN_EXISTS");
    expect(refused.message).toContain(dir);
    expect((await readRun(dir)).config).toEqual({ attempt: 1 });

    const second = await RunRecorder.create(dir, { attempt: 2 }, { overwrite: true });
    await second.close();
    const contents = await readRun(dir);
    expect(contents.config).toEqual({ attempt: 2 });
    expect(contents.events).toEqual([]);
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("mine");
  });

  it("resumes: open reads config, state and events, and appends after them", async () => {
    const dir = freshRunDir();
    const recorder = await RunRecorder.create<{ seed: number }, { step: number }, StepEvent>(dir, { seed: 1 });
    await recorder.appendEvent({ step: 0, loss: 1 });
    await recorder.saveState({ step: 0 });
    await recorder.close();

    const resumed = await RunRecorder.open<{ seed: number }, { step: number }, StepEvent>(dir);
    expect(resumed.config).toEqual({ seed: 1 });
    expect(resumed.loaded.state).toEqual({ step: 0 });
    expect(resumed.loaded.events).toEqual([{ step: 0, loss: 1 }]);
    await resumed.appendEvent({ step: 1, loss: 0.5 });
    await resumed.close();
    expect((await readRun(dir)).events).toHaveLength(2);
  });

  it("drops a torn last event line on open, cuts it off the file, and appends cleanly after it", async () => {
    const dir = freshRunDir();
    const recorder = await RunRecorder.create(dir, {});
    await recorder.appendEvent({ step: 0, loss: 1 });
    await recorder.appendEvent({ step: 1, loss: 0.75 });
    await recorder.close();
    const eventsPath = join(dir, RUN_FILES.events);
    writeFileSync(eventsPath, readFileSync(eventsPath, "utf8") + '{"step":2,"lo');

    expect((await readRun(dir)).tornEventLine).toBe('{"step":2,"lo');
    const resumed = await RunRecorder.open(dir);
    expect(resumed.loaded.events).toEqual([
      { step: 0, loss: 1 },
      { step: 1, loss: 0.75 },
    ]);
    expect(resumed.loaded.tornEventLine).toBe('{"step":2,"lo');
    await resumed.appendEvent({ step: 2, loss: 0.5 });
    await resumed.close();
    expect(readFileSync(eventsPath, "utf8")).toBe('{"step":0,"loss":1}\n{"step":1,"loss":0.75}\n{"step":2,"loss":0.5}\n');
  });

  it("keeps a complete last event that lost only its newline", async () => {
    const dir = freshRunDir();
    await (await RunRecorder.create(dir, {})).close();
    writeFileSync(join(dir, RUN_FILES.events), '{"step":0}\n{"step":1}');
    const resumed = await RunRecorder.open(dir);
    expect(resumed.loaded.events).toEqual([{ step: 0 }, { step: 1 }]);
    await resumed.appendEvent({ step: 2 });
    await resumed.close();
    expect(readFileSync(join(dir, RUN_FILES.events), "utf8")).toBe('{"step":0}\n{"step":1}\n{"step":2}\n');
  });

  it("refuses events.jsonl with a bad line before the last, naming the file and line", async () => {
    const dir = freshRunDir();
    await (await RunRecorder.create(dir, {})).close();
    writeFileSync(join(dir, RUN_FILES.events), '{"step":0}\nnot json\n{"step":2}\n');
    const error = await rejection(RunRecorder.open(dir));
    expect(error.code).toBe("CORRUPT");
    expect(error.message).toMatch(/events\.jsonl: line 2 is not valid JSON/);
  });

  it("a crash between the temp write and the rename leaves the old state, and open removes the temp file", async () => {
    const dir = freshRunDir();
    const recorder = await RunRecorder.create(dir, {});
    await recorder.saveState({ step: 4 });
    await recorder.close();
    // What a process killed after writing the temp file but before renaming it leaves behind.
    const orphan = join(dir, `${RUN_FILES.state}.tmp-999999-1`);
    writeFileSync(orphan, '{"step": 5, "half');

    expect((await readRun(dir)).state).toEqual({ step: 4 });
    const resumed = await RunRecorder.open(dir);
    expect(resumed.loaded.state).toEqual({ step: 4 });
    expect(resumed.removedTempFiles).toEqual([`${RUN_FILES.state}.tmp-999999-1`]);
    expect(readdirSync(dir)).not.toContain(`${RUN_FILES.state}.tmp-999999-1`);
    await resumed.close();
  });

  it("writeFileAtomic replaces whole files and never clobbers with noClobber", async () => {
    const path = join(workDir, "atomic.json");
    await writeFileAtomic(path, "one");
    await writeFileAtomic(path, "two");
    expect(readFileSync(path, "utf8")).toBe("two");
    await expect(writeFileAtomic(path, "three", { noClobber: true })).rejects.toMatchObject({ code: "EEXIST" });
    expect(readFileSync(path, "utf8")).toBe("two");
    expect(readdirSync(workDir).filter((name) => name.startsWith("atomic.json.tmp-"))).toEqual([]);
  });

  it("lets one process at a time write a run, and takes over a dead process's lock", async () => {
    const dir = freshRunDir();
    const recorder = await RunRecorder.create(dir, {});
    expect((await rejection(RunRecorder.open(dir))).code).toBe("LOCKED");
    await recorder.close();
    // A lock left by a process that no longer exists (pid far above any live one).
    writeFileSync(join(dir, RUN_FILES.lock), "4194000\n");
    const resumed = await RunRecorder.open(dir);
    await resumed.close();
    expect(readdirSync(dir)).not.toContain(RUN_FILES.lock);
  });

  it("says clearly when a folder holds no run or a value is not JSON", async () => {
    const empty = freshRunDir();
    const error = await rejection(RunRecorder.open(empty));
    expect(error.code).toBe("NO_RUN");
    const circular: { self?: unknown } = {};
    circular.self = circular;
    await expect(RunRecorder.create(freshRunDir(), circular)).rejects.toThrow(/the run config cannot be written as JSON/);
    const recorder = await RunRecorder.create(freshRunDir(), {});
    await expect(recorder.appendEvent(circular)).rejects.toThrow(/the event cannot be written as JSON/);
    await recorder.close();
    await expect(recorder.appendEvent({})).rejects.toThrow(/closed/);
  });
});
