#include "engine/settings.h"

#include <mutex>
#include <stdexcept>

namespace greater {

namespace {
std::mutex& settingsMutex() {
  static std::mutex m;
  return m;
}
EngineSettings& current() {
  static EngineSettings s;
  return s;
}
void checkAtLeast(const std::optional<int64_t>& value, int64_t minimum, const char* field) {
  if (value && *value < minimum)
    throw std::invalid_argument(std::string("engine settings: ") + field + " must be >= " + std::to_string(minimum) + ", got " +
                                std::to_string(*value));
}
}  // namespace

EngineSettings engineSettings() {
  std::lock_guard<std::mutex> lock(settingsMutex());
  return current();
}

void setEngineSettings(const EngineSettings& settings) {
  checkAtLeast(settings.logitChunkBytes, 1, "logitChunkBytes");
  checkAtLeast(settings.prefillGroupCost, 0, "prefillGroupCost");
  checkAtLeast(settings.argmaxScreenCandidates, 0, "argmaxScreenCandidates");
  checkAtLeast(settings.cpuMemoryAvailable, 0, "cpuMemoryAvailable");
  std::lock_guard<std::mutex> lock(settingsMutex());
  current() = settings;
}

}  // namespace greater
