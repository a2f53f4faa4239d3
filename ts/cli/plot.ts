// `greater plot RUN`: a picture of a run — loss per step (and the best so far), dev accuracy where it was
// measured, and how the prompt evolved — drawn with Vega-Lite into plot.svg and plot.png in the run folder.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TopLevelSpec } from "vega-lite";
import { readRun } from "../runs/index.js";

/** The run-record events the plot reads (a subset of what `greater optimize` writes). */
interface PlottedEvent {
  type: string;
  step?: number;
  loss?: number;
  best?: { loss: number };
  prompt?: { text: string };
  /** "eval" events: accuracy of a prompt on a split, measured after `step` steps (-1: the initial prompt). */
  split?: string;
  accuracy?: number;
}

export interface PlotFiles {
  svg: string;
  png: string;
}

/** Draws the run in `runDir` and returns the written files' paths. */
export async function plotRun(runDir: string): Promise<PlotFiles> {
  const run = await readRun<unknown, unknown, PlottedEvent, unknown>(runDir);
  const steps = run.events.filter((e) => e.type === "step" && typeof e.step === "number" && typeof e.loss === "number");
  if (steps.length === 0) throw new Error(`${join(runDir, "events.jsonl")}: no step events to plot yet`);
  const lossRows = steps.flatMap((e) => [
    { step: e.step! + 1, value: e.loss!, series: "step loss" },
    ...(e.best ? [{ step: e.step! + 1, value: e.best.loss, series: "best so far" }] : []),
  ]);
  const accuracyRows = run.events
    .filter((e) => e.type === "eval" && typeof e.accuracy === "number")
    .map((e) => ({ step: (e.step ?? -1) + 1, accuracy: e.accuracy!, split: e.split ?? "dev" }));
  // One row per step where the prompt text changed, so long runs stay legible.
  const promptRows: { step: number; prompt: string }[] = [];
  for (const e of steps) {
    const text = (e.prompt?.text ?? "").replace(/\s+/g, " ").trim();
    if (promptRows.at(-1)?.prompt !== text) promptRows.push({ step: e.step! + 1, prompt: text.length > 110 ? `${text.slice(0, 107)}...` : text });
  }
  const shownPrompts = promptRows.slice(-25);

  const width = 640;
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `GReaTer run ${runDir}`,
    config: { font: "sans-serif" },
    // Each panel has its own series: keep their colour scales and legends apart.
    resolve: { scale: { color: "independent" }, legend: { color: "independent" } },
    vconcat: [
      {
        width,
        height: 200,
        title: "train loss (selection score) per step",
        data: { values: lossRows },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "step", type: "quantitative", title: "step", axis: { format: "d", tickMinStep: 1 } },
          y: { field: "value", type: "quantitative", title: "loss" },
          color: { field: "series", type: "nominal", title: null },
        },
      },
      {
        width,
        height: 160,
        title: accuracyRows.length > 0 ? "accuracy (step 0 = initial prompt)" : "accuracy: not measured in this run",
        data: { values: accuracyRows.length > 0 ? accuracyRows : [{ step: 0, accuracy: 0, split: "none" }] },
        mark: { type: "line", point: true, opacity: accuracyRows.length > 0 ? 1 : 0 },
        encoding: {
          x: { field: "step", type: "quantitative", title: "step", axis: { format: "d", tickMinStep: 1 } },
          y: { field: "accuracy", type: "quantitative", title: "accuracy", scale: { domain: [0, 1] } },
          color: { field: "split", type: "nominal", title: null },
        },
      },
      {
        width,
        height: 14 * shownPrompts.length,
        title: "prompt after each step where it changed",
        data: { values: shownPrompts.map((row, index) => ({ ...row, index, label: `step ${row.step}:` })) },
        layer: [
          { mark: { type: "text", align: "right", x: 60 }, encoding: { y: { field: "index", type: "ordinal", axis: null }, text: { field: "label" } } },
          { mark: { type: "text", align: "left", x: 70, font: "monospace" }, encoding: { y: { field: "index", type: "ordinal", axis: null }, text: { field: "prompt" } } },
        ],
      },
    ],
  };
  // The plotting libraries (vega, vega-lite, resvg's native renderer) load only when a plot is drawn: every other
  // command starts without them.
  const [vega, { compile }, { Resvg }] = await Promise.all([import("vega"), import("vega-lite"), import("@resvg/resvg-js")]);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  await view.finalize();
  const files = { svg: join(runDir, "plot.svg"), png: join(runDir, "plot.png") };
  await writeFile(files.svg, svg);
  const png = new Resvg(svg, { background: "white", font: { loadSystemFonts: true } }).render().asPng();
  await writeFile(files.png, png);
  return files;
}
