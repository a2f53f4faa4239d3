// Bounded work over full-vocabulary logits, for operations that read many positions: a 128k-token vocabulary
// makes one float32 logit row 0.5 MB, so a few thousand positions at once would need gigabytes per copy
// (and log-softmax makes another). Such operations compute lm_head a bounded number of positions at a time.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>

#include "engine/cancel.h"
#include "engine/model.h"
#include "engine/row_argmax.h"

namespace greater {

// Rows of float32 logits per chunk: 32 MiB worth, or the logitChunkBytes setting (settings.h) (tests force tiny
// chunks with it so that several chunks run on a tiny model). At least one row.
int64_t logitRowsPerChunk(int64_t vocab);

// Calls fn(start, count) for consecutive ranges of at most rowsPerChunk rows covering [begin, end).
void forEachChunk(int64_t begin, int64_t end, int64_t rowsPerChunk, const std::function<void(int64_t, int64_t)>& fn);

// Per-token negative log-likelihood of `targets` [N] under float32 logits [N, vocab] / divisor.
torch::Tensor tokenNll(const torch::Tensor& logits, const torch::Tensor& targets, double divisor);

// tokenNll under lm_head at the hidden rows `selected` [N, hidden] (divisor 1), a chunk of rows at a time;
// nothing is differentiated. Returns [N] float32. With missRows > 0, *misses becomes [missRows] float32:
// 1 where the arg-max at one of the first missRows rows is not its target (an answer's exact match).
torch::Tensor chunkedTokenNll(const Model& model, const torch::Tensor& selected, const torch::Tensor& targets,
                              int64_t missRows, torch::Tensor* misses, const CancelFlag* cancel, const std::string& op);

// Mean of per-token values [N] per batch row (`rows` [N] int64: the row of each value); rows without tokens get 0.
torch::Tensor rowMean(const torch::Tensor& values, const torch::Tensor& rows, int64_t batch);

// glibc keeps freed blocks below its mmap threshold in its arenas, so the hundreds of MiB of activations and
// logit chunks an operation frees would stay resident and add to the next call's peak. Declared first in an
// operation, this returns them to the system once all its tensors are gone.
struct ReleaseFreedMemoryOnExit {
  ReleaseFreedMemoryOnExit() = default;
  ReleaseFreedMemoryOnExit(const ReleaseFreedMemoryOnExit&) = delete;
  ReleaseFreedMemoryOnExit& operator=(const ReleaseFreedMemoryOnExit&) = delete;
  ~ReleaseFreedMemoryOnExit();
};

}  // namespace greater
