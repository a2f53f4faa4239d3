// A worker keeps the last model it loaded, and its tokenizer: the next job on the same folder, device and dtype
// starts at once instead of reading gigabytes again. A job on another model replaces them.
import { loadModel } from "../engine/model.js";
import type { LanguageModel } from "../engine/types.js";
import type { ModelSource } from "../runs/run.js";
import { loadTokenizer } from "../text/index.js";
import type { ModelTokenizer } from "../text/types.js";

export class ModelCache implements ModelSource {
  private kept: { key: string; model: LanguageModel } | undefined;
  private keptTokenizer: { path: string; tokenizer: ModelTokenizer } | undefined;
  /** How many times a model was read from disk (for tests and the worker's log). */
  loads = 0;

  constructor(private readonly allowedRoots: string[]) {}

  async acquire(path: string, device: string, dtype: string | undefined): Promise<LanguageModel> {
    const key = JSON.stringify([path, device, dtype ?? null]);
    if (this.kept?.key === key) return this.kept.model;
    this.dispose();
    const model = await loadModel(path, { device, dtype: dtype as never, allowedRoots: this.allowedRoots });
    this.loads += 1;
    this.kept = { key, model };
    return model;
  }

  async tokenizer(path: string): Promise<ModelTokenizer> {
    if (this.keptTokenizer?.path !== path) this.keptTokenizer = { path, tokenizer: await loadTokenizer(path) };
    return this.keptTokenizer.tokenizer;
  }

  /** Kept for the next job. */
  release(_model: LanguageModel): void {}

  dispose(): void {
    this.kept?.model.dispose();
    this.kept = undefined;
  }
}
