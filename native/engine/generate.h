// Batched greedy decoding over a static KV cache, each row stopping on its own.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/cancel.h"
#include "engine/model.h"
#include "engine/token_batch.h"

namespace greater {

struct GenerateRequest {
  TokenRows prompts;                  // ragged, each at least one token
  int64_t maxNewTokens = 0;
  std::vector<int64_t> stopTokenIds;  // added to the model's eos ids
  bool useModelEos = true;            // false: only stopTokenIds stop a row (fixed-length benchmarks)
};

struct GenerateResult {
  TokenRows tokens;           // per row: new tokens, without the stop token that ended the row
  std::vector<bool> stopped;  // per row: ended on a stop token (false: reached maxNewTokens)
};

// Prompts are left-padded into one batch; a row's rope positions count from its first real token, so each
// row decodes exactly as it would alone. Rows that finish are dropped from the batch (the cache is compacted
// when a quarter of the rows have finished), so they stop costing compute. `cancel` is checked between steps.
GenerateResult generateGreedy(const Model& model, const GenerateRequest& request, const CancelFlag* cancel);

}  // namespace greater
