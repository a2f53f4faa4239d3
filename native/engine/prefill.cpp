#include "engine/prefill.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>

#include "engine/settings.h"

namespace greater {

namespace {
// What one more group costs, in padded tokens: on the CPU, 256 gave the fastest prefill on the bench's prompts
// (a group pays per-op dispatch and thread wake-ups that a batch of small tokens does not amortise). On a GPU a
// group is one more pass over all the weights, the time of hundreds of tokens in a large batch; 512 there is an
// estimate. The prefillGroupCost setting (settings.h) overrides both.
int64_t groupCostTokens(const torch::Device& device) {
  return engineSettings().prefillGroupCost.value_or(device.is_cuda() ? 512 : 256);
}

// Splits rows sorted by decreasing length into runs, minimising the sum over runs of (rows x the run's first
// length) + cost: the padded tokens of every group plus a price per group. Returns the runs' first rows and n.
std::vector<int64_t> planGroups(const std::vector<int64_t>& sortedLengths, int64_t cost) {
  const int64_t n = static_cast<int64_t>(sortedLengths.size());
  std::vector<int64_t> best(n + 1, std::numeric_limits<int64_t>::max()), start(n + 1, 0);
  best[0] = 0;
  for (int64_t end = 1; end <= n; ++end)
    for (int64_t first = 0; first < end; ++first) {
      const int64_t total = best[first] + (end - first) * sortedLengths[first] + cost;
      if (total < best[end]) best[end] = total, start[end] = first;
    }
  std::vector<int64_t> starts;
  for (int64_t end = n; end > 0; end = start[end]) starts.push_back(start[end]);
  std::reverse(starts.begin(), starts.end());
  starts.push_back(n);
  return starts;
}
}  // namespace

PromptLayout planPromptLayout(const TokenRows& prompts, const torch::Device& device) {
  PromptLayout layout;
  const int64_t batch = static_cast<int64_t>(prompts.size());
  layout.width = maxLength(prompts);
  int64_t shortest = layout.width;
  for (const auto& row : prompts) shortest = std::min<int64_t>(shortest, static_cast<int64_t>(row.size()));
  if (batch > 1) {
    auto shared = [&](int64_t j) {
      return std::all_of(prompts.begin(), prompts.end(), [&](const auto& row) { return row[j] == prompts[0][j]; });
    };
    while (layout.sharedPrefix < shortest - 1 && shared(layout.sharedPrefix)) ++layout.sharedPrefix;
  }
  std::vector<int64_t> suffixLengths(batch);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t length = static_cast<int64_t>(prompts[b].size());
    layout.padLeft.push_back(layout.width - length);
    suffixLengths[b] = length - layout.sharedPrefix;
  }
  layout.order.resize(batch);
  std::iota(layout.order.begin(), layout.order.end(), 0);
  std::stable_sort(layout.order.begin(), layout.order.end(), [&](int64_t a, int64_t b) { return suffixLengths[a] > suffixLengths[b]; });
  std::vector<int64_t> sortedLengths;
  for (int64_t b : layout.order) sortedLengths.push_back(suffixLengths[b]);
  layout.groupStarts = planGroups(sortedLengths, groupCostTokens(device));
  return layout;
}

void setSlotTables(KVCache& cache, const PromptLayout& layout) {
  const auto device = cache.slotPositions().device();
  std::vector<int64_t> padLeft;  // per cache row
  for (int64_t b : layout.order) padLeft.push_back(layout.padLeft[b]);
  auto rowPadLeft = longTensor(padLeft, device).unsqueeze(1);                                                          // [batch, 1]
  auto slots = torch::arange(cache.capacity(), torch::TensorOptions().dtype(torch::kInt64).device(device)).unsqueeze(0);  // [1, capacity]
  auto inPrefix = slots < layout.sharedPrefix;                                                                         // [1, capacity]
  cache.slotPositions() = torch::where(inPrefix, slots, (slots - rowPadLeft).clamp_min(0));                           // [batch, capacity]
  cache.slotValid() = inPrefix | (slots >= rowPadLeft + layout.sharedPrefix);                                          // [batch, capacity]
}

torch::Tensor prefill(const Model& model, const TokenRows& prompts, const PromptLayout& layout, KVCache& cache,
                      const std::function<void(const torch::Tensor&)>& onHidden, const CancelFlag* cancel,
                      const std::string& op) {
  const auto device = model.device();
  const int64_t batch = static_cast<int64_t>(prompts.size());
  const int64_t shared = layout.sharedPrefix, width = layout.width;

  torch::Tensor prefixHidden;  // [1, shared, hidden]
  if (shared > 0) {
    const TokenRows prefix{std::vector<int64_t>(prompts[0].begin(), prompts[0].begin() + shared)};
    const PaddedTokens padded = padRows(prefix, shared, /*left=*/true, device);
    auto prefixCache = model.makeCache(1, shared);
    prefixCache->slotPositions() = padded.positions;
    prefixCache->slotValid() = padded.valid;
    auto attention = model.attentionInputs(padded.positions, 0, padded.positions, padded.valid);
    prefixHidden = model.decode(model.embed(padded.ids), attention, prefixCache.get(), 0);
    cache.placeShared(*prefixCache);
  }

  torch::Tensor last, all;  // [batch, hidden] in cache order; with onHidden [batch, width, hidden] in prompt order
  for (size_t g = 0; g + 1 < layout.groupStarts.size(); ++g) {
    throwIfCancelled(cancel, op);
    const int64_t first = layout.groupStarts[g], rows = layout.groupStarts[g + 1] - first;
    const std::vector<int64_t> members(layout.order.begin() + first, layout.order.begin() + first + rows);
    TokenRows suffixes;
    for (int64_t b : members) suffixes.emplace_back(prompts[b].begin() + shared, prompts[b].end());
    const int64_t groupWidth = maxLength(suffixes);
    const int64_t offset = width - groupWidth;  // every row's last token sits at slot width - 1
    const PaddedTokens padded = padRows(suffixes, groupWidth, /*left=*/true, device);
    auto view = cache.rowsView(first, rows);
    auto attention = model.attentionInputs(padded.positions + shared, offset, view->slotPositions().narrow(1, 0, width),
                                           view->slotValid().narrow(1, 0, width));
    auto hidden = model.decode(model.embed(padded.ids), attention, view.get(), offset);  // [rows, groupWidth, hidden]
    if (!last.defined()) last = torch::empty({batch, hidden.size(2)}, hidden.options());
    last.narrow(0, first, rows).copy_(hidden.select(1, groupWidth - 1));
    if (onHidden) {
      if (!all.defined()) all = torch::zeros({batch, width, hidden.size(2)}, hidden.options());
      all.narrow(1, offset, groupWidth).index_copy_(0, longTensor(members, device), hidden);
    }
  }
  if (onHidden) {
    // After the groups: their padding columns may cover where a shorter row's shared prefix goes.
    for (int64_t b = 0; shared > 0 && b < batch; ++b) all[b].narrow(0, layout.padLeft[b], shared).copy_(prefixHidden[0]);
    onHidden(all);
  }
  return last;
}

}  // namespace greater
