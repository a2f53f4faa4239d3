// `greater plot RUN`: the run's picture (ts/runs/plot-spec.ts) drawn with Vega-Lite into plot.svg and plot.png in
// the run folder.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readRun } from "../runs/index.js";
import { runPlotSpec, type PlottedEvent } from "../runs/plot-spec.js";

export interface PlotFiles {
  svg: string;
  png: string;
}

/** Draws the run in `runDir` and returns the written files' paths. */
export async function plotRun(runDir: string): Promise<PlotFiles> {
  const run = await readRun<unknown, unknown, PlottedEvent, unknown>(runDir);
  const spec = runPlotSpec(run.events, `GReaTer run ${runDir}`);
  if (spec === null) throw new Error(`${join(runDir, "events.jsonl")}: no step events to plot yet`);
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
