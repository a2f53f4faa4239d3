// Reading the tokenizer files of a model folder, with errors that name the file (and field) at fault.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
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

async function readRequired(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new TokenizerFileError(`${path} not found (a model folder needs it to tokenize)`);
    throw new TokenizerFileError(`${path} could not be read: ${(error as Error).message}`);
  }
}

async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
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
