// The `greater` command line: one subcommand per file in this folder; this file only wires them.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { packageRoot } from "../engine/binding.js";
import { demoCommand, type DemoFlags } from "./demo.js";
import { evalCommand, type EvalFlags } from "./eval.js";
import { infoCommand } from "./info.js";
import { optimizeCommand, type OptimizeFlags } from "./optimize.js";
import { plotRun } from "./plot.js";
import { serveCommand, type ServeFlags } from "./serve.js";
import { sweepCommand, type SweepFlags } from "./sweep.js";
import { workerCommand, type WorkerFlags } from "./worker.js";

function integer(name: string, min = 0) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

/** Runs `greater` with the given argv; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  // Ctrl-C or SIGTERM stop a run between phases; its folder keeps every completed step.
  const controller = new AbortController();
  const stop = () => controller.abort(new Error("interrupted"));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);

  let exitCode = 0;
  const program = new Command()
    .name("greater")
    .description("GReaTer prompt optimization (gradients over reasoning) for open language models")
    .exitOverride()
    .showHelpAfterError();

  const modelOptions = (command: Command) =>
    command
      .addOption(new Option("--device <device>", "cpu, cuda or cuda:N").default("cpu"))
      .addOption(new Option("--dtype <dtype>", "compute dtype (default: bfloat16 on CUDA, float32 on CPU)").choices(["float32", "bfloat16", "float16"]))
      .option("--threads <n>", "CPU threads for libtorch", integer("--threads", 1))
      .option("--split-seed <n>", "seed of the train/dev/test split", integer("--split-seed"), 0)
      .option("--data <path>", "task file, or a folder with bbh/, gsm8k/, folio/ (default: ./data or $GREATER_DATA_DIR)")
      .option("--train-size <n>", "train examples (BBH default 50)", integer("--train-size", 1))
      .option("--dev-size <n>", "dev examples (BBH default 100)", integer("--dev-size", 0))
      .option("--test-size <n>", "test examples (default: the rest)", integer("--test-size", 0));

  modelOptions(
    program
      .command("optimize")
      .description("optimize a prompt with GReaTer; the run is recorded in a run folder")
      .option("--model <dir>", "Hugging Face model folder (config.json, safetensors, tokenizer.json)")
      .option("--task <task>", "bbh:<task>, gsm8k, folio, or a BBH-format file")
      .option("--steps <n>", "optimization steps", integer("--steps", 1))
      .option("--init <prompt>", "initial prompt (default: the paper's)")
      .option("--out <dir>", "run folder (default: runs/<task>-<time>)")
      .option("--resume <dir>", "continue the run in this folder")
      .option("--spec <file>", "run a job spec (the JSON `greater worker` jobs take) here, without a queue")
      .option("--overwrite", "replace a run already in --out")
      .option("--seed <n>", "seed of the optimizer's random draws", integer("--seed"), 0)
      .option("--max-new-tokens <n>", "longest reasoning", integer("--max-new-tokens", 1))
      .option("--top-k <n>", "per-example top-k of the proposal", integer("--top-k", 1))
      .option("--eval-splits <splits>", "held-out splits measured before and after", "dev,test")
      .option("--eval-limit <n>", "measure only the first n examples of each split", integer("--eval-limit", 1))
      .option("--json", "one JSON object per line on stdout (events, then the result)"),
  ).action(async (flags: OptimizeFlags) => {
    exitCode = await optimizeCommand(flags, controller.signal);
  });

  modelOptions(
    program
      .command("eval")
      .description("accuracy of a prompt on a task split (any model: transfer included)")
      .requiredOption("--model <dir>", "Hugging Face model folder")
      .requiredOption("--task <task>", "bbh:<task>, gsm8k, folio, or a BBH-format file")
      .requiredOption("--prompt <text>", "the prompt, as text")
      .option("--split <split>", "train, dev or test", "test")
      .option("--max-new-tokens <n>", "longest reasoning", integer("--max-new-tokens", 1), 512)
      .option("--limit <n>", "only the first n examples", integer("--limit", 1))
      .option("--records <file>", "write per-example records (JSON lines)")
      .option("--json", "print one JSON object"),
  ).action(async (flags: EvalFlags) => {
    exitCode = await evalCommand(flags, controller.signal);
  });

  program
    .command("demo")
    .description("the main job: GReaTer on the shipped tiny reasoning model, before/after test accuracy")
    .option("--steps <n>", "optimization steps", integer("--steps", 1), 6)
    .option("--train-size <n>", "train examples", integer("--train-size", 1), 16)
    .option("--test-size <n>", "held-out test questions measured (default: all)", integer("--test-size", 1))
    .option("--seed <n>", "seed of the optimizer's random draws", integer("--seed"), 0)
    .option("--out <dir>", "run folder (default: runs/demo-<time>)")
    .option("--threads <n>", "CPU threads for libtorch", integer("--threads", 1))
    .option("--json", "one JSON object per line on stdout, ending with the result")
    .action(async (flags: DemoFlags) => {
      exitCode = await demoCommand(flags, controller.signal);
    });

  const collect = (value: string, previous: string[]) => [...previous, value];
  const redisOptions = (command: Command) =>
    command
      .requiredOption("--redis <url>", "redis://[user:password@]host:port[/db], or rediss://… for TLS")
      .option("--redis-ca <file>", "PEM file of the CA of a rediss:// server (default: the system's)")
      .option("--prefix <name>", "namespace of the queues and keys (the same for workers and producers)", "greater");

  redisOptions(
    program
      .command("worker")
      .description("take GReaTer jobs for one device from the queue on Redis (SIGTERM/SIGINT hand the running job back)")
      .addOption(new Option("--device <device>", "cpu, cuda or cuda:N").default("cpu"))
      .option("--allow-root <dir>", "a folder jobs may read models and task files from (repeatable)", collect, [])
      .option("--runs <dir>", "where run folders go, one per job", "runs/jobs")
      .option("--threads <n>", "CPU threads for libtorch", integer("--threads", 1))
      .option("--lock-duration <ms>", "how long a job stays locked without renewal (a dead worker's job moves on after about twice this)", integer("--lock-duration", 1000))
      .option("--stalled-interval <ms>", "how often jobs of dead workers are looked for", integer("--stalled-interval", 1000)),
  ).action(async (flags: WorkerFlags) => {
    exitCode = await workerCommand(flags, controller.signal);
  });

  redisOptions(
    program
      .command("sweep")
      .description("submit one optimize job per task, follow them, and write the table of results")
      .requiredOption("--model <dir>", "model folder, as the workers see it")
      .requiredOption("--tasks <tasks>", "bbh:all, or a comma-separated list of presets and task files, e.g. bbh:navigate,gsm8k,/data/mine.json")
      .addOption(new Option("--device <class>", "which workers take the jobs").choices(["cpu", "cuda"]).default("cpu"))
      .option("--data <dir>", "a folder with bbh/, gsm8k/, folio/ on the workers (default: the shipped data)")
      .option("--steps <n>", "optimization steps", integer("--steps", 1))
      .option("--init <prompt>", "initial prompt (default: the paper's)")
      .option("--seed <n>", "seed of the optimizer's random draws", integer("--seed"), 0)
      .option("--split-seed <n>", "seed of the train/dev/test split", integer("--split-seed"), 0)
      .option("--train-size <n>", "train examples", integer("--train-size", 1))
      .option("--dev-size <n>", "dev examples", integer("--dev-size", 0))
      .option("--test-size <n>", "test examples", integer("--test-size", 0))
      .option("--max-new-tokens <n>", "longest reasoning", integer("--max-new-tokens", 1))
      .option("--eval-splits <splits>", "held-out splits measured before and after", "dev,test")
      .option("--eval-limit <n>", "measure only the first n examples of each split", integer("--eval-limit", 1))
      .option("--attempts <n>", "attempts per job before it ends failed", integer("--attempts", 1))
      .option("--out <file>", "the table (Markdown; a .json beside it holds every job's details)")
      .option("--json", "one JSON object per line on stdout"),
  ).action(async (flags: SweepFlags) => {
    exitCode = await sweepCommand(flags, controller.signal);
  });

  redisOptions(
    program
      .command("serve")
      .description("the HTTP API (/api) and live dashboard (/) over the job queue; needs GREATER_API_TOKEN or --token-file")
      .option("--port <n>", "port", integer("--port", 0), 8080)
      .option("--host <address>", "address to listen on", "127.0.0.1")
      .option("--token-file <file>", "file whose first line is the API token (else GREATER_API_TOKEN)")
      .option("--allow-root <dir>", "a folder submitted jobs may name models and task files in (repeatable)", collect, [])
      .option("--cors-origin <origin>", "an origin allowed to call the API from the browser (repeatable; none: CORS off)", collect, [])
      .option("--body-limit <bytes>", "largest request body", integer("--body-limit", 1024)),
  ).action(async (flags: ServeFlags) => {
    exitCode = await serveCommand(flags, controller.signal);
  });

  program
    .command("info")
    .description("engine, libtorch and devices")
    .option("--json", "print one JSON object")
    .action((options: { json?: boolean }) => {
      exitCode = infoCommand(options);
    });

  program
    .command("plot")
    .description("draw a run's loss, accuracy and prompt evolution into RUN/plot.svg and RUN/plot.png")
    .argument("<run>", "run folder")
    .action(async (run: string) => {
      const files = await plotRun(run);
      console.log(`${files.svg}\n${files.png}`);
    });

  program
    .command("bench")
    .description("run the bench suite (bench/); results go to bench/results/")
    .allowUnknownOption()
    .argument("[args...]", "passed to the bench runner")
    .action((args: string[]) => {
      const r = spawnSync(process.execPath, [join(packageRoot, "bench", "run.mjs"), ...args], { stdio: "inherit" });
      exitCode = r.status ?? 1;
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    console.error(`greater: ${(e as Error).message}`);
    return 1;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
