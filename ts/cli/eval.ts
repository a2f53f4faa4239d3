// `greater eval`: accuracy of a prompt (text) on a task split, with any model: the prompt is tokenized by
// that model's tokenizer, so a prompt optimized on one model can be measured on another (transfer).
import { writeFile } from "node:fs/promises";
import { setThreads } from "../engine/info.js";
import { loadModel } from "../engine/model.js";
import { evaluateText } from "../tasks/index.js";
import type { SplitName } from "../tasks/types.js";
import { loadTokenizer } from "../text/index.js";
import { loadTaskFrom, splitSizes } from "../runs/run.js";

export interface EvalFlags {
  model: string;
  task: string;
  prompt: string;
  split: string;
  data?: string;
  device: string;
  dtype?: string;
  splitSeed: number;
  trainSize?: number;
  devSize?: number;
  testSize?: number;
  maxNewTokens: number;
  limit?: number;
  records?: string;
  threads?: number;
  json?: boolean;
}

export async function evalCommand(flags: EvalFlags, signal: AbortSignal): Promise<number> {
  if (!["train", "dev", "test"].includes(flags.split)) throw new Error(`--split: unknown split "${flags.split}" (train, dev or test)`);
  if (flags.threads) setThreads(flags.threads);
  const task = loadTaskFrom({ spec: flags.task, data: flags.data, splitSeed: flags.splitSeed, sizes: splitSizes(flags) });
  await using model = await loadModel(flags.model, { device: flags.device, dtype: flags.dtype as never });
  const tokenizer = await loadTokenizer(flags.model);
  const result = await evaluateText(model, tokenizer, task, flags.prompt, flags.split as SplitName, {
    maxNewTokens: flags.maxNewTokens,
    limit: flags.limit,
    signal,
    onProgress: flags.json ? undefined : (p) => process.stderr.write(`\r${p.done}/${p.total} evaluated, ${p.correct} correct`),
  });
  if (!flags.json) process.stderr.write("\n");
  if (flags.records) await writeFile(flags.records, result.records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const summary = { type: "eval", task: task.name, split: result.split, prompt: result.prompt.text, accuracy: result.accuracy, correct: result.correct, total: result.total };
  if (flags.json) process.stdout.write(JSON.stringify(summary) + "\n");
  else console.log(`${task.name} ${result.split}: accuracy ${(result.accuracy * 100).toFixed(1)}% (${result.correct}/${result.total}) with prompt ${JSON.stringify(result.prompt.text)}`);
  return 0;
}
