// Integer settings read from the environment (GREATER_LOGIT_CHUNK_BYTES, GREATER_PREFILL_GROUP_COST,
// GREATER_ARGMAX_SCREEN_CANDIDATES): tuning knobs, mostly for tests that force a code path on tiny inputs.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace greater {

// The variable's value, or nothing when it is unset. Throws std::invalid_argument naming the variable and its
// text unless the whole text is an integer >= minimum; `meaning` completes "NAME="text" is not ...".
std::optional<int64_t> integerSetting(const char* name, int64_t minimum, const std::string& meaning);

}  // namespace greater
