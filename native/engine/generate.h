// Batched greedy decoding over a static KV cache, each row stopping on its own.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/cancel.h"
#include "engine/kv_cache.h"
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

// What a generation can leave behind for work on the same sequences afterwards (generate_score.h): the
// prefill's hidden states, and every row's KV cache instead of dropping finished rows.
struct GreedyTrace {
  // Called once after the prefill with its hidden states [batch, promptWidth, hidden] (before the final
  // norm; prompts left-padded: row b's token j sits at column padLeft[b] + j).
  std::function<void(const torch::Tensor& prefillHidden, const std::vector<int64_t>& padLeft)> onPrefill;

  // Filled by the generation. Rows that left the running batch together share one piece, which holds only
  // the slots written by then, laid out as prefill.h says: a prompt's shared prefix at the first slots, then
  // row b's token j at slot padLeft[b] + j, generated tokens included; each piece's slot tables hold every
  // slot's rope position and validity. The first prompts[b].size() + fedTokens[b] valid slots are the row's
  // prompt and generated tokens, any later slot marked valid holds tokens decoded after the row had finished
  // (to be ignored).
  struct Piece {
    std::vector<int64_t> rows;  // the caller's row of each cache row
    std::unique_ptr<KVCache> cache;
  };
  std::vector<Piece> pieces;
  std::vector<int64_t> padLeft;    // per row
  std::vector<int64_t> fedTokens;  // per row: generated tokens in the cache (the last one of a row that hit
                                   // maxNewTokens never is: it was never fed back)
  int64_t promptWidth = 0;
};

// Prompts are right-aligned in one cache (prefill.h: their shared prefix runs once, the rest in groups of
// similar length); a row's rope positions count from its first real token, so each row decodes as it would
// alone. Rows that finish are dropped from the batch (the cache is compacted
// when a quarter of the rows have finished), so they stop costing compute; with a trace, the dropped rows'
// caches are kept in trace->pieces (and with maxNewTokens 0 the prompts are still prefilled). `cancel` is
// checked between steps.
GenerateResult generateGreedy(const Model& model, const GenerateRequest& request, const CancelFlag* cancel,
                              GreedyTrace* trace = nullptr);

}  // namespace greater
