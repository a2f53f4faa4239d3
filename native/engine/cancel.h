// Cooperative cancellation: JS sets the flag (AbortSignal), long-running engine work checks it between steps.
#pragma once
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

namespace greater {

struct CancelFlag {
  std::atomic<bool> requested{false};
};

class CancelledError : public std::runtime_error {
 public:
  explicit CancelledError(const std::string& operation) : std::runtime_error(operation + ": cancelled") {}
};

// Throws CancelledError when `flag` is set; a null flag never cancels.
inline void throwIfCancelled(const CancelFlag* flag, const std::string& operation) {
  if (flag && flag->requested.load(std::memory_order_relaxed)) throw CancelledError(operation);
}

}  // namespace greater
