#include "engine/memory_guard.h"

#include "engine/settings.h"

#include <c10/core/CPUAllocator.h>
#ifdef GREATER_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#include <c10/util/Exception.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

namespace greater {

namespace {
constexpr int64_t kCheckedBytes = 16ll << 20;
constexpr int64_t kMaxReserveBytes = 1ll << 30;
constexpr double kMiB = 1024.0 * 1024.0;

struct Meminfo {
  std::optional<int64_t> available;  // MemAvailable
  int64_t total = 0;                 // MemTotal, 0 when missing
};

// MemAvailable and MemTotal ("Name:   123 kB" lines) from one read of /proc/meminfo.
Meminfo readMeminfo() {
  Meminfo info;
  std::ifstream file("/proc/meminfo");
  std::string line;
  auto bytes = [&](const char* name) -> std::optional<int64_t> {
    const std::string prefix = std::string(name) + ":";
    if (line.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    std::istringstream fields(line.substr(prefix.size()));
    int64_t kib = 0;
    if (fields >> kib) return kib * 1024;
    return std::nullopt;
  };
  while (std::getline(file, line)) {
    if (auto value = bytes("MemAvailable")) info.available = value;
    if (auto value = bytes("MemTotal")) info.total = *value;
    if (info.available && info.total) break;  // both are among the first lines
  }
  return info;
}

// A cgroup file holding one number ("max" and unreadable files give nothing).
std::optional<int64_t> cgroupNumber(const char* path) {
  std::ifstream file(path);
  int64_t value = 0;
  if (file >> value) return value;
  return std::nullopt;
}

struct CgroupMemory {
  int64_t limit;
  int64_t usage;
};

// The memory limit of the cgroup this process runs in and its usage (v2, then v1); nothing without a limit.
std::optional<CgroupMemory> cgroupMemory() {
  auto limit = cgroupNumber("/sys/fs/cgroup/memory.max");
  auto usage = cgroupNumber("/sys/fs/cgroup/memory.current");
  if (!limit) {
    limit = cgroupNumber("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    usage = cgroupNumber("/sys/fs/cgroup/memory/memory.usage_in_bytes");
  }
  // v1 reports "no limit" as a huge number; anything beyond 2^60 bytes is that.
  if (!limit || !usage || *limit >= (1ll << 60)) return std::nullopt;
  return CgroupMemory{*limit, *usage};
}

class GuardedCpuAllocator final : public c10::Allocator {
 public:
  explicit GuardedCpuAllocator(c10::Allocator* base) : base_(base) {}

  c10::DataPtr allocate(size_t bytes) override {
    if (static_cast<int64_t>(bytes) >= kCheckedBytes) {
      const auto allowance = cpuMemoryAllowance();
      if (allowance && static_cast<int64_t>(bytes) > *allowance) {
        std::ostringstream message;
        message.precision(1);
        message << std::fixed << "CPU out of memory: an allocation of " << bytes / kMiB << " MiB exceeds the "
                << std::max<int64_t>(*allowance, 0) / kMiB << " MiB this process may still take"
                << (engineSettings().cpuMemoryAvailable ? " (the cpuMemoryAvailable setting)"
                                                         : " (MemAvailable and the cgroup limit, less a reserve)")
                << "; run fewer rows per call";
        TORCH_CHECK_WITH(OutOfMemoryError, false, message.str());
      }
    }
    return base_->allocate(bytes);
  }

  c10::DeleterFnPtr raw_deleter() const override { return base_->raw_deleter(); }

  void copy_data(void* dest, const void* src, std::size_t count) const override { base_->copy_data(dest, src, count); }

 private:
  c10::Allocator* base_;
};
}  // namespace

void releaseCachedDeviceMemory() {
#ifdef GREATER_WITH_CUDA
  c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

std::optional<int64_t> cpuMemoryAllowance() {
  if (const auto fixed = engineSettings().cpuMemoryAvailable) return *fixed;
  const Meminfo meminfo = readMeminfo();
  auto available = meminfo.available;
  if (!available) return std::nullopt;
  int64_t total = meminfo.total;
  if (const auto cgroup = cgroupMemory()) {
    available = std::min(*available, std::max<int64_t>(0, cgroup->limit - cgroup->usage));
    total = std::min(total, cgroup->limit);
  }
  return *available - std::min(kMaxReserveBytes, total / 16);
}

void installCpuMemoryGuard() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Allocations made before keep the base allocator's deleter, which the guard's own allocations share.
    static GuardedCpuAllocator guard(c10::GetCPUAllocator());
    c10::SetCPUAllocator(&guard, /*priority=*/1);
  });
}

}  // namespace greater
