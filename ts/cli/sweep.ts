// `greater sweep`: one optimize job per task on the queue, followed with one line each, then the paper-style
// table (task, initial and final accuracy, best prompt) written to a file and shown. With several workers the
// tasks run at once.
import { writeFileSync } from "node:fs";
import cliProgress from "cli-progress";
import { connectJobs } from "../jobs/client.js";
import type { JobSpec } from "../jobs/spec.js";
import type { JobInfo, OptimizationJobResult } from "../jobs/types.js";
import { presetNames } from "../tasks/presets.js";
import type { SplitName } from "../tasks/types.js";
import { parseSplits, type RunFlags } from "./optimize.js";

export interface SweepFlags extends RunFlags {
  redis: string;
  redisCa?: string;
  prefix?: string;
  model: string;
  tasks: string;
  device: "cpu" | "cuda";
  attempts?: number;
}

/** A task named by its file (a BBH-format, JSON-lines or CSV file on the workers) rather than a preset. */
const isTaskFile = (task: string) => task.includes("/") || /\.(csv|jsonl?)$/i.test(task);

/** `bbh:all` (the BBH tasks with presets), or a comma-separated list of presets and task files. */
export function sweepTasks(text: string): string[] {
  const tasks = text.split(",").map((t) => t.trim()).filter(Boolean).flatMap((t) => (t === "bbh:all" ? presetNames().filter((n) => n.startsWith("bbh:")) : [t]));
  if (tasks.length === 0) throw new Error("--tasks: name at least one task (e.g. bbh:navigate,gsm8k or bbh:all)");
  return [...new Set(tasks)];
}

const pct = (v: number | undefined) => (v === undefined ? "-" : `${(v * 100).toFixed(1)}%`);

/** The sweep's table as Markdown: one row per task. */
export function sweepTable(rows: { task: string; info: JobInfo }[], splits: SplitName[]): string {
  const split = splits.includes("test") ? "test" : splits[0];
  const lines = [
    `| task | status | ${split} before | ${split} after | best prompt |`,
    "| --- | --- | --- | --- | --- |",
  ];
  for (const { task, info } of rows) {
    const r = info.result as OptimizationJobResult | null;
    const prompt = r ? JSON.stringify(r.bestPrompt.text).replace(/\|/g, "\\|") : (info.error ?? "").replace(/\|/g, "\\|").slice(0, 80);
    lines.push(`| ${task} | ${info.status} | ${pct(r?.accuracy.initial[split])} | ${pct(r?.accuracy.best[split])} | ${prompt} |`);
  }
  return lines.join("\n") + "\n";
}

export async function sweepCommand(flags: SweepFlags, signal: AbortSignal): Promise<number> {
  const tasks = sweepTasks(flags.tasks);
  const splits = parseSplits(flags.evalSplits);
  const jobs = await connectJobs({ redis: { url: flags.redis, tlsCaFile: flags.redisCa }, prefix: flags.prefix });
  try {
    const submitted: { task: string; id: string }[] = [];
    for (const task of tasks) {
      const spec: JobSpec = {
        kind: "optimize",
        model: flags.model,
        device: flags.device,
        task: isTaskFile(task) ? { file: task } : flags.data === undefined ? { preset: task } : { preset: task, data: flags.data },
        splitSeed: flags.splitSeed,
        ...(flags.trainSize ?? flags.devSize ?? flags.testSize) !== undefined ? { sizes: { train: flags.trainSize, dev: flags.devSize, test: flags.testSize } } : {},
        optimizer: {
          seed: flags.seed,
          ...(flags.steps !== undefined ? { steps: flags.steps } : {}),
          ...(flags.init !== undefined ? { initialPrompt: flags.init } : {}),
          ...(flags.maxNewTokens !== undefined ? { maxNewTokens: flags.maxNewTokens } : {}),
        },
        evaluation: { splits, ...(flags.maxNewTokens !== undefined ? { maxNewTokens: flags.maxNewTokens } : {}), ...(flags.evalLimit ? { limit: flags.evalLimit } : {}) },
        name: task,
      };
      submitted.push({ task, id: await jobs.submit(spec, { attempts: flags.attempts }) });
    }
    if (!flags.json) console.error(`submitted ${submitted.length} job(s); following them (Ctrl-C stops following; the jobs go on)`);
    const line = (task: string, info: JobInfo) => {
      const p = info.progress;
      const step = p ? `step ${p.step}/${p.steps}` : "";
      const loss = p?.bestLoss != null ? ` best loss ${p.bestLoss.toFixed(3)}` : "";
      return `${task.padEnd(44)} ${info.status.padEnd(9)} ${step}${loss}${info.status === "failed" ? ` ${info.error ?? ""}` : ""}`;
    };
    const tty = !flags.json && process.stderr.isTTY;
    const multi = tty ? new cliProgress.MultiBar({ format: "{text}", stream: process.stderr, hideCursor: true, clearOnComplete: false }) : undefined;
    const bars = new Map(submitted.map(({ task }) => [task, multi?.create(1, 0, { text: task })]));
    const shown = new Map<string, string>();
    const finished = new Map<string, JobInfo>();
    while (finished.size < submitted.length && !signal.aborted) {
      for (const { task, id } of submitted) {
        if (finished.has(task)) continue;
        const info = await jobs.get(id);
        if (info === null) throw new Error(`job ${id} (${task}) is gone from the queue`);
        const text = line(task, info);
        if (shown.get(task) !== text) {
          shown.set(task, text);
          if (multi) bars.get(task)!.update(0, { text });
          else if (flags.json) process.stdout.write(JSON.stringify({ type: "job", task, id, status: info.status, progress: info.progress }) + "\n");
          else console.error(text);
        }
        if (info.status === "completed" || info.status === "failed" || info.status === "cancelled") finished.set(task, info);
      }
      if (finished.size < submitted.length) await new Promise((r) => setTimeout(r, 1000));
    }
    multi?.stop();
    if (signal.aborted) {
      console.error(`stopped following; the jobs go on: ${submitted.map((s) => s.id).join(" ")}`);
      return 130;
    }
    const rows = submitted.map(({ task }) => ({ task, info: finished.get(task)! }));
    const table = sweepTable(rows, splits);
    const out = flags.out ?? `sweep-${new Date().toISOString().replace(/[:.]/g, "-")}.md`;
    writeFileSync(out, table);
    writeFileSync(out.replace(/\.md$/, "") + ".json", JSON.stringify(rows.map(({ task, info }) => ({ task, ...info })), null, 2) + "\n");
    if (flags.json) process.stdout.write(JSON.stringify({ type: "table", file: out, rows: rows.map(({ task, info }) => ({ task, id: info.id, status: info.status, result: info.result })) }) + "\n");
    else console.log(`\n${table}\ntable: ${out}`);
    return rows.every((r) => r.info.status === "completed") ? 0 : 1;
  } finally {
    await jobs.close();
  }
}
