#include "engine/packed_projection.h"

#include "engine/dispatcher_ops.h"

namespace greater {

namespace {
// oneDNN's float32 inner product on a pre-packed weight (see dispatcher_ops.h).
const std::optional<c10::OperatorHandle>& reorderOp() {
  static const auto op = findCpuOp("mkldnn::_reorder_linear_weight");
  return op;
}

const std::optional<c10::OperatorHandle>& linearOp() {
  static const auto op = findCpuOp("mkldnn::_linear_pointwise");
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
