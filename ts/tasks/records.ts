// Reading a data file into records (one per example) that remember the line where each starts:
// CSV through csv-parse (BBH questions span several lines inside quotes), JSON lines, and the original
// BIG-Bench Hard JSON document `{"examples": [{"input", "target"}]}`.
import { parse as parseCsv } from "csv-parse/sync";
import { parseTree, type Node as JsonNode } from "jsonc-parser";
import { LineIndex, TaskFileError, type DataFile } from "./files.js";
import type { TaskIssue } from "./types.js";

/** One record of a data file: its fields by column name and the line where it starts. */
export interface FileRecord {
  fields: Record<string, unknown>;
  line: number;
}

/** The records of a file, and the rows that could not be read as records (reported, not fatal). */
export interface FileRecords {
  records: FileRecord[];
  issues: TaskIssue[];
}

/**
 * The line where a quoted field opens that the file never closes, or null. (The CSV parser reports the line where it
 * ran out of input, the file's last, which is not where the mistake is.) RFC 4180: a quote opens a field only at its
 * start, and "" inside a quoted field is a quote.
 */
function unclosedQuoteLine(text: string): number | null {
  let line = 1;
  let openedAt: number | null = null;
  let fieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (openedAt !== null) {
      if (c === '"') {
        if (text[i + 1] === '"') i++;
        else openedAt = null;
      } else if (c === "\n") line++;
      continue;
    }
    if (c === '"' && fieldStart) openedAt = line;
    if (c === "\n") line++;
    fieldStart = c === "," || c === "\n" || c === "\r";
  }
  return openedAt;
}

/**
 * Reads a CSV file with a header row that must contain `requiredColumns`. Fields keep their inner
 * newlines. A row with the wrong number of fields is reported; a malformed file (an unclosed quote, no
 * header, a missing column) throws a {@link TaskFileError}.
 */
export function readCsvRecords(file: DataFile, requiredColumns: string[]): FileRecords {
  if (file.text.trim() === "") throw new TaskFileError(file.path, "the file is empty: no header and no rows");
  let rows: { record: string[]; info: { bytes: number } }[];
  try {
    rows = parseCsv(file.bytes, { bom: true, info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as typeof rows;
  } catch (error) {
    const opened = unclosedQuoteLine(file.text);
    if (opened !== null) throw new TaskFileError(file.path, `not a valid CSV file: the quote that opens at line ${opened} is never closed`);
    throw new TaskFileError(file.path, `not a valid CSV file (${(error as Error).message})`);
  }
  if (rows.length === 0) throw new TaskFileError(file.path, "the file holds no CSV rows; expected a header row");
  const header = rows[0].record.map((name) => name.trim());
  const missing = requiredColumns.filter((column) => !header.includes(column));
  if (missing.length > 0) {
    throw new TaskFileError(
      file.path,
      `the CSV header is "${header.join(",")}", which lacks the column${missing.length > 1 ? "s" : ""} ` +
        `${missing.map((column) => `"${column}"`).join(", ")} (expected ${requiredColumns.join(",")})`,
    );
  }

  // csv-parse reports, per record, the byte offset just past it; a record starts where the previous one
  // ended, after any blank lines.
  const lines = new LineIndex(file.bytes);
  const records: FileRecord[] = [];
  const issues: TaskIssue[] = [];
  for (let index = 1; index < rows.length; index++) {
    let start = rows[index - 1].info.bytes;
    while (start < file.bytes.length && (file.bytes[start] === 10 || file.bytes[start] === 13)) start++;
    const line = lines.lineAt(start);
    const values = rows[index].record;
    if (values.length !== header.length) {
      issues.push({
        kind: "invalid-record",
        file: file.path,
        line,
        message: `has ${values.length} field${values.length === 1 ? "" : "s"}, the header has ${header.length}`,
      });
      continue;
    }
    const fields: Record<string, unknown> = {};
    header.forEach((name, column) => (fields[name] = values[column]));
    records.push({ fields, line });
  }
  return { records, issues };
}

/**
 * Reads a JSON-lines file: one JSON object per non-blank line. A first line that is not a JSON object
 * means the file is not JSON lines at all (a {@link TaskFileError}); a later bad line is reported.
 */
export function readJsonLinesRecords(file: DataFile): FileRecords {
  const records: FileRecord[] = [];
  const issues: TaskIssue[] = [];
  const lines = file.text.split("\n");
  let seenRecord = false;
  lines.forEach((raw, index) => {
    const text = raw.trim();
    if (text === "") return;
    const line = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      if (!seenRecord) {
        throw new TaskFileError(file.path, `not a JSON-lines file: line ${line} is not JSON (${(error as Error).message})`);
      }
      issues.push({ kind: "invalid-record", file: file.path, line, message: `is not valid JSON (${(error as Error).message})` });
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      if (!seenRecord) throw new TaskFileError(file.path, `not a JSON-lines file: line ${line} is not a JSON object`);
      issues.push({ kind: "invalid-record", file: file.path, line, message: "is not a JSON object" });
      return;
    }
    seenRecord = true;
    records.push({ fields: value as Record<string, unknown>, line });
  });
  if (!seenRecord) throw new TaskFileError(file.path, "the file has no JSON lines");
  return { records, issues };
}

/**
 * Reads a BIG-Bench Hard JSON document, `{"examples": [{"input": ..., "target": ...}, ...]}`, giving each
 * example the line where its object starts. Invalid JSON or a missing `examples` array throws a
 * {@link TaskFileError}.
 */
export function readBbhJsonRecords(file: DataFile): FileRecords {
  let document: unknown;
  try {
    document = JSON.parse(file.text);
  } catch (error) {
    throw new TaskFileError(file.path, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof document !== "object" || document === null || !Array.isArray((document as { examples?: unknown }).examples)) {
    throw new TaskFileError(file.path, 'a BIG-Bench Hard JSON file must be an object with an "examples" array');
  }
  const examples = (document as { examples: unknown[] }).examples;
  // JSON.parse gives no positions; the syntax tree does (the text is already known to be valid JSON).
  const tree = parseTree(file.text);
  const examplesNode = tree?.children?.find((property: JsonNode) => property.children?.[0]?.value === "examples")?.children?.[1];
  const lines = new LineIndex(file.text);
  const records: FileRecord[] = [];
  const issues: TaskIssue[] = [];
  examples.forEach((example, index) => {
    const line = lines.lineAt(examplesNode?.children?.[index]?.offset ?? 0);
    if (typeof example !== "object" || example === null || Array.isArray(example)) {
      issues.push({ kind: "invalid-record", file: file.path, line, message: `examples[${index}] is not an object` });
      return;
    }
    records.push({ fields: example as Record<string, unknown>, line });
  });
  return { records, issues };
}
