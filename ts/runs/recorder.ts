// A run folder, written so that nothing is lost when the process dies:
//   config.json   everything needed to reproduce the run (written once, atomically, never clobbered)
//   events.jsonl  one JSON line per step, appended and fsynced before appendEvent returns
//   state.json    the optimizer's resumable state, replaced atomically (temp file + fsync + rename)
//   result.json   the final result, atomic too
//   run.lock      the pid of the process writing the run, so two processes never write one run
// Killing the process at any moment loses at most the step in flight.
import { constants } from "node:fs";
import { mkdir, open, readdir, readFile, rm, truncate, type FileHandle } from "node:fs/promises";
import { join, resolve } from "node:path";
import { syncFolder, TEMP_MARKER, toJsonText, writeFileAtomic } from "./durable.js";

/** The names of a run folder's files. */
export const RUN_FILES = {
  config: "config.json",
  events: "events.jsonl",
  state: "state.json",
  result: "result.json",
  lock: "run.lock",
} as const;

/** A run folder that cannot be created or opened; the message names the folder or file at fault. */
export class RunFolderError extends Error {
  constructor(
    readonly path: string,
    reason: string,
    readonly code?: "RUN_EXISTS" | "NO_RUN" | "CORRUPT" | "LOCKED" | "NOT_A_FOLDER",
  ) {
    super(`${path}: ${reason}`);
    this.name = "RunFolderError";
  }
}

/** What a run folder holds, as read from disk. */
export interface RunContents<Config, State, Event, Result> {
  config: Config;
  /** The last saved state, or null when none was saved yet. */
  state: State | null;
  events: Event[];
  result: Result | null;
  /** The last line of events.jsonl when it was torn (cut by a crash mid-write) and left out; else null. */
  tornEventLine: string | null;
}

async function readJsonFile(path: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RunFolderError(path, `not valid JSON (${(error as Error).message})`, "CORRUPT");
  }
}

interface ParsedEvents {
  events: unknown[];
  /** Byte length of the complete lines; the file is cut back to it when the last line is torn. */
  completeBytes: number;
  tornLine: string | null;
  /** The last line parsed but lacked its newline (the write was cut just before it). */
  missingFinalNewline: boolean;
}

// Every line but the last must be whole JSON: only the line being written when the process died can be
// torn. A torn last line is left out; a complete one that lost only its newline is kept.
function parseEvents(path: string, text: string): ParsedEvents {
  const lines = text.split("\n");
  const last = lines.pop()!; // "" when the file ends with a newline
  const events: unknown[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === "") return;
    try {
      events.push(JSON.parse(line));
    } catch (error) {
      throw new RunFolderError(path, `line ${index + 1} is not valid JSON (${(error as Error).message}); only the last line can be torn by a crash`, "CORRUPT");
    }
  });
  const completeBytes = Buffer.byteLength(text, "utf8") - Buffer.byteLength(last, "utf8");
  if (last.trim() === "") return { events, completeBytes, tornLine: null, missingFinalNewline: false };
  try {
    events.push(JSON.parse(last));
    return { events, completeBytes, tornLine: null, missingFinalNewline: true };
  } catch {
    return { events, completeBytes, tornLine: last, missingFinalNewline: false };
  }
}

/**
 * Reads a run folder without changing it (no lock, no repair): config, state, events (a torn last event
 * line left out) and result. Throws a {@link RunFolderError} when there is no run or a file is corrupt.
 */
export async function readRun<Config = unknown, State = unknown, Event = unknown, Result = unknown>(
  dir: string,
): Promise<RunContents<Config, State, Event, Result>> {
  const folder = resolve(dir);
  const config = await readJsonFile(join(folder, RUN_FILES.config));
  if (config === undefined) throw new RunFolderError(folder, `no run here (${RUN_FILES.config} is missing)`, "NO_RUN");
  const state = await readJsonFile(join(folder, RUN_FILES.state));
  const result = await readJsonFile(join(folder, RUN_FILES.result));
  const eventsPath = join(folder, RUN_FILES.events);
  let eventsText = "";
  try {
    eventsText = await readFile(eventsPath, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const parsed = parseEvents(eventsPath, eventsText);
  return {
    config: config as Config,
    state: (state ?? null) as State | null,
    events: parsed.events as Event[],
    result: (result ?? null) as Result | null,
    tornEventLine: parsed.tornLine,
  };
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

// Takes the run's lock file, or fails when a live process holds it; a lock left by a dead process
// (killed mid-run) is taken over.
async function acquireLock(folder: string): Promise<void> {
  const lockPath = join(folder, RUN_FILES.lock);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = Number.parseInt(await readFile(lockPath, "utf8").catch(() => ""), 10);
    if (Number.isInteger(holder) && holder !== process.pid && processIsAlive(holder)) {
      throw new RunFolderError(folder, `process ${holder} is writing this run (${RUN_FILES.lock}); stop it first. If no greater process ` +
        `is running it (the run was killed and that process id now belongs to another program), the lock is stale: delete ` +
        `${join(folder, RUN_FILES.lock)} and resume`, "LOCKED");
    }
    if (holder === process.pid) {
      throw new RunFolderError(folder, "this process already has the run open; close that recorder first", "LOCKED");
    }
    await rm(lockPath, { force: true });
  }
  throw new RunFolderError(folder, `could not take ${RUN_FILES.lock}`, "LOCKED");
}

async function removeLeftoverTempFiles(folder: string): Promise<string[]> {
  const names = await readdir(folder);
  const runFileNames: string[] = Object.values(RUN_FILES);
  const leftovers = names.filter((name) => runFileNames.some((runFile) => name.startsWith(`${runFile}${TEMP_MARKER}`)));
  for (const name of leftovers) await rm(join(folder, name), { force: true });
  return leftovers;
}

/** Options of {@link RunRecorder.create}. */
export interface CreateRunOptions {
  /** Replace a run already in the folder (its config, events, state and result are deleted). Default false. */
  overwrite?: boolean;
}

/**
 * Writes one run folder. Create it with {@link RunRecorder.create}, reopen it to resume with
 * {@link RunRecorder.open}, and {@link RunRecorder.close} it (or `await using`) when done. Writes are queued
 * in call order; each returned promise resolves once that write is on disk.
 */
export class RunRecorder<Config = unknown, State = unknown, Event = unknown, Result = unknown> {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    /** The run folder (absolute). */
    readonly dir: string,
    /** The run's configuration, as in config.json. */
    readonly config: Config,
    private readonly events: FileHandle,
    /** What the folder held when it was opened (for a new run: no state, no events, no result). */
    readonly loaded: Omit<RunContents<Config, State, Event, Result>, "config">,
    /** Temp files of interrupted atomic writes that {@link RunRecorder.open} removed. */
    readonly removedTempFiles: string[],
  ) {}

  /**
   * Starts a new run in `dir` (created if needed) and writes config.json. Refuses a folder that already
   * holds a run unless `overwrite` is set; other files in the folder are left alone.
   */
  static async create<Config, State = unknown, Event = unknown, Result = unknown>(
    dir: string,
    config: Config,
    options: CreateRunOptions = {},
  ): Promise<RunRecorder<Config, State, Event, Result>> {
    const folder = resolve(dir);
    const configText = toJsonText(config, "the run config", 2) + "\n";
    try {
      await mkdir(folder, { recursive: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST" || code === "ENOTDIR") {
        throw new RunFolderError(folder, "is a file, not a folder: choose another run folder (--out)", "NOT_A_FOLDER");
      }
      throw error;
    }
    await acquireLock(folder);
    try {
      const existing = (await readdir(folder)).filter((name) => name !== RUN_FILES.lock && (Object.values(RUN_FILES) as string[]).includes(name));
      if (existing.length > 0 && !options.overwrite) {
        throw new RunFolderError(folder, `already holds a run (${existing.join(", ")}); open it to resume, or pass overwrite: true to replace it`, "RUN_EXISTS");
      }
      for (const name of existing) await rm(join(folder, name), { force: true });
      const removedTempFiles = await removeLeftoverTempFiles(folder);
      try {
        await writeFileAtomic(join(folder, RUN_FILES.config), configText, { noClobber: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") {
          throw new RunFolderError(folder, "another process created a run here at the same time", "RUN_EXISTS");
        }
        throw error;
      }
      const events = await open(join(folder, RUN_FILES.events), "a");
      await syncFolder(folder);
      return new RunRecorder<Config, State, Event, Result>(folder, config, events, { state: null, events: [], result: null, tornEventLine: null }, removedTempFiles);
    } catch (error) {
      await rm(join(folder, RUN_FILES.lock), { force: true });
      throw error;
    }
  }

  /**
   * Reopens a run to resume it: reads config, state, events and result (see {@link RunRecorder.loaded}),
   * cuts a torn last event line off events.jsonl, removes temp files of interrupted writes, and takes
   * the run's lock (refused while another live process holds it).
   */
  static async open<Config = unknown, State = unknown, Event = unknown, Result = unknown>(
    dir: string,
  ): Promise<RunRecorder<Config, State, Event, Result>> {
    const folder = resolve(dir);
    const contents = await readRun<Config, State, Event, Result>(folder);
    await acquireLock(folder);
    try {
      const removedTempFiles = await removeLeftoverTempFiles(folder);
      const eventsPath = join(folder, RUN_FILES.events);
      const text = await readFile(eventsPath, "utf8").catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return "";
        throw error;
      });
      const parsed = parseEvents(eventsPath, text);
      if (parsed.tornLine !== null) await truncate(eventsPath, parsed.completeBytes);
      const events = await open(eventsPath, "a");
      if (parsed.missingFinalNewline) await events.appendFile("\n");
      await events.sync();
      await syncFolder(folder);
      const { config, ...loaded } = contents;
      return new RunRecorder<Config, State, Event, Result>(folder, config, events, loaded, removedTempFiles);
    } catch (error) {
      await rm(join(folder, RUN_FILES.lock), { force: true });
      throw error;
    }
  }

  // Called synchronously from the public async methods (before their first await), so writes keep
  // the order of the calls even when the caller does not await each one.
  private enqueue<T>(write: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`${this.dir}: the run recorder is closed`));
    const next = this.queue.then(write);
    // A failed write must not block the ones after it; the caller still sees its own failure.
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Appends one event as a JSON line to events.jsonl; resolves once it is fsynced. */
  async appendEvent(event: Event): Promise<void> {
    const line = toJsonText(event, "the event") + "\n";
    return this.enqueue(async () => {
      await this.events.appendFile(line, "utf8");
      await this.events.sync();
    });
  }

  /** Replaces state.json atomically with the optimizer's resumable state. */
  async saveState(state: State): Promise<void> {
    const text = toJsonText(state, "the run state", 2) + "\n";
    return this.enqueue(() => writeFileAtomic(join(this.dir, RUN_FILES.state), text));
  }

  /** Writes result.json atomically (replacing an earlier result of this run). */
  async writeResult(result: Result): Promise<void> {
    const text = toJsonText(result, "the run result", 2) + "\n";
    return this.enqueue(() => writeFileAtomic(join(this.dir, RUN_FILES.result), text));
  }

  /** Waits for queued writes, closes events.jsonl and releases the run's lock. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.events.close();
    await rm(join(this.dir, RUN_FILES.lock), { force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
