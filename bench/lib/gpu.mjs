// What the GPU half of the bench needs to know about the device: its name, its memory bandwidth (for the decode
// bound) and, per process, the most GPU memory it held (sampled from nvidia-smi, so that both sides are measured
// the same way, CUDA context and caching allocator included).
import { execFile, execFileSync } from "node:child_process";

/**
 * Peak memory bandwidth in GB/s by product name (vendor data sheets). The first entry whose pattern matches the
 * name nvidia-smi reports wins, so the more specific names come first. --bandwidth overrides it.
 */
const BANDWIDTH_GBS = [
  [/H200/, 4800],
  [/H100 NVL/, 3900],
  [/H100 PCIe/, 2000],
  [/H100/, 3350], // SXM5 (HBM3)
  [/GH200/, 4000],
  [/A100.*80GB.*PCIe|A100 80GB PCIe/, 1935],
  [/A100.*80GB/, 2039],
  [/A100/, 1555],
  [/L40S|L40/, 864],
  [/A10G|A10\b/, 600],
  [/L4\b/, 300],
  [/RTX 4090/, 1008],
  [/RTX 3090/, 936],
  [/V100/, 900],
  [/T4\b/, 320],
];

function deviceIndex(device) {
  const match = /^cuda(?::(\d+))?$/.exec(device);
  if (!match) throw new Error(`not a cuda device: ${device}`);
  return match[1] ?? "0";
}

/** { name, memoryMiB, bandwidthGBs } of a CUDA device, from nvidia-smi. */
export function gpuInfo(device, bandwidthOverride = null) {
  let line;
  try {
    line = execFileSync("nvidia-smi", ["-i", deviceIndex(device), "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"], {
      encoding: "utf8",
    }).trim();
  } catch (e) {
    throw new Error(`--gpu needs nvidia-smi and a CUDA device (${device}): ${e.message}`);
  }
  const [name, memory] = line.split(",").map((s) => s.trim());
  const known = BANDWIDTH_GBS.find(([pattern]) => pattern.test(name));
  return { name, memoryMiB: Number(memory), bandwidthGBs: bandwidthOverride ?? (known ? known[1] : null) };
}

/** Samples the GPU memory a process holds every 200 ms until stop(), which resolves with the peak in MiB. */
export function sampleGpuMemory(pid) {
  let peak = 0;
  let running = true;
  let pending = Promise.resolve();
  const poll = () => {
    pending = new Promise((resolve) => {
      execFile("nvidia-smi", ["--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"], (error, stdout) => {
        if (!error) {
          for (const line of stdout.trim().split("\n")) {
            const [p, used] = line.split(",").map((s) => Number(s.trim()));
            if (p === pid && used > peak) peak = used;
          }
        }
        resolve();
      });
    });
  };
  poll();
  const timer = setInterval(() => running && poll(), 200);
  return {
    async stop() {
      running = false;
      clearInterval(timer);
      await pending;
      return peak;
    },
  };
}
