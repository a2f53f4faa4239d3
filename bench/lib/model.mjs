// The bench's model folders: generated on first use by tools/bench/make_bench_model.py (random weights of a
// real size, the real Llama-3 tokenizer; ~140 MB for the CPU model, so never committed), and the size of their
// weights (for the GPU's bandwidth bound).
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { PYTHON } from "./children.mjs";

/** The model folder of a profile, generated when absent. */
export function ensureModel(profile, { root, workDir, log }) {
  if (profile.committed) return join(root, profile.committed);
  const dir = join(workDir, profile.make);
  if (existsSync(join(dir, "config.json"))) return dir;
  log(`generating the ${profile.make} model in ${dir} (tools/bench/make_bench_model.py) ...`);
  const made = spawnSync(PYTHON, [join(root, "tools", "bench", "make_bench_model.py"), "--profile", profile.make, "--out", dir], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (made.error || made.status !== 0) {
    throw new Error(`could not generate ${dir}: ${made.error?.message ?? `make_bench_model.py exited with ${made.status}`}`);
  }
  return dir;
}

/** Bytes of all weights in a folder's safetensors files (tied embeddings are stored, and read, once). */
export function weightBytes(modelDir) {
  let total = 0;
  for (const name of readdirSync(modelDir).filter((n) => n.endsWith(".safetensors"))) {
    const fd = openSync(join(modelDir, name), "r");
    try {
      const size = Buffer.alloc(8);
      readSync(fd, size, 0, 8, 0);
      const headerLength = Number(size.readBigUInt64LE(0));
      const header = Buffer.alloc(headerLength);
      readSync(fd, header, 0, headerLength, 8);
      for (const [key, entry] of Object.entries(JSON.parse(header.toString("utf8")))) {
        if (key !== "__metadata__") total += entry.data_offsets[1] - entry.data_offsets[0];
      }
    } finally {
      closeSync(fd);
    }
  }
  if (total === 0) throw new Error(`${modelDir} holds no safetensors weights`);
  return total;
}
