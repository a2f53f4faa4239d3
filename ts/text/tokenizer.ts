// The model's tokenizer: tokenizer.json through @huggingface/tokenizers, special tokens from tokenizer_config.json
// and generation_config.json, the chat template through @huggingface/jinja. No tokenization logic of our own.
import { Tokenizer } from "@huggingface/tokenizers";
import { join } from "node:path";
import { usePythonByteFallback } from "./byte-fallback.js";
import { TemplateBoundError } from "./jinja-bounds.js";
import { ChatTemplate, findChatTemplateSource, type ChatMessage, type RenderChatOptions } from "./chat-template.js";
import { readTokenizerFiles, TokenizerFileError, type TokenizerFiles } from "./model-files.js";
import type { ModelTokenizer } from "./types.js";

usePythonByteFallback();

export interface LoadTokenizerOptions {
  /** A chat template to use instead of the folder's (for tokenizers that ship none, such as base models). */
  chatTemplate?: string;
  /**
   * Extra variables for the chat template, as transformers' apply_chat_template(**kwargs) passes them,
   * e.g. `{ enable_thinking: false }` for Qwen 3.
   */
  chatTemplateKwargs?: Record<string, unknown>;
}

/** The special tokens of a tokenizer, resolved to ids. */
interface SpecialTokens {
  bos: number | null;
  eos: number | null;
  pad: number | null;
  unk: number | null;
  /** Every special id: added tokens marked special, the four above, additional_special_tokens, generation eos. */
  all: Set<number>;
  /** Every added token (special or not), e.g. Qwen's <think>: never a prompt candidate. */
  added: Set<number>;
  generationEos: number[];
}

/**
 * A Hugging Face tokenizer loaded from a model folder. Implements {@link ModelTokenizer}; also gives the token
 * strings, the chat template for whole conversations, and the fingerprint that keys per-tokenizer caches.
 */
export class HfModelTokenizer implements ModelTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly unkTokenId: number | null;
  readonly stopTokenIds: number[];
  readonly specialTokenIds: Set<number>;
  readonly addedTokenIds: Set<number>;
  /** sha256 of tokenizer.json: identifies the tokenizer in caches. */
  readonly fingerprint: string;
  /** The folder it was loaded from. */
  readonly modelDir: string;
  /** The chat template, or null where the folder has none (then rendering throws, naming the files). */
  readonly chatTemplate: ChatTemplate | null;

  private readonly tokenizer: Tokenizer;
  private readonly idsByToken: Map<string, number>;
  private readonly tokensById: Map<number, string>;

  /** Use {@link loadTokenizer}; this constructor takes files already read and parsed. */
  constructor(files: TokenizerFiles, options: LoadTokenizerOptions = {}) {
    const tokenizerPath = join(files.modelDir, "tokenizer.json");
    if (typeof files.tokenizerJson["model"] !== "object" || files.tokenizerJson["model"] === null) {
      throw new TokenizerFileError(`${tokenizerPath} has no "model" object`);
    }
    checkTokenIdRange(files.tokenizerJson, tokenizerPath);
    try {
      this.tokenizer = new Tokenizer(files.tokenizerJson, files.tokenizerConfig);
    } catch (error) {
      throw new TokenizerFileError(
        `${tokenizerPath}: @huggingface/tokenizers cannot build this tokenizer: ${(error as Error).message}`,
      );
    }
    this.modelDir = files.modelDir;
    this.fingerprint = files.tokenizerJsonSha256;
    this.idsByToken = this.tokenizer.get_vocab(true);
    this.tokensById = new Map([...this.idsByToken].map(([token, id]) => [id, token]));
    let maxId = -1;
    for (const id of this.idsByToken.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;

    const special = resolveSpecialTokens(files, this.idsByToken, this.vocabSize);
    this.bosTokenId = special.bos;
    this.eosTokenId = special.eos;
    this.padTokenId = special.pad;
    this.unkTokenId = special.unk;
    this.specialTokenIds = special.all;
    this.addedTokenIds = special.added;

    const templateSource = findChatTemplateSource(files, options.chatTemplate);
    this.chatTemplate =
      templateSource === null
        ? null
        : new ChatTemplate(templateSource.source, templateSource.origin, {
            ...templateVariables(files.tokenizerConfig),
            ...options.chatTemplateKwargs,
          });

    const endOfTurn = this.chatTemplate === null ? null : this.findAssistantEndOfTurn();
    this.stopTokenIds = [...new Set([...special.generationEos, ...(special.eos === null ? [] : [special.eos]),
      ...(endOfTurn === null ? [] : [endOfTurn])])];
  }

  /**
   * Token ids of a text. `addSpecialTokens` (default false) applies the tokenizer's post-processor (e.g. Llama 2's
   * BOS); it is off by default because texts rendered by a chat template already hold their special tokens, as in
   * transformers' apply_chat_template.
   */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
  }

  /** Text of token ids, without transformers' clean-up of spaces (so that decode∘encode is the identity). */
  decode(ids: number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ""; // the library rejects an empty list
    return this.tokenizer.decode(ids, {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  /** The vocabulary string of a token id (e.g. "Ġthe"), or undefined for an id outside the vocabulary. */
  idToToken(id: number): string | undefined {
    return this.tokensById.get(id);
  }

  /** The id of a vocabulary string (e.g. "<|eot_id|>"), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.idsByToken.get(token);
  }

  /** True where the folder (or the chatTemplate option) gave a chat template. */
  get hasChatTemplate(): boolean {
    return this.chatTemplate !== null;
  }

  /** Renders a conversation with the chat template; throws, naming the files, where there is none. */
  renderChat(messages: ChatMessage[], options: RenderChatOptions): string {
    if (this.chatTemplate === null) {
      throw new TokenizerFileError(
        `${join(this.modelDir, "tokenizer_config.json")} has no "chat_template" field and the folder has no ` +
          `chat_template.jinja; pass loadTokenizer's chatTemplate option to use this tokenizer in a chat`,
      );
    }
    return this.chatTemplate.render(messages, options);
  }

  /** The chat template for one user message followed by the assistant header (the generation prompt). */
  renderUserTurn(content: string): string {
    return this.renderChat([{ role: "user", content }], { addGenerationPrompt: true });
  }

  /**
   * The special token that closes an assistant turn in the chat template (<|eot_id|>, <|im_end|>, <end_of_turn>,
   * ...): the model emits it when its reply is done, so generation stops on it. Found by rendering a reply made of
   * a marker and reading the special token right after it; null where the template will not render that.
   */
  private findAssistantEndOfTurn(): number | null {
    const marker = "GREATERENDOFTURNMARKER";
    let text: string;
    try {
      text = this.renderChat(
        [{ role: "user", content: "Hi" }, { role: "assistant", content: marker }],
        { addGenerationPrompt: false },
      );
    } catch (error) {
      // A template that cannot render an assistant reply has no end-of-turn token to find; one that runs past
      // the render bounds is broken, and is named now rather than at the first prompt.
      if ((error as Error).cause instanceof TemplateBoundError) throw new TokenizerFileError((error as Error).message);
      return null;
    }
    const at = text.lastIndexOf(marker);
    if (at < 0) return null;
    const after = text.slice(at + marker.length).trimStart();
    let best: { id: number; length: number } | null = null;
    for (const id of this.specialTokenIds) {
      const token = this.tokensById.get(id);
      if (token !== undefined && token.length > 0 && after.startsWith(token) && (best === null || token.length > best.length)) {
        best = { id, length: token.length };
      }
    }
    return best === null ? null : best.id;
  }
}

/** The largest token id accepted, as for config.json's vocab_size: far above any real vocabulary. */
const MAX_TOKEN_ID = (1 << 24) - 1;

/**
 * Refuses ids no real vocabulary has before the library sizes anything by them: an id of 10^9 makes it build a
 * table of a billion entries (minutes, gigabytes) before any error could be given.
 */
function checkTokenIdRange(tokenizerJson: Record<string, unknown>, path: string): void {
  const check = (id: unknown, where: string) => {
    if (typeof id === "number" && (!Number.isInteger(id) || id < 0 || id > MAX_TOKEN_ID)) {
      throw new TokenizerFileError(`${path} field ${where}: the id ${id} is not a token id from 0 to ${MAX_TOKEN_ID}`);
    }
  };
  const model = tokenizerJson["model"] as Record<string, unknown>;
  const vocab = model["vocab"];
  if (vocab !== null && typeof vocab === "object" && !Array.isArray(vocab)) {
    for (const [token, id] of Object.entries(vocab as Record<string, unknown>)) check(id, `"model.vocab" (token ${JSON.stringify(token)})`);
  }
  const added = tokenizerJson["added_tokens"];
  if (Array.isArray(added)) added.forEach((entry, index) => check((entry as { id?: unknown } | null)?.id, `"added_tokens"[${index}].id`));
}

/**
 * Loads the tokenizer of a model folder: tokenizer.json and tokenizer_config.json (both required),
 * generation_config.json (stop tokens; optional) and the chat template (tokenizer_config.json's "chat_template" or
 * chat_template.jinja; optional until a chat is rendered). Errors name the file and field at fault.
 */
export async function loadTokenizer(modelDir: string, options: LoadTokenizerOptions = {}): Promise<HfModelTokenizer> {
  return new HfModelTokenizer(await readTokenizerFiles(modelDir), options);
}

/** The string of a special-token value of tokenizer_config.json: a string, an AddedToken object, or null. */
function tokenContent(value: unknown, where: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return value;
  if (typeof value === "object" && typeof (value as { content?: unknown }).content === "string") {
    return (value as { content: string }).content;
  }
  throw new TokenizerFileError(`${where} must be a string or an object with "content"`);
}

function resolveSpecialTokens(files: TokenizerFiles, idsByToken: Map<string, number>, vocabSize: number): SpecialTokens {
  const configPath = join(files.modelDir, "tokenizer_config.json");
  const generationPath = join(files.modelDir, "generation_config.json");
  const tokenizerPath = join(files.modelDir, "tokenizer.json");

  const idOfField = (field: string): number | null => {
    const token = tokenContent(files.tokenizerConfig[field], `${configPath} field "${field}"`);
    if (token === null) return null;
    const id = idsByToken.get(token);
    if (id === undefined) throw new TokenizerFileError(`${configPath} field "${field}": "${token}" is not a token of ${tokenizerPath}`);
    return id;
  };
  const generationIds = (field: string): number[] => {
    const value = files.generationConfig?.[field];
    if (value === undefined || value === null) return [];
    const ids = Array.isArray(value) ? value : [value];
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new TokenizerFileError(`${generationPath} field "${field}": ${JSON.stringify(id)} is not a token id below ${vocabSize}`);
      }
    }
    return ids as number[];
  };

  const model = files.tokenizerJson["model"] as Record<string, unknown>;
  const modelUnk = typeof model["unk_token"] === "string" ? idsByToken.get(model["unk_token"]) ?? null : null;
  const bos = idOfField("bos_token") ?? generationIds("bos_token_id")[0] ?? null;
  const eos = idOfField("eos_token") ?? generationIds("eos_token_id")[0] ?? null;
  const pad = idOfField("pad_token") ?? generationIds("pad_token_id")[0] ?? null;
  const unk = idOfField("unk_token") ?? modelUnk;
  const generationEos = generationIds("eos_token_id");

  const all = new Set<number>();
  const added = new Set<number>();
  const addedTokens = files.tokenizerJson["added_tokens"] ?? [];
  if (!Array.isArray(addedTokens)) throw new TokenizerFileError(`${tokenizerPath} field "added_tokens" must be a list`);
  for (const entry of addedTokens as Array<{ id?: unknown; special?: unknown }>) {
    if (!Number.isInteger(entry?.id)) throw new TokenizerFileError(`${tokenizerPath} field "added_tokens": an entry has no integer "id"`);
    added.add(entry.id as number);
    if (entry.special === true) all.add(entry.id as number);
  }
  const additional = files.tokenizerConfig["additional_special_tokens"] ?? [];
  if (!Array.isArray(additional)) throw new TokenizerFileError(`${configPath} field "additional_special_tokens" must be a list`);
  additional.forEach((value: unknown, index) => {
    const where = `${configPath} field "additional_special_tokens"[${index}]`;
    const token = tokenContent(value, where);
    const id = token === null ? undefined : idsByToken.get(token);
    if (id === undefined) throw new TokenizerFileError(`${where} is not a token of ${tokenizerPath}`);
    all.add(id);
  });
  for (const id of [bos, eos, pad, unk, ...generationEos]) if (id !== null) all.add(id);
  return { bos, eos, pad, unk, all, added, generationEos };
}

/** The variables transformers gives every chat template: the special-token strings that are set. */
function templateVariables(config: Record<string, unknown>): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  for (const field of ["bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"]) {
    const token = tokenContent(config[field], `tokenizer_config.json field "${field}"`);
    if (token !== null) variables[field] = token;
  }
  const additional = config["additional_special_tokens"];
  if (Array.isArray(additional)) {
    variables["additional_special_tokens"] = additional.map((value: unknown) =>
      tokenContent(value, `tokenizer_config.json field "additional_special_tokens"`));
  }
  return variables;
}
