// The bench's command line and its model profiles: what runs, on which model, how many times.
import { parseArgs } from "node:util";
import { join } from "node:path";

export const USAGE = `usage: npm run bench -- [options]     (or: node bench/run.mjs [options], greater bench [options])

Measures our engine and optimizer against tools/reference/ (the authors' way, with transformers) on the same
model folder, examples and seed, each side in its own child process, and writes
bench/results/<date>-<machine>.json and a table.

  --quick              the suite's machinery on a tiny committed model, few iterations (for the test)
  --gpu                the GPU half: Llama-3.2-1B- and Llama-3-8B-sized random models in bfloat16 on CUDA
  --models a,b         GPU profiles to run (default: gpu-1b,gpu-8b)
  --device DEV         cuda device for --gpu (default: cuda)
  --threads N          CPU threads for both sides (default: 2)
  --model DIR          measure this model folder instead of a generated one
  --data DIR           data folder with bbh/navigate.csv (default: $GREATER_DATA_DIR, else the shipped data/)
  --no-reference       measure our side only (reference figures null)
  --step-tokens N      new tokens per sequence in the full step, for both sides (default: the profile's, 64 on
                       CPU, 512 on GPU; fewer fit a short GPU lease, and the results say so)
  --bandwidth GBS      GPU memory bandwidth in GB/s, where the GPU's name is not in bench/lib/gpu.mjs's table
  --results-dir DIR    where the results go (default: bench/results)
  --work-dir DIR       where models and job files go (default: bench/.work)
  --machine NAME       machine name in the results (default: $GREATER_BENCH_MACHINE, else the host name)
  --verbose            pass the children's stderr through
  -h, --help           this text`;

const CPU_GENERATION_TOKENS = 32;
const GPU_GENERATION_TOKENS = 128;

/**
 * A model profile: where the model comes from (a tools/bench/make_bench_model.py profile, or a committed folder),
 * how it runs, and the size of every measurement. `stepTokens` is the reasoning length of the full step (the
 * issue's 64 on CPU, 512 on GPU); `generate` lists the generation measurements.
 */
export const PROFILES = {
  "cpu-35m": {
    make: "cpu-35m",
    device: "cpu",
    dtype: "float32",
    trainSize: 50,
    stepTokens: 64,
    generate: [1, 9, 50].map((batch) => ({ name: `generate_b${batch}`, batch, newTokens: CPU_GENERATION_TOKENS })),
    // Generation: 7 calls per figure. On this 2-core VM one call of the same generation varies by up to ±15 % from
    // the next, so the median of 3 moved the batch-50 ratio by ±0.15 between runs; 7 cost ~30 s more in all.
    iterations: { forward: 3, generate: 7, gradient: 2 },
    warmup: true,
    loadRepeats: 3,
    stepRepeats: 2,
  },
  quick: {
    committed: join("test", "optimizer", "fixtures", "random-llama"),
    device: "cpu",
    dtype: "float32",
    trainSize: 10,
    stepTokens: 4,
    generate: [1, 9, 50].map((batch) => ({ name: `generate_b${batch}`, batch, newTokens: 2 })),
    iterations: { forward: 1, generate: 1, gradient: 1 },
    warmup: true,
    loadRepeats: 1,
    stepRepeats: 1,
  },
  ...Object.fromEntries(
    ["gpu-1b", "gpu-8b"].map((name) => [
      name,
      {
        make: name,
        device: "cuda",
        dtype: "bfloat16",
        trainSize: 50,
        stepTokens: 512,
        generate: [
          ...[1, 9, 50].map((batch) => ({ name: `generate_b${batch}`, batch, newTokens: GPU_GENERATION_TOKENS })),
          // With generate_b1, the time of one decoded token without the prefill (see the bandwidth figure).
          { name: "generate_b1_t1", batch: 1, newTokens: 1 },
        ],
        iterations: { forward: 10, generate: 3, gradient: 3 },
        warmup: true,
        loadRepeats: 2,
        stepRepeats: 1,
      },
    ]),
  ),
};

/** A flag's text as a whole number >= 1; otherwise an Error naming the flag and what it got. */
export function positiveInteger(flag, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${text}`);
  return n;
}

/** For the single-purpose benches: the flag's positive integer, `fallback` when absent; a bad one ends the process (2). */
export function positiveFlagOrExit(bench, flag, text, fallback) {
  if (text === undefined) return fallback;
  try {
    return positiveInteger(flag, text);
  } catch (error) {
    console.error(`${bench}: ${error.message}`);
    process.exit(2);
  }
}

export function parseOptions(argv, root) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      gpu: { type: "boolean", default: false },
      models: { type: "string" },
      device: { type: "string", default: "cuda" },
      threads: { type: "string", default: "2" },
      model: { type: "string" },
      data: { type: "string" },
      "no-reference": { type: "boolean", default: false },
      "step-tokens": { type: "string" },
      bandwidth: { type: "string" },
      "results-dir": { type: "string" },
      "work-dir": { type: "string" },
      machine: { type: "string" },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return { help: true };
  const threads = positiveInteger("--threads", values.threads);
  if (values.quick && values.gpu) throw new Error("--quick and --gpu exclude each other");
  const bandwidth = values.bandwidth === undefined ? null : Number(values.bandwidth);
  if (bandwidth !== null && !(bandwidth > 0)) throw new Error(`--bandwidth must be a positive number of GB/s, got ${values.bandwidth}`);

  const stepTokens = values["step-tokens"] === undefined ? null : positiveInteger("--step-tokens", values["step-tokens"]);

  const profileNames = values.gpu ? (values.models ?? "gpu-1b,gpu-8b").split(",") : [values.quick ? "quick" : "cpu-35m"];
  for (const name of profileNames) {
    if (!PROFILES[name] || (values.gpu && PROFILES[name].device !== "cuda")) {
      throw new Error(`--models: unknown GPU profile "${name}" (known: gpu-1b, gpu-8b)`);
    }
  }
  const device = values.gpu ? values.device : "cpu";
  if (values.gpu && !device.startsWith("cuda")) throw new Error(`--device must name a cuda device with --gpu, got ${device}`);
  return {
    help: false,
    kind: values.quick ? "quick" : values.gpu ? "gpu" : "cpu",
    profiles: profileNames.map((name) => ({
      name,
      ...PROFILES[name],
      device: PROFILES[name].device === "cuda" ? device : "cpu",
      ...(stepTokens === null ? {} : { stepTokens, profileStepTokens: PROFILES[name].stepTokens }),
    })),
    threads,
    modelOverride: values.model ?? null,
    dataDir: values.data ?? process.env.GREATER_DATA_DIR ?? join(root, "data"),
    reference: !values["no-reference"],
    bandwidthGBs: bandwidth,
    resultsDir: values["results-dir"] ?? join(root, "bench", "results"),
    workDir: values["work-dir"] ?? join(root, "bench", ".work"),
    machine: values.machine ?? process.env.GREATER_BENCH_MACHINE ?? null,
    verbose: values.verbose,
  };
}
