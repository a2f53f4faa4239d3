#!/usr/bin/env node
// One command for the CUDA variant (docs/install.md, "CUDA"): obtains the CUDA torch wheel (and the nvrtc wheel it
// links against) with pip into a cache folder unless LIBTORCH names a CUDA libtorch already, then builds
// with cmake-js into build-cuda/. Needs nvcc (CUDA 13 for torch 2.14). Compiles and links without a GPU.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// Pinned, so that the released CUDA binary can be rebuilt bit for bit against the same libraries
// (`npm run prebuilt:cuda`, docs/install.md, "Prebuilt binaries").
const wheel = process.env.GREATER_CUDA_TORCH_WHEEL ?? "torch==2.14.1";
const nvrtcWheel = process.env.GREATER_CUDA_NVRTC_WHEEL ?? "nvidia-cuda-nvrtc==13.0.88";
let libtorch = process.env.LIBTORCH;
if (!libtorch) {
  const cache = process.env.GREATER_CUDA_CACHE ?? join(homedir(), ".cache", "greater", `cuda-${wheel.replace(/[^A-Za-z0-9.+-]/g, "-")}`);
  libtorch = join(cache, "torch");
  if (!existsSync(join(libtorch, "lib", "libtorch_cuda.so"))) {
    mkdirSync(cache, { recursive: true });
    console.error(`greater: installing ${wheel} and ${nvrtcWheel} with pip into ${cache}`);
    execFileSync(process.env.PYTHON ?? "python3", ["-m", "pip", "install", "--retries", "0", "--timeout", "5", "--no-deps",
      "--disable-pip-version-check", "--target", cache, wheel, nvrtcWheel], { stdio: "inherit" });
  }
}
execFileSync(process.execPath, [join(root, "scripts", "build-native.mjs"), "--out", join(root, "build-cuda")], {
  stdio: "inherit", env: { ...process.env, LIBTORCH: libtorch },
});
