// Greedy decoding's arg-max over the vocabulary, screened on an int8 copy of the output layer and settled
// exactly.
//
// Why: at batch 50 the float32 projection onto a 128k vocabulary is ~70 % of a CPU decode step, and greedy
// decoding only needs each row's arg-max. oneDNN's u8 x s8 inner product does the product faster on AVX2.
// Int8 logits alone could pick a different token, so they only screen: the quantization error of
// every logit is bounded (Cauchy-Schwarz on the actual rounding errors of the hidden row and of the weight
// rows), so only tokens whose int8 logit lies within twice that bound of the row's best can be the arg-max.
// Those few (tens out of 128k on the bench model) are recomputed from the float32 weight rows in double
// precision, and the largest wins, the first on ties. The result is the arg-max of the exact logits; a
// float32 matmul can order two logits a few ulps apart differently, as two float32 matmuls can.
//
// Activations are quantized to 7 bits (zero point 64): u8 x s8 pairs then cannot saturate AVX2's 16-bit
// multiply-add, which has no VNNI to fall back on.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <mutex>

namespace greater {

class ArgmaxScreen {
 public:
  // Rows settled by `fallback` instead: hidden [n, in] -> their arg-max ids [n] int64.
  using Fallback = std::function<torch::Tensor(const torch::Tensor&)>;

  // weight [out, in], float32 on the CPU with contiguous rows; kept by reference. The int8 copy is made on
  // the first argmax().
  explicit ArgmaxScreen(torch::Tensor weight);

  // Whether this libtorch has the oneDNN int8 ops (onednn::qlinear_prepack / qlinear_pointwise).
  static bool available();

  // hidden [N, in] float32 -> [N] int64, the arg-max of hidden . weight^T per row. Batches of 2 to 15 rows
  // (where int8 is not faster here), rows with a non-finite value, rows with too many candidates, and every
  // row when the weight is not finite or the int8 op fails go to `fallback`. Thread-safe.
  torch::Tensor argmax(const torch::Tensor& hidden, const Fallback& fallback) const;

 private:
  void prepare() const;

  torch::Tensor weight_;
  mutable std::once_flag prepareOnce_;
  mutable bool usable_ = false;
  mutable torch::Tensor packed_;      // oneDNN's blocked int8 weight
  mutable torch::Tensor scales_;      // [out] float32, per output row
  mutable torch::Tensor zeroPoints_;  // [out] int64, all 0 (symmetric)
  mutable double maxRowNorm_ = 0;       // max_j ||w_j||
  mutable double maxResidualNorm_ = 0;  // max_j ||w_j - dequantized w_j||
  mutable double maxQuantizedNorm_ = 0; // max_j ||dequantized w_j||
};

}  // namespace greater
