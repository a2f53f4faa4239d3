// How a run shows itself: a live bar on a terminal, one plain line per step elsewhere, or one JSON object
// per line on stdout with --json (for machines). The display never decides anything about the run.
import cliProgress from "cli-progress";
import type { GreaterEvent } from "../optimizer/events.js";
import type { RunDisplay } from "../runs/run.js";

export type DisplayMode = "tty" | "plain" | "json";

/** Anything else a command reports (evaluations, the run folder, the final result). */
export interface NoteEvent {
  type: string;
  [field: string]: unknown;
}


export function chooseDisplayMode(json: boolean | undefined): DisplayMode {
  if (json) return "json";
  return process.stderr.isTTY ? "tty" : "plain";
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const clip = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

function formatEta(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  const s = Math.round(ms / 1000);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/** One human line describing a step (also the plain-mode output). */
export function describeStep(event: Extract<GreaterEvent, { type: "step" }>, totalSteps: number): string {
  const t = event.timingsMs;
  return (
    `step ${event.step + 1}/${totalSteps} pos ${event.position} chose ${JSON.stringify(event.chosen.text)} ` +
    `loss ${event.loss.toFixed(3)} best ${event.best.loss.toFixed(3)} | prompt ${JSON.stringify(event.prompt.text)} | ` +
    `refresh ${seconds(t.refresh)} proposal ${seconds(t.proposal)} gradient ${seconds(t.gradient)} selection ${seconds(t.selection)} | ` +
    `ETA ${formatEta(event.eta.remainingMs)}`
  );
}

/** The display a run of `totalSteps` steps gets in `mode` (what the run options' `display` takes). */
export const displayIn = (mode: DisplayMode) => (totalSteps: number) => createDisplay(mode, totalSteps);

export function createDisplay(mode: DisplayMode, totalSteps: number): RunDisplay {
  if (mode === "json") {
    return {
      event: (event) => process.stdout.write(JSON.stringify(event) + "\n"),
      note: (event) => process.stdout.write(JSON.stringify(event) + "\n"),
      stop: () => {},
    };
  }
  if (mode === "plain") {
    return {
      event: (event) => {
        if (event.type === "start") {
          const w = event.projected;
          console.error(
            `${event.resumed ? "resuming" : "starting"} at step ${event.stepsDone + 1}, position ${event.position}, prompt ${JSON.stringify(event.prompt.text)}; ` +
              `a step generates ${w.generatedSequences.total} sequences (≤ ${w.maxNewTokens} new tokens), ` +
              `${w.forwardRows.total} forward and ${w.backwardRows} backward rows`,
          );
        } else console.error(describeStep(event, totalSteps));
      },
      note: (_event, line) => console.error(line),
      stop: () => {},
    };
  }
  // A live bar on the terminal: the bar line carries step, loss, best, ETA; the line above it the prompt.
  const bar = new cliProgress.SingleBar(
    {
      format: "{bar} step {value}/{total} | pos {position} | loss {loss} | best {best} | {phases} | ETA {etaText}\n  prompt: {prompt}",
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const payload = { position: "-", loss: "-", best: "-", phases: "", etaText: "?", prompt: "" };
  // A note (e.g. an evaluation) ends the bar's line; the next event starts a fresh bar under it.
  const show = (value: number) => {
    if (!started) bar.start(totalSteps, value, payload);
    else bar.update(value, payload);
    started = true;
  };
  return {
    event: (event) => {
      if (event.type === "start") {
        payload.position = String(event.position);
        payload.prompt = clip(event.prompt.text, (process.stderr.columns ?? 100) - 12);
        show(event.stepsDone);
        return;
      }
      const t = event.timingsMs;
      Object.assign(payload, {
        position: String(event.next.position),
        loss: event.loss.toFixed(3),
        best: event.best.loss.toFixed(3),
        phases: `gen ${seconds(t.refresh)} grad ${seconds(t.gradient)} sel ${seconds(t.selection)}`,
        etaText: formatEta(event.eta.remainingMs),
        prompt: clip(event.prompt.text, (process.stderr.columns ?? 100) - 12),
      });
      show(event.step + 1);
    },
    note: (_event, line) => {
      if (started) bar.stop();
      started = false;
      console.error(line);
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}
