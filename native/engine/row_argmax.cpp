#include "engine/row_argmax.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <stdexcept>

namespace greater {

namespace {
// The first i with row[i] == value (value is one of the row's entries). Blocks of 64 are tested with a branch-free
// loop the compiler vectorizes; only the block that holds the value is scanned one by one.
int64_t firstIndexOf(const float* row, int64_t width, float value) {
  if (std::isnan(value)) {
    for (int64_t i = 0; i < width; ++i)
      if (std::isnan(row[i])) return i;
  }
  constexpr int64_t kBlock = 64;
  int64_t i = 0;
  for (; i + kBlock <= width; i += kBlock) {
    int hit = 0;
    for (int64_t j = 0; j < kBlock; ++j) hit |= row[i + j] == value;
    if (hit) break;
  }
  for (; i < width; ++i)
    if (row[i] == value) return i;
  throw std::logic_error("rowArgmax: a row's maximum is not in the row");
}
}  // namespace

torch::Tensor rowArgmax(const torch::Tensor& logits) {
  if (!logits.device().is_cpu() || logits.scalar_type() != torch::kFloat32 || logits.dim() != 2 || logits.size(1) == 0)
    return logits.argmax(-1);
  const auto rows = logits.contiguous();
  const auto maxima = rows.amax(-1);  // [N]; NaN where the row has one
  auto indices = torch::empty({rows.size(0)}, torch::TensorOptions().dtype(torch::kInt64));
  const float* data = rows.data_ptr<float>();
  const float* best = maxima.data_ptr<float>();
  int64_t* out = indices.data_ptr<int64_t>();
  const int64_t width = rows.size(1);
  at::parallel_for(0, rows.size(0), 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) out[r] = firstIndexOf(data + r * width, width, best[r]);
  });
  return indices;
}

}  // namespace greater
