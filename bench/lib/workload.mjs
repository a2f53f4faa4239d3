// The work both sides of the bench do, built once by the project's text layer and written to files that both
// read, so that neither side tokenizes differently from the other:
//   workload.json  token ids and spans for the micro measurements (generation prefixes, full sequences with the
//                  prompt and answer spans, gradient candidates)
//   step-data.json the train examples, extractor and initial prompt of the full step (the reference's data
//                  format, tools/reference/greater_step.py's read_data)
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadTask, loadTokenizer } from "../../dist/index.js";
import { DEFAULT_CONFIG, Mulberry32 } from "../../dist/optimizer/index.js";
import { buildExampleLayout, disallowedTokenMask, encodePrompt } from "../../dist/text/index.js";

/** Rows of the forward measurement: the authors' logits batch (logits_batch_size = 9). */
const FORWARD_ROWS = 9;
/** Candidates of the gradient measurement beside the current token (a proposal is usually 6 to 15). */
const GRADIENT_CANDIDATES = 10;

/**
 * @param {object} plan  { modelDir, workDir, task, dataDir, trainSize, reasoningTokens, seed }
 * @returns {{ workload: string, stepData: string, examples: number, meanPrefixTokens: number, meanFullTokens: number }}
 */
export async function writeWorkload(plan) {
  const tokenizer = await loadTokenizer(plan.modelDir);
  const task = loadTask(plan.task, { dataDir: plan.dataDir, sizes: { train: plan.trainSize } });
  const train = task.train.slice(0, plan.trainSize);
  if (train.length < plan.trainSize) throw new Error(`${plan.task} has ${train.length} train examples; the bench needs ${plan.trainSize}`);
  const template = DEFAULT_CONFIG.userTurnTemplate;
  const prompt = encodePrompt(tokenizer, DEFAULT_CONFIG.initialPrompt, template);

  // The reasoning is fixed-length text of allowed (plain word) tokens drawn from a seeded generator: what a
  // random-weight model would say anyway, and the same length for every row, so the work is known exactly.
  const allowed = [];
  disallowedTokenMask(tokenizer, { rule: "strict" }).forEach((blocked, id) => {
    if (!blocked) allowed.push(id);
  });
  const rng = new Mulberry32(plan.seed);
  const draw = () => allowed[Math.floor(rng.next() * allowed.length)];

  const prefixes = [];
  const full = [];
  for (const example of train) {
    const prefix = buildExampleLayout(tokenizer, { question: example.question, prompt }, { userTurnTemplate: template });
    const reasoning = Array.from({ length: plan.reasoningTokens }, draw);
    const layout = buildExampleLayout(
      tokenizer,
      { question: example.question, prompt, reasoning, extractor: task.extractor, answer: example.answer },
      { userTurnTemplate: template },
    );
    prefixes.push(prefix.ids);
    full.push({ ids: layout.ids, position: layout.spans.prompt.start, promptSpan: layout.spans.prompt, answerSpan: layout.spans.answer });
  }
  const current = full[0].ids[full[0].position];
  const candidates = [current];
  while (candidates.length < GRADIENT_CANDIDATES + 1) {
    const token = draw();
    if (!candidates.includes(token)) candidates.push(token);
  }

  const workload = {
    model: plan.modelDir,
    task: task.name,
    padTokenId: tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0,
    prefixes,
    forwardRows: full.slice(0, FORWARD_ROWS).map(({ ids }) => ({ ids })),
    gradient: { rows: full, candidates, temperature: DEFAULT_CONFIG.answerTemperature, controlWeight: DEFAULT_CONFIG.controlWeight },
  };
  const stepData = {
    name: task.name,
    extractor: task.extractor,
    initialPrompt: DEFAULT_CONFIG.initialPrompt,
    train: train.map(({ id, question, answer }) => ({ id, question, answer })),
  };
  const files = { workload: join(plan.workDir, "workload.json"), stepData: join(plan.workDir, "step-data.json") };
  writeFileSync(files.workload, JSON.stringify(workload));
  writeFileSync(files.stepData, JSON.stringify(stepData, null, 1));
  const mean = (rows) => rows.reduce((sum, row) => sum + row.length, 0) / rows.length;
  return { ...files, examples: train.length, meanPrefixTokens: mean(prefixes), meanFullTokens: mean(full.map((row) => row.ids)) };
}
