// Reading task data files: bytes, hash, text, what the content really is (not what the extension says),
// and the one error type a loader throws for a file that is not what it should be.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** A data file that cannot be read as the format a loader expects. The message names the file. */
export class TaskFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = "TaskFileError";
  }
}

/** A data file's content with its absolute path and SHA-256. */
export interface DataFile {
  path: string;
  sha256: string;
  /** The bytes, for byte-offset arithmetic (the CSV parser reports offsets in bytes). */
  bytes: Buffer;
  /** The text, UTF-8 decoded, with a leading byte-order mark removed. */
  text: string;
  /** 1-based lines holding bytes that are not UTF-8 (decoded as U+FFFD in `text`), at most the first 100. */
  invalidUtf8Lines: number[];
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The 1-based lines of `bytes` that are not valid UTF-8 (the first `limit`); empty for a valid file. */
function invalidUtf8Lines(bytes: Buffer, limit = 100): number[] {
  try {
    strictUtf8.decode(bytes);
    return [];
  } catch {
    const lines: number[] = [];
    let start = 0;
    for (let line = 1; start <= bytes.length && lines.length < limit; line++) {
      const newline = bytes.indexOf(0x0a, start);
      const end = newline < 0 ? bytes.length : newline;
      try {
        strictUtf8.decode(bytes.subarray(start, end));
      } catch {
        lines.push(line);
      }
      if (newline < 0) break;
      start = newline + 1;
    }
    return lines;
  }
}

/** Reads a data file; a missing or unreadable file gives a {@link TaskFileError}. */
export function readDataFile(path: string): DataFile {
  const absolute = resolve(path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TaskFileError(absolute, code === "ENOENT" ? "no such file" : `cannot read (${(error as Error).message})`);
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return { path: absolute, sha256, bytes, text: bytes.toString("utf8").replace(/^\uFEFF/, ""), invalidUtf8Lines: invalidUtf8Lines(bytes) };
}

/** What a file's content looks like, whatever its extension. */
export type SniffedFormat = "csv" | "json" | "jsonl";

/**
 * Sniffs a data file's format from its content: a JSON document ("{...}" or "[...]" that parses as a
 * whole), JSON lines (the first line is a JSON object on its own), else CSV.
 */
export function sniffFormat(text: string): SniffedFormat {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) return "csv";
  const firstLine = trimmed.split("\n", 1)[0].trim();
  if (firstLine.startsWith("{") && firstLine.endsWith("}") && parsesAsObject(firstLine)) {
    // A one-line JSON document and one-row JSON lines look alike; one with "examples" is a BBH document.
    const rest = trimmed.slice(firstLine.length).trim();
    if (rest === "" && hasExamplesArray(firstLine)) return "json";
    return "jsonl";
  }
  return "json";
}

function parsesAsObject(line: string): boolean {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

function hasExamplesArray(line: string): boolean {
  const value = JSON.parse(line) as Record<string, unknown>;
  return Array.isArray(value.examples);
}

/** Maps offsets (characters of a string, or bytes of a Buffer) to 1-based line numbers. */
export class LineIndex {
  private readonly lineStarts: number[] = [0];

  constructor(content: string | Buffer) {
    const newline = typeof content === "string" ? (index: number) => content.charCodeAt(index) === 10 : (index: number) => content[index] === 10;
    for (let index = 0; index < content.length; index++) if (newline(index)) this.lineStarts.push(index + 1);
  }

  /** The line that holds `offset` (an offset just past a newline belongs to the next line). */
  lineAt(offset: number): number {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.lineStarts[middle] <= offset) low = middle;
      else high = middle - 1;
    }
    return low + 1;
  }
}
