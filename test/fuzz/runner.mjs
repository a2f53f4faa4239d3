// The fuzz test's child process (test/fuzz/fuzz.test.ts): loads `count` seeded mutations of one kind of input through
// the compiled package, one after another, and prints one JSON line per case: {"case", "outcome": "loaded" | "refused",
// "error", "message"}. Before each case it prints {"start": i}, so that when this process crashes or hangs the test
// knows which mutation did it. Usage: node runner.mjs KIND SEED COUNT WORKDIR  (KIND: safetensors, config, tokenizer, task)
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..", "..");
const { loadModel, loadTokenizer, loadCustomTask } = await import(join(root, "dist", "index.js"));
const { loadBbhTask } = await import(join(root, "dist", "tasks", "index.js"));
const [kind, seedText, countText, work] = process.argv.slice(2);
const count = Number(countText);

// mulberry32: small, seeded, the same sequence on every machine.
let state = Number(seedText) >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(random() * n);
const pick = (items) => items[int(items.length)];

const WEIRD_NUMBERS = [-1, 0, 1, 2, 3, 7, 255, 256, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 1e18, -1e18, 0.5, -0.5, 1e-300, 1e300, "NaN", null, true, "x", [], {}];
const weird = () => {
  const value = pick(WEIRD_NUMBERS);
  return value === "NaN" ? Number.NaN : value;
};

/** Byte-level mutations of a buffer: flip, insert, delete, truncate, duplicate a slice. */
function mutateBytes(bytes, start = 0, end = bytes.length) {
  const out = Buffer.from(bytes);
  const at = start + int(Math.max(1, end - start));
  switch (int(5)) {
    case 0: out[at] = int(256); return out;
    case 1: return Buffer.concat([out.subarray(0, at), Buffer.from([pick([0x22, 0x2c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x30, 0xff, 0x0a])]), out.subarray(at)]);
    case 2: return Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + int(8))]);
    case 3: return out.subarray(0, at);
    default: return Buffer.concat([out.subarray(0, at), out.subarray(start, Math.min(end, start + int(64))), out.subarray(at)]);
  }
}

/** A structural mutation of a parsed JSON value: a field deleted, retyped or given a weird value. */
function mutateJson(value, depth = 0) {
  if (Array.isArray(value) && value.length > 0 && depth < 4) {
    const i = int(value.length);
    if (random() < 0.3) value[i] = weird();
    else mutateJson(value[i], depth + 1);
    return value;
  }
  if (value && typeof value === "object" && depth < 4) {
    const keys = Object.keys(value);
    if (keys.length === 0) return value;
    const key = pick(keys);
    const choice = random();
    if (choice < 0.2) delete value[key];
    else if (choice < 0.6 || typeof value[key] !== "object" || value[key] === null) value[key] = weird();
    else mutateJson(value[key], depth + 1);
  }
  return value;
}

/** Loads the model folder `dir` (whose `mutated` file was changed), disposes it, and removes the folder. */
async function loadModelOnce(dir, mutated) {
  try {
    const model = await loadModel(dir, { device: "cpu" });
    model.dispose();
    return { file: join(dir, mutated), loaded: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const cases = {
  // A tiny Llama whose model.safetensors header (or its length field) is mutated; the data stays.
  safetensors() {
    const source = join(root, "test", "fixtures", "tiny-models", "llama-untied");
    const original = readFileSync(join(source, "model.safetensors"));
    const headerLength = Number(original.readBigUInt64LE(0));
    return async (i) => {
      const dir = join(work, `st-${i}`);
      cpSync(source, dir, { recursive: true });
      let bytes;
      if (random() < 0.2) {
        bytes = Buffer.from(original);
        bytes.writeBigUInt64LE(BigInt(Math.max(0, headerLength + pick([-8, -1, 1, 8, 1 << 20, -headerLength]))), 0);
      } else if (random() < 0.5) {
        const header = JSON.parse(original.subarray(8, 8 + headerLength).toString("utf8"));
        const text = Buffer.from(JSON.stringify(mutateJson(header)));
        const length = Buffer.alloc(8);
        length.writeBigUInt64LE(BigInt(text.length));
        bytes = Buffer.concat([length, text, original.subarray(8 + headerLength)]);
      } else {
        bytes = mutateBytes(original, 8, 8 + headerLength);
        if (bytes.length < 8) bytes = Buffer.concat([bytes, Buffer.alloc(8 - bytes.length)]);
        // The length field follows the header's growth or shrinkage (a truncation may leave less than it says).
        bytes.writeBigUInt64LE(BigInt(Math.max(0, headerLength + (bytes.length - original.length))), 0);
      }
      writeFileSync(join(dir, "model.safetensors"), bytes);
      return loadModelOnce(dir, "model.safetensors");
    };
  },
  config() {
    const source = join(root, "test", "fixtures", "tiny-models", pick(["llama-untied", "qwen2-bias", "gemma2", "mistral-sliding"]));
    const original = JSON.parse(readFileSync(join(source, "config.json"), "utf8"));
    return async (i) => {
      const dir = join(work, `cfg-${i}`);
      cpSync(source, dir, { recursive: true });
      const config = mutateJson(structuredClone(original));
      if (random() < 0.5) mutateJson(config); // sometimes two mutations
      const text = random() < 0.15 ? mutateBytes(Buffer.from(JSON.stringify(config))) : Buffer.from(JSON.stringify(config));
      writeFileSync(join(dir, "config.json"), text);
      return loadModelOnce(dir, "config.json");
    };
  },
  tokenizer() {
    const source = join(root, "test", "fixtures", "tokenizers", "tiny-bytelevel");
    const tokenizer = JSON.parse(readFileSync(join(source, "tokenizer.json"), "utf8"));
    const config = JSON.parse(readFileSync(join(source, "tokenizer_config.json"), "utf8"));
    return async (i) => {
      const dir = join(work, `tok-${i}`);
      mkdirSync(dir);
      for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]) copyFileSync(join(source, f), join(dir, f));
      const which = random() < 0.6 ? "tokenizer.json" : "tokenizer_config.json";
      const mutated = mutateJson(structuredClone(which === "tokenizer.json" ? tokenizer : config));
      const text = random() < 0.15 ? mutateBytes(Buffer.from(JSON.stringify(mutated))) : Buffer.from(JSON.stringify(mutated));
      writeFileSync(join(dir, which), text);
      try {
        const tok = await loadTokenizer(dir);
        tok.encode("Hello world, 12 + 3.");
        if (tok.hasChatTemplate) tok.renderUserTurn("Hi");
        return { file: join(dir, which), loaded: true };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
  },
  task() {
    const rows = ["goal,target,final_target"];
    for (let r = 0; r < 30; r++) rows.push(`"Take ${r} steps, then ""turn"" around.\nAnd ${r}, back?",,${r % 2 ? "No" : "Yes"}`);
    const csv = Buffer.from(rows.join("\n") + "\n");
    const jsonl = Buffer.from(Array.from({ length: 30 }, (_, r) => JSON.stringify({ question: `What is ${r} + 1?`, answer: String(r + 1) })).join("\n") + "\n");
    return async (i) => {
      const csvCase = random() < 0.5;
      const file = join(work, `task-${i}.${csvCase ? "csv" : "jsonl"}`);
      let bytes = csvCase ? csv : jsonl;
      for (let k = 1 + int(4); k > 0; k--) bytes = mutateBytes(bytes);
      writeFileSync(file, bytes);
      try {
        if (csvCase) loadBbhTask(file, { name: "bbh:navigate", sizes: { train: 5, dev: 5 } });
        else loadCustomTask({ name: "sums", file, columns: { question: "question", answer: "answer" }, sizes: { train: 5, dev: 5 } });
        return { file, loaded: true };
      } finally {
        rmSync(file, { force: true });
      }
    };
  },
};

mkdirSync(work, { recursive: true });
const run = cases[kind]();
for (let i = 0; i < count; i++) {
  process.stdout.write(JSON.stringify({ start: i }) + "\n");
  let line;
  try {
    const result = await run(i);
    line = { case: i, outcome: "loaded", file: result.file };
  } catch (error) {
    line = { case: i, outcome: "refused", error: error?.constructor?.name ?? typeof error, message: String(error?.message ?? error) };
  }
  process.stdout.write(JSON.stringify(line) + "\n");
}
