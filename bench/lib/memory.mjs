// Peak resident memory of this process, the measure both sides of the bench report: VmHWM from
// /proc/self/status on Linux (what `/usr/bin/time -v` calls "Maximum resident set size"), else getrusage's
// ru_maxrss, which Node exposes as process.resourceUsage().maxRSS (KiB).
import { readFileSync } from "node:fs";

export function peakRssMiB() {
  try {
    const match = readFileSync("/proc/self/status", "utf8").match(/^VmHWM:\s+(\d+)\s+kB/m);
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS / 1024;
}
