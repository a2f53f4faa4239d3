// Operators libtorch_cpu registers without a C++ API of their own (oneDNN's packed float32 and int8 linear
// ops): found in the dispatcher by name and called boxed. That needs only their schema, which has been stable
// across the libtorch versions we build against, and not the exact C++ types of their kernels.
#pragma once
#include <ATen/core/dispatch/Dispatcher.h>

#include <optional>

namespace greater {

// The operator `name` ("namespace::op", default overload) when this libtorch has it with a CPU kernel.
std::optional<c10::OperatorHandle> findCpuOp(const char* name);

}  // namespace greater
