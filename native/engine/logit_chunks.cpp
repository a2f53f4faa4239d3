#include "engine/logit_chunks.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "engine/settings.h"

#include <algorithm>
#include <stdexcept>

namespace greater {

namespace {
// 32 MiB: glibc's malloc takes blocks under its mmap threshold (at most 32 MiB) from its heap, so each chunk
// reuses the memory the previous one freed instead of faulting in fresh zeroed pages (bench/README.md, "Memory",
// has what that gained over 64 MiB chunks).
constexpr int64_t kDefaultLogitChunkBytes = 32ll << 20;
}  // namespace

int64_t logitRowsPerChunk(int64_t vocab) {
  const int64_t bytes = engineSettings().logitChunkBytes.value_or(kDefaultLogitChunkBytes);
  return std::max<int64_t>(1, bytes / (vocab * static_cast<int64_t>(sizeof(float))));
}

void forEachChunk(int64_t begin, int64_t end, int64_t rowsPerChunk, const std::function<void(int64_t, int64_t)>& fn) {
  for (int64_t start = begin; start < end; start += rowsPerChunk) fn(start, std::min(rowsPerChunk, end - start));
}

torch::Tensor tokenNll(const torch::Tensor& logits, const torch::Tensor& targets, double divisor) {
  auto scaled = divisor == 1.0 ? logits : logits / divisor;
  return -torch::log_softmax(scaled, -1).gather(1, targets.unsqueeze(1)).squeeze(1);  // [N]
}

torch::Tensor chunkedTokenNll(const Model& model, const torch::Tensor& selected, const torch::Tensor& targets,
                              int64_t missRows, torch::Tensor* misses, const CancelFlag* cancel, const std::string& op) {
  const int64_t count = selected.size(0);
  auto nll = torch::empty({count}, torch::TensorOptions().dtype(torch::kFloat32).device(selected.device()));  // [N]
  if (missRows > 0) *misses = torch::empty({missRows}, nll.options());                                       // [missRows]
  forEachChunk(0, count, logitRowsPerChunk(model.config().vocabSize), [&](int64_t start, int64_t rows) {
    throwIfCancelled(cancel, op);
    auto logits = model.logits(selected.narrow(0, start, rows)).to(torch::kFloat32);  // [rows, vocab]
    auto chunkTargets = targets.narrow(0, start, rows);
    nll.narrow(0, start, rows).copy_(tokenNll(logits, chunkTargets, 1.0));
    const int64_t flagged = std::max<int64_t>(0, std::min(rows, missRows - start));
    if (flagged > 0)
      misses->narrow(0, start, flagged).copy_(rowArgmax(logits.narrow(0, 0, flagged)) != chunkTargets.narrow(0, 0, flagged));
  });
  return nll;
}

torch::Tensor rowMean(const torch::Tensor& values, const torch::Tensor& rows, int64_t batch) {
  auto sums = torch::zeros({batch}, values.options()).index_add(0, rows, values);
  auto counts = torch::zeros({batch}, values.options()).index_add(0, rows, torch::ones_like(values));
  return sums / counts.clamp_min(1);
}

ReleaseFreedMemoryOnExit::~ReleaseFreedMemoryOnExit() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace greater
