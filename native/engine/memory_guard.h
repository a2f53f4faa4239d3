// Refuses CPU allocations the machine cannot back, with an out-of-memory error, instead of letting the kernel
// kill the process.
//
// Why: Linux overcommits memory, so a large malloc succeeds and the process is killed later, when its pages
// are touched and the machine runs out: no error, no chance to retry on fewer rows, a run cut off mid-step.
// On CUDA the allocator throws instead, and the optimizer answers by halving the rows of the call
// (ts/optimizer/row-splitter.ts). The guard wraps libtorch's CPU allocator: an allocation of 16 MiB or more that is
// larger than the memory available (the kernel's MemAvailable, and the cgroup's limit less its usage where
// one is set), less a reserve of 1/16 of the machine's memory (at most 1 GiB), throws c10::OutOfMemoryError,
// which the addon reports with code OUT_OF_MEMORY. Smaller allocations are not checked: reading the counters
// costs ~20 us, and the big ones are where an operation's peak comes from.
//
// The cpuMemoryAvailable setting (bytes; settings.h) replaces the measured figure and the reserve: tests use it to make a
// call run out of memory on a tiny model, and a service can use it to keep the engine inside a budget.
#pragma once
#include <cstdint>
#include <optional>

namespace greater {

// Makes the guard libtorch's CPU allocator. Idempotent and thread-safe.
void installCpuMemoryGuard();

// Hands the CUDA caching allocator's unused blocks back to the device after an out-of-memory error, so that a retry
// on fewer rows has room and the model stays usable. Nothing on a build without CUDA.
void releaseCachedDeviceMemory();

// Bytes one allocation may take now: the cpuMemoryAvailable setting when set, else the measured memory
// available less the reserve; nothing when neither can be read (no /proc/meminfo: every allocation passes).
std::optional<int64_t> cpuMemoryAllowance();

}  // namespace greater
