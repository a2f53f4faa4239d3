#include "engine/dispatcher_ops.h"

namespace greater {

std::optional<c10::OperatorHandle> findCpuOp(const char* name) {
  auto handle = c10::Dispatcher::singleton().findSchema({name, ""});
  if (handle && !handle->hasKernelForDispatchKey(c10::DispatchKey::CPU)) return std::nullopt;
  return handle;
}

}  // namespace greater
