// The picture of a run as a Vega-Lite spec — loss per step (and the best so far), accuracy where it was measured,
// and how the prompt evolved — from its events. `greater plot` renders it to files; the dashboard in a page.
import type { TopLevelSpec } from "vega-lite";

/** The run-record events the plot reads (a subset of what a run records). */
export interface PlottedEvent {
  type: string;
  step?: number;
  loss?: number;
  best?: { loss: number };
  prompt?: { text: string };
  /** "eval" events: accuracy of a prompt on a split, measured after `step` steps (-1: the initial prompt). */
  split?: string;
  accuracy?: number;
}

/** The spec of a run's plot; null before its first step. `width`: of each panel, in pixels. */
export function runPlotSpec(events: PlottedEvent[], title: string, width = 640): TopLevelSpec | null {
  // A step recorded twice (a resumed run) counts once: the last record.
  const byStep = new Map<number, PlottedEvent>();
  for (const e of events) if (e.type === "step" && typeof e.step === "number" && typeof e.loss === "number") byStep.set(e.step, e);
  const steps = [...byStep.values()].sort((a, b) => a.step! - b.step!);
  if (steps.length === 0) return null;
  const lossRows = steps.flatMap((e) => [
    { step: e.step! + 1, value: e.loss!, series: "step loss" },
    ...(e.best ? [{ step: e.step! + 1, value: e.best.loss, series: "best so far" }] : []),
  ]);
  const accuracyRows = events
    .filter((e) => e.type === "eval" && typeof e.accuracy === "number")
    .map((e) => ({ step: (e.step ?? -1) + 1, accuracy: e.accuracy!, split: e.split ?? "dev" }));
  // One row per step where the prompt text changed, so long runs stay legible.
  const promptRows: { step: number; prompt: string }[] = [];
  const clip = Math.max(20, Math.floor(width / 6));
  for (const e of steps) {
    const text = (e.prompt?.text ?? "").replace(/\s+/g, " ").trim();
    if (promptRows.at(-1)?.prompt !== text) promptRows.push({ step: e.step! + 1, prompt: text.length > clip ? `${text.slice(0, clip - 3)}...` : text });
  }
  const shownPrompts = promptRows.slice(-25);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    config: { font: "sans-serif" },
    // Each panel has its own series: keep their colour scales and legends apart.
    resolve: { scale: { color: "independent" }, legend: { color: "independent" } },
    vconcat: [
      {
        width,
        height: 200,
        title: "train loss (selection score) per step",
        name: "loss",
        data: { name: "loss", values: lossRows },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "step", type: "quantitative", title: "step", axis: { format: "d", tickMinStep: 1 } },
          y: { field: "value", type: "quantitative", title: "loss" },
          color: { field: "series", type: "nominal", title: null, legend: { orient: "bottom" } },
        },
      },
      {
        width,
        height: 160,
        title: accuracyRows.length > 0 ? "accuracy (step 0 = initial prompt)" : "accuracy: not measured in this run",
        data: { name: "accuracy", values: accuracyRows.length > 0 ? accuracyRows : [{ step: 0, accuracy: 0, split: "none" }] },
        mark: { type: "line", point: true, opacity: accuracyRows.length > 0 ? 1 : 0 },
        encoding: {
          x: { field: "step", type: "quantitative", title: "step", axis: { format: "d", tickMinStep: 1 } },
          y: { field: "accuracy", type: "quantitative", title: "accuracy", scale: { domain: [0, 1] } },
          color: { field: "split", type: "nominal", title: null, legend: { orient: "bottom" } },
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
}
