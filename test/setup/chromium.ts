// vitest's global setup: the dashboard's browser tests drive Debian's `chromium` through puppeteer-core (no browser
// download).
import type { TestProject } from "vitest/node";
import { ensureDebianCommand } from "./debian.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The chromium executable. */
    chromium: string;
  }
}

export default function setup(project: TestProject): void {
  project.provide("chromium", ensureDebianCommand("chromium", { package: "chromium", override: "GREATER_CHROMIUM", purpose: "the dashboard's browser tests" }));
}
