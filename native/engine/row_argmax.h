// Arg-max over the vocabulary for greedy decoding and exact-match checks, faster than torch's on the CPU.
#pragma once
#include <torch/torch.h>

namespace greater {

// The index of each row's maximum in logits [N, vocab], the first on ties and NaN counting as the largest: the
// same as logits.argmax(-1). On the CPU in float32 it takes amax and then scans for the first index holding it,
// both vectorized, where torch's argmax runs a scalar loop.
torch::Tensor rowArgmax(const torch::Tensor& logits);

}  // namespace greater
