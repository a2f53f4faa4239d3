// A resume that would lose work or continue on other inputs is refused, saying what to do (issue "Hostile input"):
// a state.json that is missing or not a state while steps are recorded, flags that would change the run, a task
// file or a model file that changed since the run began, and a stale lock whose process id is taken.
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "greater.js");
const work = mkdtempSync(join(tmpdir(), "greater-resume-guard-"));
const model = join(work, "model");
const data = join(work, "navigate.csv");
let run = "";

function greater(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 300_000 });
}

/** A copy of the finished run, to break one thing in. */
function copyRun(name: string): string {
  const copy = join(work, name);
  cpSync(run, copy, { recursive: true });
  return copy;
}

beforeAll(() => {
  cpSync(join(root, "test", "optimizer", "fixtures", "random-llama"), model, { recursive: true });
  const rows = ["goal,target,final_target"];
  for (let i = 0; i < 14; i++) rows.push(`"Take ${i + 1} steps. Turn around. Take ${i + 1 + (i % 2)} steps. Back at the start?",,${i % 2 ? "No" : "Yes"}`);
  writeFileSync(data, rows.join("\n") + "\n");
  run = join(work, "run");
  const r = greater(["optimize", "--model", model, "--task", "bbh:navigate", "--data", data, "--steps", "2", "--train-size", "4",
    "--dev-size", "3", "--test-size", "3", "--max-new-tokens", "4", "--out", run, "--threads", "1", "--json"]);
  expect(r.status, r.stderr).toBe(0);
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("greater optimize --resume refuses what would lose work", () => {
  it("records the model's files with their SHA-256 in config.json", () => {
    const config = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
    expect(Object.keys(config.model.files).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
    expect(config.model.files["model.safetensors"]).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ["replaced by {}", "{}\n", /state\.json is not a valid run state \(it has no "optimizer" state\)/],
    ["missing", null, /state\.json is missing but events\.jsonl records 2 completed step\(s\): resuming would redo them/],
  ])("state.json %s, with steps recorded: refused, and events.jsonl untouched", (_, content, expected) => {
    const copy = copyRun(`state-${content === null ? "missing" : "empty"}`);
    const eventsBefore = readFileSync(join(copy, "events.jsonl"), "utf8");
    if (content === null) unlinkSync(join(copy, "state.json"));
    else writeFileSync(join(copy, "state.json"), content);
    const r = greater(["optimize", "--resume", copy]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(expected);
    expect(r.stderr).toMatch(/Restore state\.json, or start a new run with --out/);
    expect(readFileSync(join(copy, "events.jsonl"), "utf8")).toBe(eventsBefore);
  });

  it("flags that would change the run are refused, not ignored", () => {
    const r = greater(["optimize", "--resume", copyRun("flags"), "--steps", "9", "--model", model]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--model, --steps cannot be given with --resume: the run continues with the model, task and settings its config\.json records/);
  });

  it("a task file whose content changed is refused, naming the file", () => {
    const copy = copyRun("task-changed");
    const config = JSON.parse(readFileSync(join(copy, "config.json"), "utf8"));
    const moved = join(work, "navigate-changed.csv");
    writeFileSync(moved, readFileSync(data, "utf8").replace(",,Yes", ",,No"));
    config.task.data = moved;
    config.taskDescription.split.files[0].path = moved; // recorded with the old content's hash
    writeFileSync(join(copy, "config.json"), JSON.stringify(config));
    const r = greater(["optimize", "--resume", copy]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${moved} changed since the run began`);
  });

  it("a model file whose content changed is refused, naming the file", () => {
    const copy = copyRun("model-changed");
    const config = JSON.parse(readFileSync(join(copy, "config.json"), "utf8"));
    config.model.files["tokenizer_config.json"] = "0".repeat(64);
    writeFileSync(join(copy, "config.json"), JSON.stringify(config));
    const r = greater(["optimize", "--resume", copy]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/the model in .* changed since the run began \(tokenizer_config\.json\)/);
  });

  it("--out naming an existing file says so, instead of a raw EEXIST", () => {
    const file = join(work, "a-file");
    writeFileSync(file, "x");
    const r = greater(["optimize", "--model", model, "--task", "bbh:navigate", "--data", data, "--steps", "1", "--train-size", "4",
      "--dev-size", "3", "--test-size", "3", "--out", file]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${file}: is a file, not a folder: choose another run folder (--out)`);
  });

  it("a stale lock held by a live process id says how to clear it", () => {
    const copy = copyRun("stale-lock");
    writeFileSync(join(copy, "run.lock"), `${process.pid}\n`); // alive, and not the resuming process
    const r = greater(["optimize", "--resume", copy]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/the lock is stale: delete .*run\.lock and resume/);
  });
});
