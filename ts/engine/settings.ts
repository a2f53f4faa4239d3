// The engine's tuning settings (native/engine/settings.h): one object, set with setEngineSettings. Each is unset by
// default, meaning the engine's own choice. The GREATER_* environment variables below set them once, when the
// engine loads, for tools and services configured through their environment.
import { loadBinding, type NativeBinding } from "./binding.js";

export interface EngineSettings {
  /** Bytes of float32 logits per chunk where logits are reduced in chunks (default 32 MiB). GREATER_LOGIT_CHUNK_BYTES. */
  logitChunkBytes?: number;
  /** What one more prefill group costs, in padded tokens (default 256 on the CPU, 512 on CUDA). GREATER_PREFILL_GROUP_COST. */
  prefillGroupCost?: number;
  /** Most candidates a row may leave to the int8 arg-max screen (default 4096; 0 turns the screen off). GREATER_ARGMAX_SCREEN_CANDIDATES. */
  argmaxScreenCandidates?: number;
  /** Bytes one CPU allocation may take, replacing the measured free memory (a budget for a service). GREATER_CPU_MEMORY_AVAILABLE. */
  cpuMemoryAvailable?: number;
  /** A folder where every engine operation writes a profile (trace and summary). GREATER_PROFILE_DIR. */
  profileDir?: string;
}

const INTEGER_FIELDS = {
  logitChunkBytes: { variable: "GREATER_LOGIT_CHUNK_BYTES", minimum: 1, meaning: "a positive number of bytes" },
  prefillGroupCost: { variable: "GREATER_PREFILL_GROUP_COST", minimum: 0, meaning: "a number of tokens >= 0" },
  argmaxScreenCandidates: { variable: "GREATER_ARGMAX_SCREEN_CANDIDATES", minimum: 0, meaning: "a number of candidates (0 turns the screen off)" },
  cpuMemoryAvailable: { variable: "GREATER_CPU_MEMORY_AVAILABLE", minimum: 0, meaning: "a number of bytes" },
} as const;

let current: EngineSettings = {};

/** The settings in effect (those set here or from the environment at load). */
export function engineSettings(): EngineSettings {
  return { ...current };
}

/**
 * Changes the given settings (`undefined` unsets one); the others stay. Throws a RangeError naming the field
 * when a value is out of range. Applies to operations that start afterwards.
 */
export function setEngineSettings(changes: EngineSettings): EngineSettings {
  const next: EngineSettings = { ...current };
  for (const [field, value] of Object.entries(changes) as [keyof EngineSettings, unknown][]) {
    if (!(field in INTEGER_FIELDS) && field !== "profileDir") {
      throw new RangeError(`setEngineSettings: ${field} is not an engine setting (${[...Object.keys(INTEGER_FIELDS), "profileDir"].join(", ")})`);
    }
    if (value === undefined) {
      delete next[field];
    } else if (field === "profileDir") {
      if (typeof value !== "string") throw new RangeError(`setEngineSettings: profileDir must be a folder path, got ${JSON.stringify(value)}`);
      next.profileDir = value;
    } else {
      const rule = INTEGER_FIELDS[field];
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < rule.minimum) {
        throw new RangeError(`setEngineSettings: ${field} must be ${rule.meaning}, got ${JSON.stringify(value)}`);
      }
      next[field] = value;
    }
  }
  loadBinding().setEngineSettings({ ...next });
  current = next;
  return engineSettings();
}

/** The settings the GREATER_* variables in `env` give; throws naming the variable whose text is not valid. */
export function settingsFromEnvironment(env: NodeJS.ProcessEnv): EngineSettings {
  const settings: EngineSettings = {};
  for (const [field, rule] of Object.entries(INTEGER_FIELDS) as [keyof typeof INTEGER_FIELDS, (typeof INTEGER_FIELDS)[keyof typeof INTEGER_FIELDS]][]) {
    const text = env[rule.variable];
    if (text === undefined) continue;
    const n = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < rule.minimum) throw new Error(`${rule.variable}="${text}" is not ${rule.meaning}`);
    settings[field] = n;
  }
  if (env.GREATER_PROFILE_DIR) settings.profileDir = env.GREATER_PROFILE_DIR;
  return settings;
}

/** At load (binding.ts): the environment's settings become the engine's. */
export function applyEnvironmentSettings(binding: Pick<NativeBinding, "setEngineSettings">): void {
  const settings = settingsFromEnvironment(process.env);
  binding.setEngineSettings({ ...settings });
  current = settings;
}
