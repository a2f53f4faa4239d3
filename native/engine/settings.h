// The engine's tuning settings, one struct set from outside (the addon's setEngineSettings; engine_check) instead
// of environment variables read deep inside operations. Each is unset by default, which means the engine's own
// choice; tests set them to force a code path on tiny inputs, and a service to keep within a memory budget.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace greater {

struct EngineSettings {
  // Bytes of float32 logits per chunk where logits are reduced in chunks (default 32 MiB; >= 1).
  std::optional<int64_t> logitChunkBytes;
  // What one more prefill group costs, in padded tokens (default 256 on the CPU, 512 on CUDA; >= 0).
  std::optional<int64_t> prefillGroupCost;
  // Most candidates a row may leave to the int8 arg-max screen before it falls back (default 4096; 0: no screen).
  std::optional<int64_t> argmaxScreenCandidates;
  // Bytes one CPU allocation may take, replacing the measured free memory and its reserve (>= 0).
  std::optional<int64_t> cpuMemoryAvailable;
  // Folder for per-operation profiles (profiling.h); empty: no profiling.
  std::string profileDir;
};

// A copy of the settings in effect (thread-safe: operations read them on worker threads).
EngineSettings engineSettings();

// Replaces the settings. Throws std::invalid_argument naming the field when a value is out of range.
void setEngineSettings(const EngineSettings& settings);

}  // namespace greater
