#!/usr/bin/env node
// The `greater` command. The CLI itself is TypeScript compiled to dist/ (npm install / npm test build it).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error("greater: dist/ is missing; run `npm install` (or `npx tsc -p tsconfig.json`) in the package first");
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
