// The output projection's weight pre-packed for oneDNN, for projections on the CPU that record no gradient.
//
// Why: at batch 50 a decode step on a model with a 128k vocabulary is almost only the [50, hidden] x
// [hidden, vocab] product, and MKL's sgemm re-packs the whole weight into its panel layout on every call
// (a quarter of the step's time, by perf). oneDNN's inner product with the weight reordered once into its
// blocked layout does the same product faster (bench/README.md has the figures). The cost is one more copy of the
// weight, made on the first use.
#pragma once
#include <torch/torch.h>

#include <mutex>

namespace greater {

class PackedProjection {
 public:
  // weight [out, in], float32 on the CPU; any strides. Packing waits for the first project().
  explicit PackedProjection(torch::Tensor weight) : weight_(std::move(weight)) {}

  // Whether this libtorch has the oneDNN ops (mkldnn::_reorder_linear_weight / _linear_pointwise).
  static bool available();

  // x [N, in] float32 -> x . weight^T [N, out], no gradient. Thread-safe; the first call packs the weight.
  torch::Tensor project(const torch::Tensor& x) const;

 private:
  torch::Tensor weight_;
  mutable std::once_flag packOnce_;
  mutable torch::Tensor packed_;
};

}  // namespace greater
