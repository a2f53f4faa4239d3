// Copies of a tiny model with one thing broken or rewritten, in a temporary folder: for the loader's error tests
// and for output layers built to test a code path.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modelPath } from "./fixtures.js";

export interface SafetensorsParts {
  header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  data: Buffer;
}

export class BrokenModels {
  private readonly root = mkdtempSync(join(tmpdir(), "greater-broken-"));
  private count = 0;

  /** A fresh copy of a tiny model; returns its folder. */
  copy(name = "llama-untied"): string {
    const folder = join(this.root, `${name}-${this.count++}`);
    cpSync(modelPath(name), folder, { recursive: true });
    return folder;
  }

  /**
   * A copy whose config.json allows `positions` rope positions: for calls that run far past the tiny models' own
   * max_position_embeddings (long generations), which the engine refuses on the originals.
   */
  withPositions(positions: number, name = "llama-untied"): string {
    const folder = this.copy(name);
    editJson(join(folder, "config.json"), (json) => {
      json["max_position_embeddings"] = positions;
    });
    return folder;
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export function readSafetensors(file: string): SafetensorsParts {
  const bytes = readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + length).toString("utf8")), data: bytes.subarray(8 + length) };
}

/** Writes a header and data; offsets in the header stay relative to the data, so entries may be edited freely. */
export function writeSafetensors(file: string, parts: SafetensorsParts): void {
  let header = JSON.stringify(parts.header);
  header += " ".repeat((8 - (header.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
  writeFileSync(file, Buffer.concat([length, Buffer.from(header), parts.data]));
}

type TensorSpec = { dtype: string; shape: number[]; data_offsets: [number, number] };

/** The parts without tensor `name`: its bytes cut out of the data and the later tensors' offsets moved up. */
export function removeTensor(parts: SafetensorsParts, name: string): SafetensorsParts {
  const removed = parts.header[name] as TensorSpec;
  const [begin, end] = removed.data_offsets;
  const header: SafetensorsParts["header"] = {};
  for (const [key, value] of Object.entries(parts.header)) {
    if (key === name) continue;
    const spec = value as TensorSpec;
    header[key] = key === "__metadata__" || spec.data_offsets[0] < end ? value : { ...spec, data_offsets: [spec.data_offsets[0] - (end - begin), spec.data_offsets[1] - (end - begin)] };
  }
  return { header, data: Buffer.concat([parts.data.subarray(0, begin), parts.data.subarray(end)]) };
}

export function editJson(file: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  edit(json);
  writeFileSync(file, JSON.stringify(json));
}

/**
 * Rewrites lm_head.weight (float32) of the model in `folder`: row(id, hidden) gives that token's row, or null
 * to leave it as it was. Returns the vocabulary size.
 */
export function setOutputRows(folder: string, row: (id: number, hidden: number) => number[] | null): number {
  const file = join(folder, "model.safetensors");
  const parts = readSafetensors(file);
  const entry = parts.header["lm_head.weight"] as { dtype: string; shape: number[]; data_offsets: [number, number] };
  if (entry?.dtype !== "F32") throw new Error(`${file}: lm_head.weight is not a float32 tensor`);
  const [vocab, hidden] = entry.shape;
  const weights = new Float32Array(parts.data.buffer, parts.data.byteOffset + entry.data_offsets[0], vocab * hidden);
  for (let id = 0; id < vocab; id++) {
    const values = row(id, hidden);
    if (values) weights.set(values, id * hidden);
  }
  writeSafetensors(file, parts);
  return vocab;
}
