#include "engine/env_setting.h"

#include <cstdlib>
#include <stdexcept>

namespace greater {

std::optional<int64_t> integerSetting(const char* name, int64_t minimum, const std::string& meaning) {
  const char* text = std::getenv(name);
  if (!text) return std::nullopt;
  char* end = nullptr;
  const long long parsed = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || parsed < minimum)
    throw std::invalid_argument(std::string(name) + "=\"" + text + "\" is not " + meaning);
  return parsed;
}

}  // namespace greater
