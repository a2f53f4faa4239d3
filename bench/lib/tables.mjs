// The tables of `npm run bench:tables` from its runs: Table 1 (tasks × methods), transfer between the two models,
// wall time per method, and the issue's targets checked against them. Pure functions of the results object.

export const README_START = "<!-- bench:tables start -->";
export const README_END = "<!-- bench:tables end -->";

export function meanSd(values) {
  const n = values.length;
  if (n === 0) return { mean: null, sd: null, n: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, n };
}

const pct = (x) => (x === null ? "–" : (100 * x).toFixed(1));
const cell = ({ mean, sd, n }) => (n === 0 ? "–" : n > 1 ? `${pct(mean)} ± ${pct(sd)}` : pct(mean));

/** Token-level edit distance (Levenshtein) between two id lists: how many edits a prompt is from another. */
export function editDistance(a, b) {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** Means over seeds per (model, family, method), per model and method, and the transfer and time summaries. */
export function summarise(results) {
  const { models, families, methods, runs, transfers } = results;
  const accuracy = (model, family, method) => runs.filter((r) => r.model === model && r.family === family && r.method === method).map((r) => r.test.accuracy);
  const table1 = {};
  const averages = {};
  for (const model of models) {
    table1[model] = {};
    averages[model] = {};
    for (const family of families) {
      table1[model][family] = {};
      for (const method of methods) table1[model][family][method] = meanSd(accuracy(model, family, method));
    }
    for (const method of methods) {
      // The average over families of each seed's accuracy: its sd is the spread between seeds.
      const perSeed = results.seeds.map((seed) => {
        const values = families.map((family) => runs.find((r) => r.model === model && r.family === family && r.method === method && r.seed === seed)?.test.accuracy);
        return values.every((v) => v !== undefined) ? values.reduce((a, b) => a + b, 0) / values.length : undefined;
      });
      averages[model][method] = meanSd(perSeed.filter((v) => v !== undefined));
    }
  }
  const transfer = {};
  for (const t of transfers) {
    const key = `${t.from}→${t.to}`;
    transfer[key] ??= {};
    transfer[key][t.family] ??= { transferred: [], targetGreater: [], targetInitial: [] };
    const row = transfer[key][t.family];
    row.transferred.push(t.test.accuracy);
    const own = runs.find((r) => r.model === t.to && r.family === t.family && r.method === "greater" && r.seed === t.seed);
    if (own) row.targetGreater.push(own.test.accuracy);
    const initial = runs.find((r) => r.model === t.to && r.family === t.family && r.method === "initial-prompt" && r.seed === t.seed);
    if (initial) row.targetInitial.push(initial.test.accuracy);
  }
  for (const rows of Object.values(transfer)) {
    for (const [family, row] of Object.entries(rows)) {
      rows[family] = { transferred: meanSd(row.transferred), targetGreater: meanSd(row.targetGreater), targetInitial: meanSd(row.targetInitial) };
    }
  }
  const time = {};
  for (const method of methods) {
    const these = runs.filter((r) => r.method === method);
    time[method] = {
      searchSeconds: meanSd(these.map((r) => r.seconds)),
      evaluations: meanSd(these.map((r) => r.evaluations)),
      steps: meanSd(these.map((r) => r.steps)),
    };
  }
  return { table1, averages, transfer, time, targets: targets(results, averages, transfer) };
}

function targets(results, averages, transfer) {
  const { models, families, methods, runs } = results;
  const bestOnEachModel = Object.fromEntries(
    models.map((model) => {
      const greater = averages[model].greater?.mean ?? null;
      const others = methods.filter((m) => m !== "greater").map((m) => averages[model][m]?.mean ?? -1);
      return [model, greater !== null && others.every((o) => greater >= o)];
    }),
  );
  const margins = models.map((model) => (averages[model].greater?.mean ?? 0) - (averages[model]["random-search"]?.mean ?? 0));
  const marginOverRandom = margins.reduce((a, b) => a + b, 0) / Math.max(1, margins.length);
  // A family counts when GReaTer's best prompt is more than one token edit from the initial prompt on most runs.
  const multiEdit = families.filter((family) => {
    const these = runs.filter((r) => r.family === family && r.method === "greater");
    return these.filter((r) => r.editsFromInitial > 1).length * 2 > these.length;
  });
  const transferRows = Object.values(transfer).flatMap((rows) => Object.values(rows));
  const transferGain = transferRows.length === 0 ? null
    : transferRows.reduce((a, row) => a + (row.transferred.mean - row.targetInitial.mean), 0) / transferRows.length;
  return {
    greaterBestOnEachModel: { reached: Object.values(bestOnEachModel).every(Boolean), perModel: bestOnEachModel },
    greaterOverRandomSearch: { target: 0.1, meanMargin: marginOverRandom, reached: marginOverRandom >= 0.1 },
    multiEditFamilies: { target: 3, families: multiEdit, reached: multiEdit.length >= 3 },
    transferBeatsTargetInitial: { meanGain: transferGain, reached: transferGain !== null && transferGain > 0 },
    allNumbersFromHeldOutTest: true,
  };
}

/** The README's tables, as Markdown. */
export function markdown(results, summary) {
  const { models, families, methods, labels } = results;
  const lines = [];
  lines.push(`Held-out test accuracy (%), mean ± sd over seeds ${results.seeds.join(", ")} (each seed: its own ${results.trainSize} train examples and search draws); ${results.steps} steps per search; ${results.testSize} test questions per task, never seen by any search.`);
  for (const model of models) {
    lines.push("", `**Table 1 — ${model}**`, "", `| task | ${methods.map((m) => labels[m]).join(" | ")} |`, `| --- |${methods.map(() => " --- |").join("")}`);
    for (const family of families) lines.push(`| ${family} | ${methods.map((m) => cell(summary.table1[model][family][m])).join(" | ")} |`);
    lines.push(`| **average** | ${methods.map((m) => `**${cell(summary.averages[model][m])}**`).join(" | ")} |`);
  }
  if (Object.keys(summary.transfer).length > 0) {
    lines.push("", "**Transfer** — GReaTer's prompt optimized on one model, tested on the other, against the target's own GReaTer prompt and its initial prompt (same task, same seed):", "");
    lines.push("| direction | task | transferred | target's GReaTer | target's initial prompt |", "| --- | --- | --- | --- | --- |");
    for (const [direction, rows] of Object.entries(summary.transfer)) {
      for (const family of families) {
        const row = rows[family];
        if (row) lines.push(`| ${direction} | ${family} | ${cell(row.transferred)} | ${cell(row.targetGreater)} | ${cell(row.targetInitial)} |`);
      }
    }
  }
  lines.push("", "**Cost per search** (mean over all runs of the method; this machine, 2 threads):", "", "| method | wall time (s) | steps | regenerated-reasoning evaluations |", "| --- | --- | --- | --- |");
  for (const method of methods) {
    const t = summary.time[method];
    const fmt = ({ mean, sd, n }, digits) => (n === 0 || mean === null ? "–" : `${mean.toFixed(digits)} ± ${sd.toFixed(digits)}`);
    lines.push(`| ${labels[method]} | ${fmt(t.searchSeconds, 1)} | ${fmt(t.steps, 1)} | ${fmt(t.evaluations, 1)} |`);
  }
  const g = summary.targets;
  lines.push(
    "",
    "**Targets** (from the issue; recorded, not tuned on the test split):",
    "",
    `- GReaTer has the best average on each model: ${g.greaterBestOnEachModel.reached ? "reached" : "not reached"} (${Object.entries(g.greaterBestOnEachModel.perModel).map(([m, ok]) => `${m}: ${ok ? "yes" : "no"}`).join(", ")}).`,
    `- GReaTer beats random search by ≥ 10 points on average: ${g.greaterOverRandomSearch.reached ? "reached" : "not reached"} (${(100 * g.greaterOverRandomSearch.meanMargin).toFixed(1)} points).`,
    `- Best prompts need more than one edit on ≥ 3 families: ${g.multiEditFamilies.reached ? "reached" : "not reached"} (${g.multiEditFamilies.families.length}: ${g.multiEditFamilies.families.join(", ") || "none"}).`,
    `- Transferred prompts beat the target's initial prompt on average: ${g.transferBeatsTargetInitial.reached ? "reached" : "not reached"} (${g.transferBeatsTargetInitial.meanGain === null ? "no transfer runs" : `${(100 * g.transferBeatsTargetInitial.meanGain).toFixed(1)} points`}).`,
  );
  return lines.join("\n");
}

/** `readme` with the text between the bench's markers replaced; an Error when the markers are missing. */
export function spliceReadme(readme, tables, source) {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${README_START} … ${README_END} markers`);
  return `${readme.slice(0, start + README_START.length)}\n<!-- written by npm run bench:tables from ${source}; do not edit by hand -->\n\n${tables}\n\n${readme.slice(end)}`;
}
