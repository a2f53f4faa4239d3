// The SHA-256 of every file of a model folder that loading reads (weights, config, tokenizer, template), recorded in
// a run's config.json, so that a resumed run can check it continues on the very model it began with.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";

const MODEL_FILES = [
  "config.json",
  "generation_config.json",
  "model.safetensors",
  "model.safetensors.index.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "chat_template.jinja",
];

async function isRegularFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** File name (relative to the folder) -> SHA-256, for the model files present, shards of an index included. */
export async function modelFingerprint(modelDir: string): Promise<Record<string, string>> {
  const names = new Set<string>();
  for (const name of MODEL_FILES) if (await isRegularFile(join(modelDir, name))) names.add(name);
  if (names.has("model.safetensors.index.json")) {
    const index = JSON.parse(await readFile(join(modelDir, "model.safetensors.index.json"), "utf8")) as { weight_map?: Record<string, string> };
    for (const shard of Object.values(index.weight_map ?? {})) if (await isRegularFile(join(modelDir, shard))) names.add(shard);
  }
  const fingerprint: Record<string, string> = {};
  for (const name of [...names].sort()) fingerprint[name] = await sha256Of(join(modelDir, name));
  return fingerprint;
}

/** The files whose content differs between two fingerprints (added, removed or changed), sorted. */
export function fingerprintChanges(recorded: Record<string, string>, now: Record<string, string>): string[] {
  const names = new Set([...Object.keys(recorded), ...Object.keys(now)]);
  return [...names].filter((name) => recorded[name] !== now[name]).sort();
}
