// The prefill of a generation: its prompts run into the KV cache so that the compute goes to real tokens, not
// to padding or repeats. The tokens every prompt starts with (a chat template's header, a shared instruction)
// run once, at batch 1, and their keys/values are copied to every row. The rest of each prompt runs in groups
// of rows of similar length, each group padded only to its own longest row. The cache holds the rows in group
// order, so each group runs on a view of its rows: nothing is copied.
//
// Cache layout (slots [0, width) of every row): the shared prefix at slots [0, sharedPrefix); after it, each
// row's remaining tokens end at slot width - 1, so row b's token j >= sharedPrefix sits at slot padLeft[b] + j.
// Slots in between are not valid. Masks and rope positions come from the cache's slot tables, so decoding
// needs nothing else.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/cancel.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/token_batch.h"

namespace greater {

struct PromptLayout {
  int64_t width = 0;             // slots the prompts take: [0, width)
  int64_t sharedPrefix = 0;      // tokens every prompt starts with, stored once per row at slots [0, sharedPrefix)
  std::vector<int64_t> padLeft;  // per prompt: width - its length (its token j >= sharedPrefix is at slot padLeft[b] + j)
  // The cache's row order: cache row r holds prompt order[r]. Longest first, so that each prefill group is a run
  // of cache rows: group g is rows [groupStarts[g], groupStarts[g + 1]) (the last entry is the batch size).
  std::vector<int64_t> order;
  std::vector<int64_t> groupStarts;
};

// Plans the layout. The shared prefix is the longest common start of all rows, leaving every row at least one
// token of its own (0 for a single row). Groups minimise the padded token count plus a cost per group (the
// work of one more forward), which the prefillGroupCost setting (tokens, >= 0; settings.h) overrides for tests.
PromptLayout planPromptLayout(const TokenRows& prompts, const torch::Device& device);

// Sets the slot tables of a cache whose rows are in layout.order, over all its capacity: slots past `width`
// continue each row's positions (generated tokens).
void setSlotTables(KVCache& cache, const PromptLayout& layout);

// Runs the prompts into slots [0, width) of `cache` (rows in layout.order, slot tables set). Returns each cache
// row's last hidden state [batch, hidden] (before the final norm), in cache order. With `onHidden`, it also gets
// every prompt token's hidden state as one [batch, width, hidden] tensor in the prompts' order, in which prompt
// b's token j is at column padLeft[b] + j.
torch::Tensor prefill(const Model& model, const TokenRows& prompts, const PromptLayout& layout, KVCache& cache,
                      const std::function<void(const torch::Tensor&)>& onHidden, const CancelFlag* cancel,
                      const std::string& op);

}  // namespace greater
