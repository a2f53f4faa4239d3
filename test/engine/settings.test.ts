// The engine's settings: one object set through setEngineSettings, or from GREATER_* variables once at load.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { afterEach, expect, it } from "vitest";
import { engineSettings, setEngineSettings } from "../../ts/engine/index.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const atLoad = (env: Record<string, string>) =>
  spawnSync(process.execPath, ["--input-type=module", "-e", "import { engineSettings, engineInfo } from './dist/engine/index.js'; engineInfo(); console.log(JSON.stringify(engineSettings()));"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });

afterEach(() => void setEngineSettings({ logitChunkBytes: undefined, prefillGroupCost: undefined }));

it("changes only the settings given, unsets with undefined, and refuses unknown ones", () => {
  const before = engineSettings();
  expect(setEngineSettings({ prefillGroupCost: 7 })).toEqual({ ...before, prefillGroupCost: 7 });
  expect(setEngineSettings({ logitChunkBytes: 4096 })).toEqual({ ...before, prefillGroupCost: 7, logitChunkBytes: 4096 });
  expect(setEngineSettings({ prefillGroupCost: undefined })).toEqual({ ...before, logitChunkBytes: 4096 });
  expect(() => setEngineSettings({ chunkBytes: 1 } as never)).toThrow(/chunkBytes is not an engine setting/);
  // A refused change leaves the settings as they were.
  expect(() => setEngineSettings({ prefillGroupCost: 3, logitChunkBytes: -5 })).toThrow(/logitChunkBytes/);
  expect(engineSettings()).toEqual({ ...before, logitChunkBytes: 4096 });
});

it("takes the GREATER_* variables once, at load, and names a variable whose text is wrong", () => {
  const ok = atLoad({ GREATER_PREFILL_GROUP_COST: "7", GREATER_ARGMAX_SCREEN_CANDIDATES: "0", GREATER_PROFILE_DIR: "/tmp/p" });
  expect(ok.status, ok.stderr).toBe(0);
  expect(JSON.parse(ok.stdout)).toEqual({ prefillGroupCost: 7, argmaxScreenCandidates: 0, profileDir: "/tmp/p" });
  const bad = atLoad({ GREATER_LOGIT_CHUNK_BYTES: "lots" });
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toContain('GREATER_LOGIT_CHUNK_BYTES="lots" is not a positive number of bytes');
});
