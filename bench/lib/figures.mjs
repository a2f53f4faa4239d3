// From the children's raw results to figures: { name, ours, reference, unit, ratio }, with ratio > 1 meaning ours
// is better (faster, more tokens/s, less memory, closer to the bandwidth bound). Every timed figure is the median
// of its samples (the step: the best of its repeats), the same statistic on both sides.

/** How a unit compares: which side's number goes on top of the ratio. */
const BETTER_WHEN = { ms: "lower", MiB: "lower", "tokens/s": "higher", fraction: "higher" };

export function median(values) {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function figure(name, unit, ours, reference, model) {
  if (!(unit in BETTER_WHEN)) throw new Error(`figure ${name}: unknown unit ${unit}`);
  const comparable = typeof ours === "number" && typeof reference === "number" && ours > 0 && reference > 0;
  const ratio = !comparable ? null : BETTER_WHEN[unit] === "lower" ? reference / ours : ours / reference;
  return { name, ours, reference, unit, ratio, model };
}

/**
 * The figures of one model profile.
 * @param results { load: {ours: [...], reference: [...]}, micro: {ours, reference}, step: {ours: [...], reference: [...]} }
 *   (reference entries null when the reference was not run; load and step hold one result per repeat)
 * @param decodeBound seconds per token of the bandwidth bound (GPU only), else null
 */
export function profileFigures(profile, results, decodeBound) {
  const model = profile.name;
  const both = (pick) => [pick("ours"), pick("reference")];
  const out = [];
  const loadMedian = (side, key) => (results.load[side] ? median(results.load[side].map((r) => r[key])) : null);
  out.push(figure("load_time", "ms", ...both((side) => loadMedian(side, "loadMs")), model));
  out.push(figure("load_peak_memory", "MiB", ...both((side) => loadMedian(side, "peakRssMiB")), model));

  const micro = (side, name) => results.micro[side]?.figures[name] ?? null;
  const ms = (side, name) => (micro(side, name) ? median(micro(side, name).samplesMs) : null);
  out.push(figure("forward_logprobs", "ms", ...both((side) => ms(side, "forward_logprobs")), model));
  for (const spec of profile.generate) {
    if (spec.newTokens === 1) continue; // only there to take the prefill out of the decode time
    const tokensPerSecond = (side) => (micro(side, spec.name) ? (spec.batch * spec.newTokens) / (ms(side, spec.name) / 1000) : null);
    out.push(figure(spec.name, "tokens/s", ...both(tokensPerSecond), model));
  }
  out.push(figure("one_hot_gradient", "ms", ...both((side) => ms(side, "one_hot_gradient")), model));
  if (decodeBound !== null) {
    const long = profile.generate.find((g) => g.name === "generate_b1");
    const fraction = (side) => {
      if (!micro(side, "generate_b1") || !micro(side, "generate_b1_t1")) return null;
      const perToken = (ms(side, "generate_b1") - ms(side, "generate_b1_t1")) / 1000 / (long.newTokens - 1);
      return perToken > 0 ? decodeBound / perToken : null;
    };
    out.push(figure("decode_bandwidth_fraction", "fraction", ...both(fraction), model));
  }
  // A step is long and repeated only a few times: its time is the best of them (other processes only ever add
  // time, to either side), its peak memory the highest.
  const steps = (side, pick, reduce) => (results.step[side] ? reduce(...results.step[side].map(pick)) : null);
  out.push(figure("step", "ms", ...both((side) => steps(side, (r) => r.step.ms, Math.min)), model));
  out.push(figure("step_peak_memory", "MiB", ...both((side) => steps(side, (r) => r.peakRssMiB, Math.max)), model));
  if (profile.device.startsWith("cuda")) {
    out.push(figure("step_peak_gpu_memory", "MiB", ...both((side) => steps(side, (r) => r.gpuPeakMiB, Math.max)), model));
  }
  return out;
}

/** Whether both sides' steps proposed the same candidates, ranked them alike and chose the same token. */
export function stepAgreement(ours, reference) {
  if (!ours || !reference) return null;
  const a = ours.step.outcome;
  const b = reference.step.outcome;
  const same = (x, y) => JSON.stringify(x) === JSON.stringify(y);
  return {
    prompt: same(ours.step.prompt, reference.step.prompt),
    candidates: same(a.candidates, b.candidates),
    ranked: same(a.ranked, b.ranked),
    chosen: a.chosen === b.chosen,
    loss: { ours: a.loss, reference: b.loss },
  };
}

/** The issue's targets, each with whether this run met it (null where a side is missing). */
export function targets(figures, kind) {
  if (kind === "gpu") return [];
  const ratioOf = (name) => figures.find((f) => f.name === name)?.ratio ?? null;
  const check = (name, description, minimum) => {
    const ratio = ratioOf(name);
    return { figure: name, target: description, ratio, met: ratio === null ? null : ratio >= minimum };
  };
  return [
    check("step", "full GReaTer step at least 5x faster than the reference", 5),
    check("generate_b50", "generation tokens/s at batch 50 at least 2x the reference", 2),
    check("step_peak_memory", "peak memory of a step no higher than the reference's", 1),
  ];
}

function formatNumber(value, unit) {
  if (value === null || value === undefined) return "-";
  if (unit === "fraction") return value.toFixed(3);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(1);
}

function rows(figures) {
  const multiModel = new Set(figures.map((f) => f.model)).size > 1;
  return figures.map((f) => [
    multiModel ? `${f.model} ${f.name}` : f.name,
    formatNumber(f.ours, f.unit),
    formatNumber(f.reference, f.unit),
    f.unit,
    f.ratio === null ? "-" : `${f.ratio.toFixed(2)}x`,
  ]);
}

const HEADER = ["figure", "ours", "reference", "unit", "ratio (>1: ours better)"];

/** A plain-text table for the terminal. */
export function textTable(figures) {
  const all = [HEADER, ...rows(figures)];
  const widths = HEADER.map((_, c) => Math.max(...all.map((row) => row[c].length)));
  const line = (row) => row.map((cell, c) => (c === 0 || c === 3 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ");
  return [line(all[0]), widths.map((w) => "-".repeat(w)).join("  "), ...all.slice(1).map(line)].join("\n");
}

/** The same table in Markdown, with the run's circumstances above it (for bench/README.md). */
export function markdownTable(result) {
  const lines = [
    `Machine \`${result.machine}\`, ${result.device}, ${result.date}, ${result.threads} threads per side. ${result.note}`,
    "",
    `| ${HEADER.join(" | ")} |`,
    `| --- | ---: | ---: | --- | ---: |`,
    ...rows(result.figures).map((row) => `| ${row.join(" | ")} |`),
  ];
  if (result.targets.length > 0) {
    lines.push("", "Targets:");
    for (const t of result.targets) {
      const verdict = t.met === null ? "not measured" : t.met ? "met" : "NOT met";
      lines.push(`- ${t.target}: ${verdict}${t.ratio === null ? "" : ` (${t.ratio.toFixed(2)}x)`}`);
    }
  }
  return lines.join("\n");
}
