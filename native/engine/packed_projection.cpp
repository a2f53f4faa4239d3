#include "engine/packed_projection.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <optional>

namespace greater {

namespace {
// The ops are registered by libtorch_cpu under the `mkldnn` namespace and have no C++ API of their own, so
// they are called boxed: that needs only their schema, which has been stable across the libtorch versions
// we build against, and not the exact C++ types of their kernels.
std::optional<c10::OperatorHandle> findOp(const char* name) {
  auto handle = c10::Dispatcher::singleton().findSchema({name, ""});
  if (handle && !handle->hasKernelForDispatchKey(c10::DispatchKey::CPU)) return std::nullopt;
  return handle;
}

const std::optional<c10::OperatorHandle>& reorderOp() {
  static const auto op = findOp("mkldnn::_reorder_linear_weight");
  return op;
}

const std::optional<c10::OperatorHandle>& linearOp() {
  static const auto op = findOp("mkldnn::_linear_pointwise");
  return op;
}
}  // namespace

bool PackedProjection::available() {
  return at::hasMKLDNN() && reorderOp() && linearOp();
}

torch::Tensor PackedProjection::project(const torch::Tensor& x) const {
  std::call_once(packOnce_, [this] {
    // No batch-size hint: oneDNN's default blocking was as fast as any hint at 1 to 65 rows.
    torch::jit::Stack stack{weight_, c10::IValue()};
    reorderOp()->callBoxed(&stack);
    packed_ = stack.at(0).toTensor();
  });
  torch::jit::Stack stack{x.contiguous(), packed_, c10::IValue(), c10::IValue(std::string("none")),
                          c10::IValue(c10::List<std::optional<at::Scalar>>()), c10::IValue()};
  linearOp()->callBoxed(&stack);
  return stack.at(0).toTensor();
}

}  // namespace greater
