#!/usr/bin/env node
// `npm run bench`: runs the tinybench suites and writes bench/results/<date>-<machine>.json plus a table.
// A bench records figures; it is not a test and CI does not run it.
import { mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Bench } from "tinybench";
import { engineInfo, matmulChecksum } from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const info = engineInfo();
const bench = new Bench({ time: 2000, warmupTime: 300 });
bench.add("matmul_256_async", async () => {
  await matmulChecksum(256, 1);
});
await bench.run();

const figures = bench.tasks.map((task) => ({
  name: task.name,
  ours: task.result.latency.mean,
  reference: null,
  unit: "ms",
  ratio: null,
}));
const date = new Date().toISOString().slice(0, 10);
const machine = process.env.GREATER_BENCH_MACHINE ?? hostname();
const result = { machine, date, device: "cpu", threads: info.threads, libtorch: info.libtorchVersion, figures };
mkdirSync(join(here, "results"), { recursive: true });
const file = join(here, "results", `${date}-${machine}.json`);
writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
console.table(figures);
console.log(`written to ${file}`);
