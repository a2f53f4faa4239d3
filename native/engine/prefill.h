// The prefill of a generation: its prompts run into the KV cache so that the compute goes to real tokens, not
// to padding or repeats. The tokens every prompt starts with (a chat template's header, a shared instruction)
// run once, at batch 1, and their keys/values are copied to every row. The rest of each prompt runs in groups
// of rows of similar length, each group padded only to its own longest row.
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
  std::vector<int64_t> padLeft;  // per row: width - its length (row b's token j >= sharedPrefix is at slot padLeft[b] + j)
  // Row groups of the prefill, longest first: each runs its rows' tokens after the shared prefix together.
  std::vector<std::vector<int64_t>> groups;
};

// Plans the layout. The shared prefix is the longest common start of all rows, leaving every row at least one
// token of its own (0 for a single row). Groups minimise the padded token count plus a cost per group (the
// work of one more forward), which GREATER_PREFILL_GROUP_COST (tokens, >= 0) overrides for tests.
PromptLayout planPromptLayout(const TokenRows& prompts, const torch::Device& device);

// Sets the cache's slot tables for the layout over all its capacity: slots past `width` continue each row's
// positions (generated tokens).
void setSlotTables(KVCache& cache, const PromptLayout& layout);

// Runs the prompts into slots [0, width) of `cache` (whose slot tables are set). Returns each row's last hidden
// state [batch, hidden] (before the final norm). With `onHidden`, it also gets every prompt token's hidden
// state as one [batch, width, hidden] tensor in which row b's token j is at column padLeft[b] + j.
torch::Tensor prefill(const Model& model, const TokenRows& prompts, const PromptLayout& layout, KVCache& cache,
                      const std::function<void(const torch::Tensor&)>& onHidden, const CancelFlag* cancel,
                      const std::string& op);

}  // namespace greater
