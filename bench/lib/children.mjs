// Runs one side of one measurement in a fresh child process (so its peak memory is its own) and reads back what it
// wrote: ours through `node bench/ours.mjs`, the reference through `python3 tools/bench/reference_bench.py`.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sampleGpuMemory } from "./gpu.mjs";

export const PYTHON = process.env.PYTHON ?? "python3";

/** Null when python3 can import what the reference needs (and, for `cuda`, sees a CUDA device), else the reason. */
export function pythonProblem(cuda = false) {
  const probe = spawnSync(PYTHON, ["-c", "import torch, transformers, safetensors; print(torch.__version__, transformers.__version__)"], {
    encoding: "utf8",
  });
  if (probe.error) return `${PYTHON} could not be started (${probe.error.message})`;
  if (probe.status !== 0) return `${PYTHON} cannot import torch, transformers and safetensors: ${probe.stderr.trim().split("\n").at(-1)}`;
  if (cuda && spawnSync(PYTHON, ["-c", "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"]).status !== 0) {
    return `${PYTHON}'s torch ${probe.stdout.trim().split(" ")[0]} sees no CUDA device (install a CUDA build of torch for the reference side)`;
  }
  return null;
}

/** The environment of both sides: the same thread count everywhere, no network, no progress bars. */
function childEnvironment(threads) {
  return {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
    TOKENIZERS_PARALLELISM: "false",
    HF_HUB_OFFLINE: "1",
    TRANSFORMERS_OFFLINE: "1",
    HF_HUB_DISABLE_PROGRESS_BARS: "1",
    TRANSFORMERS_VERBOSITY: "error",
    TQDM_DISABLE: "1",
    PYTHONUNBUFFERED: "1",
  };
}

let jobCounter = 0;

// A bench stopped from outside (Ctrl-C, `timeout`) takes its running child with it: an orphaned side would hold
// the GPU or the CPU, and the terminal's output pipe, long after the bench has gone.
const running = new Set();
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(signal, () => {
    for (const child of running) child.kill("SIGKILL");
    console.error(`bench: stopped by ${signal}; no results written`);
    process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 })[signal]);
  });
}

/**
 * Runs `job` on `side` ("ours" | "reference") and returns the child's result, with the child's wall time and, on
 * CUDA, the most GPU memory nvidia-smi saw it hold.
 */
export async function runSide(side, job, { root, workDir, verbose }) {
  const dir = join(workDir, "jobs");
  mkdirSync(dir, { recursive: true });
  const stem = join(dir, `${String(++jobCounter).padStart(2, "0")}-${side}-${job.kind}`);
  const jobFile = `${stem}.job.json`;
  const outFile = `${stem}.out.json`;
  writeFileSync(jobFile, JSON.stringify(job, null, 1));
  const [command, args] =
    side === "ours"
      ? [process.execPath, [join(root, "bench", "ours.mjs"), jobFile, outFile]]
      : [PYTHON, [join(root, "tools", "bench", "reference_bench.py"), jobFile, outFile]];

  const started = performance.now();
  const child = spawn(command, args, { cwd: root, env: childEnvironment(job.threads), stdio: ["ignore", "inherit", "pipe"] });
  running.add(child);
  child.on("close", () => running.delete(child));
  const sampler = job.device.startsWith("cuda") ? sampleGpuMemory(child.pid) : null;
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (verbose) process.stderr.write(chunk);
  });
  const code = await new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  const gpuPeakMiB = sampler ? await sampler.stop() : null;
  if (code !== 0) {
    const tail = stderr.trim().split("\n").slice(-25).join("\n");
    throw new Error(`${side} ${job.kind} failed (exit ${code}; job ${jobFile}):\n${tail}`);
  }
  return { ...JSON.parse(readFileSync(outFile, "utf8")), wallMs: performance.now() - started, gpuPeakMiB };
}
