// The model's chat template (Jinja, as Hugging Face stores it), rendered with @huggingface/jinja.
import { Template } from "@huggingface/jinja";
import { join } from "node:path";
import { renderWithinBounds } from "./jinja-bounds.js";
import { usePythonStringMethods } from "./jinja-python-strings.js";
import { TokenizerFileError, type TokenizerFiles } from "./model-files.js";

usePythonStringMethods();

/** One chat message, as chat templates receive it. */
export interface ChatMessage {
  role: string;
  content: string;
}

export interface RenderChatOptions {
  /** Append the assistant header so that the model's reply comes next (transformers' add_generation_prompt). */
  addGenerationPrompt: boolean;
}

/** A parsed chat template together with the variables transformers passes to it (special tokens, kwargs). */
export class ChatTemplate {
  private readonly template: Template;

  /**
   * @param source the Jinja text
   * @param origin where it came from, for error messages (file and field)
   * @param variables special-token strings and extra template kwargs (e.g. enable_thinking)
   */
  constructor(
    readonly source: string,
    readonly origin: string,
    private readonly variables: Record<string, unknown>,
  ) {
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new TokenizerFileError(`${origin}: the chat template does not parse: ${(error as Error).message}`);
    }
  }

  /** Renders messages to text exactly as transformers' apply_chat_template(tokenize=False) would. */
  render(messages: ChatMessage[], options: RenderChatOptions): string {
    try {
      return renderWithinBounds(() =>
        this.template.render({
          ...this.variables,
          messages,
          add_generation_prompt: options.addGenerationPrompt,
        }),
      );
    } catch (error) {
      throw new Error(`${this.origin}: rendering the chat template failed: ${(error as Error).message}`, { cause: error });
    }
  }
}

/**
 * Finds the chat template of a model folder. Order: an explicit override, then chat_template.jinja (the file newer
 * transformers versions write), then tokenizer_config.json's "chat_template" (a string, or a list of named templates
 * of which "default" is used). Returns null where the folder has none.
 */
export function findChatTemplateSource(
  files: TokenizerFiles,
  override: string | undefined,
): { source: string; origin: string } | null {
  if (override !== undefined) return { source: override, origin: "the chatTemplate option" };
  if (files.chatTemplateFile !== null) {
    return { source: files.chatTemplateFile, origin: join(files.modelDir, "chat_template.jinja") };
  }
  const field = files.tokenizerConfig["chat_template"];
  const origin = `${join(files.modelDir, "tokenizer_config.json")} field "chat_template"`;
  if (field === undefined || field === null) return null;
  if (typeof field === "string") return { source: field, origin };
  if (Array.isArray(field)) {
    const named = field.find(
      (entry): entry is { name: string; template: string } =>
        typeof entry === "object" && entry !== null && entry.name === "default" && typeof entry.template === "string",
    );
    if (named) return { source: named.template, origin: `${origin} (entry "default")` };
    throw new TokenizerFileError(`${origin} is a list without an entry named "default"`);
  }
  throw new TokenizerFileError(`${origin} must be a string or a list of {name, template}`);
}
