// Reading the tokenizer files of a model folder, with errors that name the file (and field) at fault.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";

/** The raw files of a model folder that the text layer reads. */
export interface TokenizerFiles {
  modelDir: string;
  /** Parsed tokenizer.json. */
  tokenizerJson: Record<string, unknown>;
  /** Parsed tokenizer_config.json. */
  tokenizerConfig: Record<string, unknown>;
  /** Parsed generation_config.json, or null where the folder has none. */
  generationConfig: Record<string, unknown> | null;
  /** Contents of chat_template.jinja, or null where the folder has none. */
  chatTemplateFile: string | null;
  /** sha256 (hex) of tokenizer.json's bytes: the key of everything cached per tokenizer. */
  tokenizerJsonSha256: string;
}

/** Error raised for a model folder whose tokenizer files are missing or malformed. */
export class TokenizerFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenizerFileError";
  }
}

/** Reads tokenizer.json and tokenizer_config.json (required), generation_config.json and chat_template.jinja. */
export async function readTokenizerFiles(modelDir: string): Promise<TokenizerFiles> {
  const tokenizerBytes = await readRequired(join(modelDir, "tokenizer.json"));
  const tokenizerJson = parseJsonObject(tokenizerBytes.toString("utf8"), join(modelDir, "tokenizer.json"));
  const configPath = join(modelDir, "tokenizer_config.json");
  const tokenizerConfig = parseJsonObject((await readRequired(configPath)).toString("utf8"), configPath);
  const generationPath = join(modelDir, "generation_config.json");
  const generationBytes = await readOptional(generationPath);
  const generationConfig = generationBytes === null ? null : parseJsonObject(generationBytes.toString("utf8"), generationPath);
  const chatTemplateBytes = await readOptional(join(modelDir, "chat_template.jinja"));
  return {
    modelDir,
    tokenizerJson,
    tokenizerConfig,
    generationConfig,
    chatTemplateFile: chatTemplateBytes === null ? null : chatTemplateBytes.toString("utf8"),
    tokenizerJsonSha256: createHash("sha256").update(tokenizerBytes).digest("hex"),
  };
}

/** Tokenizer files are JSON or Jinja text: far below this, and reading a larger one whole would be the problem. */
const MAX_FILE_BYTES = 512 * 1024 * 1024;

/**
 * Reads a regular file. Anything else is refused before it is opened: reading a FIFO named tokenizer.json would wait
 * for a writer forever, and a device could stream without end.
 */
async function readRegular(path: string): Promise<Buffer> {
  const info = await stat(path); // follows symbolic links, as reading does
  if (!info.isFile()) {
    const kind = info.isFIFO() ? "a FIFO (named pipe)" : info.isDirectory() ? "a directory" : info.isSocket() ? "a socket" : "a device";
    throw new TokenizerFileError(`${path} is ${kind}, not a regular file`);
  }
  if (info.size > MAX_FILE_BYTES) throw new TokenizerFileError(`${path} has ${info.size} bytes, more than a tokenizer file may (${MAX_FILE_BYTES})`);
  return readFile(path);
}

async function readRequired(path: string): Promise<Buffer> {
  try {
    return await readRegular(path);
  } catch (error) {
    if (error instanceof TokenizerFileError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new TokenizerFileError(`${path} not found (a model folder needs it to tokenize)`);
    if (code === "ELOOP") throw new TokenizerFileError(`${path}: symbolic links loop, the link never reaches a file`);
    throw new TokenizerFileError(`${path} could not be read: ${(error as Error).message}`);
  }
}

async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readRegular(path);
  } catch (error) {
    if (error instanceof TokenizerFileError) throw error;
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new TokenizerFileError(`${path} could not be read: ${(error as Error).message}`);
  }
}

function parseJsonObject(text: string, path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TokenizerFileError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TokenizerFileError(`${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}
