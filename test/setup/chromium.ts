// vitest's global setup: the dashboard's browser tests drive Debian's `chromium` through puppeteer-core (no browser
// download). When it is missing on a Debian machine where we may install packages, it is installed, as .ci/run does.
import { execFileSync, spawnSync } from "node:child_process";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** The chromium executable. */
    chromium: string;
  }
}

const which = (command: string) => {
  const r = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
};

export function ensureChromium(log: (line: string) => void = (line) => console.error(line)): string {
  const found = process.env.GREATER_CHROMIUM ?? which("chromium");
  if (found) return found;
  if (process.getuid?.() === 0 && which("apt-get")) {
    log("greater tests: installing chromium (Debian's package) for the dashboard's browser tests");
    execFileSync("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null"], { stdio: "inherit", timeout: 900_000 });
    const installed = which("chromium");
    if (installed) return installed;
  }
  throw new Error("the dashboard tests need Debian's chromium: install it (apt-get install chromium) or set GREATER_CHROMIUM");
}

export default function setup(project: TestProject): void {
  project.provide("chromium", ensureChromium());
}
