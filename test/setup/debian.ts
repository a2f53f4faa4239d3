// A command the tests need from one of Debian's packages: found on the PATH (or given by an environment variable),
// else installed with apt-get when this is a Debian machine where we may (root), as .ci/run does; otherwise an
// error that says what to install.
import { execFileSync, spawnSync } from "node:child_process";

const which = (command: string) => {
  const r = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
};

export function ensureDebianCommand(command: string, options: { package: string; override: string; purpose: string }, log = (line: string) => console.error(line)): string {
  const found = process.env[options.override] ?? which(command);
  if (found) return found;
  if (process.getuid?.() === 0 && which("apt-get")) {
    log(`greater tests: installing ${options.package} (Debian's package) for ${options.purpose}`);
    execFileSync("sh", ["-c", `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${options.package} >/dev/null`], { stdio: "inherit", timeout: 900_000 });
    const installed = which(command);
    if (installed) return installed;
  }
  throw new Error(`${options.purpose} need ${command}: install it (Debian: apt-get install ${options.package}) or set ${options.override}`);
}
