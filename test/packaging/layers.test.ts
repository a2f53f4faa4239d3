// The layers stay one-way: each folder of ts/ imports only from its own layer and those below it, so the job
// layer (and anything else new) sits above the optimizer and tasks and nothing below imports it.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { expect, it } from "vitest";

const TS = resolve(import.meta.dirname, "..", "..", "ts");
const ORDER = ["engine", "text", "tasks", "optimizer", "runs", "jobs", "serve", "cli"];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

it("no layer imports a layer above it", () => {
  const wrong: string[] = [];
  for (const file of files(TS)) {
    const layer = relative(TS, file).split("/")[0];
    if (!ORDER.includes(layer)) continue;
    for (const [, target] of readFileSync(file, "utf8").matchAll(/from "(\.\.?\/[^"]+)"/g)) {
      const targetLayer = relative(TS, resolve(join(file, ".."), target)).split("/")[0];
      if (ORDER.includes(targetLayer) && ORDER.indexOf(targetLayer) > ORDER.indexOf(layer)) wrong.push(`${relative(TS, file)} imports ${target}`);
    }
  }
  expect(wrong).toEqual([]);
  // The check sees the job layer's imports at all.
  expect(readFileSync(join(TS, "jobs", "worker.ts"), "utf8")).toMatch(/from "\.\.\/runs\/index\.js"/);
});
