#include "engine/generate.h"

#include "engine/prefill.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace greater {

GenerateResult generateGreedy(const Model& model, const GenerateRequest& request, const CancelFlag* cancel,
                              GreedyTrace* trace) {
  const std::string op = "generate";
  const auto& prompts = request.prompts;
  checkRows(prompts, 1, op + ": prompts");
  checkTokenIds(prompts, model.config().vocabSize, op + ": prompts");
  checkTokenIds(request.stopTokenIds, model.config().vocabSize, op + ": stopTokenIds");
  if (request.maxNewTokens < 0) throw std::invalid_argument(op + ": maxNewTokens must be >= 0");
  checkPositions(prompts, request.maxNewTokens, model.config().maxPositionEmbeddings, op + ": prompts");

  const int64_t batch = static_cast<int64_t>(prompts.size());
  GenerateResult result;
  result.tokens.assign(batch, {});
  result.stopped.assign(batch, false);
  if (request.maxNewTokens == 0 && !trace) return result;
  throwIfCancelled(cancel, op);

  std::set<int64_t> stops(request.stopTokenIds.begin(), request.stopTokenIds.end());
  if (request.useModelEos) stops.insert(model.config().eosTokenIds.begin(), model.config().eosTokenIds.end());

  c10::InferenceMode inference;
  const auto device = model.device();
  const PromptLayout layout = planPromptLayout(prompts, device);
  const int64_t promptWidth = layout.width;
  // The last new token is never fed back, so the cache needs promptWidth + maxNewTokens - 1 slots.
  const int64_t capacity = promptWidth + std::max<int64_t>(request.maxNewTokens - 1, 0);
  auto cache = model.makeCache(batch, capacity);  // its rows in layout.order (rowOf below)
  setSlotTables(*cache, layout);

  std::function<void(const torch::Tensor&)> onPrefillHidden;
  if (trace) {
    trace->padLeft = layout.padLeft;
    trace->fedTokens.assign(batch, 0);
    trace->promptWidth = promptWidth;
    trace->pieces.clear();
    if (trace->onPrefill) onPrefillHidden = [&](const torch::Tensor& hidden) { trace->onPrefill(hidden, layout.padLeft); };
  }
  // Every row's last prompt token sits at slot promptWidth - 1; generated tokens follow from there.
  auto last = prefill(model, prompts, layout, *cache, onPrefillHidden, cancel, op);  // [batch, hidden], cache order
  auto next = model.greedyTokens(last);                                              // [batch]

  std::vector<int64_t> rowOf = layout.order;  // cache row -> caller's row
  for (int64_t step = 0;; ++step) {
    auto chosen = next.to(torch::kCPU);
    const int64_t* chosenData = chosen.data_ptr<int64_t>();
    std::vector<int64_t> keep;
    for (int64_t r = 0; r < static_cast<int64_t>(rowOf.size()); ++r) {
      const int64_t row = rowOf[r];
      if (result.stopped[row] || static_cast<int64_t>(result.tokens[row].size()) >= request.maxNewTokens) continue;
      if (stops.count(chosenData[r])) {
        result.stopped[row] = true;
        continue;
      }
      result.tokens[row].push_back(chosenData[r]);
      if (static_cast<int64_t>(result.tokens[row].size()) < request.maxNewTokens) keep.push_back(r);
    }
    const int64_t current = static_cast<int64_t>(rowOf.size());
    const int64_t written = promptWidth + step;  // slots [0, written) hold every running row's tokens so far
    // With a trace, rows leaving the batch keep their cache: the slots written so far, as one piece.
    auto keepLeavingRows = [&](const std::vector<int64_t>& leaving) {
      if (!trace || leaving.empty()) return;
      GreedyTrace::Piece piece;
      for (int64_t r : leaving) piece.rows.push_back(rowOf[r]);
      piece.cache = cache->copyRows(longTensor(leaving, device), written);
      trace->pieces.push_back(std::move(piece));
    };
    if (keep.empty()) {
      std::vector<int64_t> all(current);
      for (int64_t r = 0; r < current; ++r) all[r] = r;
      keepLeavingRows(all);
      break;
    }
    throwIfCancelled(cancel, op);
    if (trace)
      for (int64_t r : keep) ++trace->fedTokens[rowOf[r]];  // fed back below, at slot `written`

    // Drop finished rows once a quarter of the batch is done: one cache copy buys cheaper steps after it.
    if (static_cast<int64_t>(keep.size()) * 4 <= current * 3) {
      std::vector<int64_t> leaving;
      for (int64_t r = 0, k = 0; r < current; ++r) {
        if (k < static_cast<int64_t>(keep.size()) && keep[k] == r)
          ++k;
        else
          leaving.push_back(r);
      }
      keepLeavingRows(leaving);
      auto keepTensor = longTensor(keep, device);
      cache->keepRows(keepTensor);
      next = next.index_select(0, keepTensor);
      std::vector<int64_t> kept;
      for (int64_t r : keep) kept.push_back(rowOf[r]);
      rowOf = std::move(kept);
    }

    const int64_t slot = written;  // where the token chosen at this step is written
    auto queryPositions = cache->slotPositions().narrow(1, slot, 1);  // [rows, 1]
    auto attention = model.attentionInputs(queryPositions, slot, cache->slotPositions().narrow(1, 0, slot + 1),
                                           cache->slotValid().narrow(1, 0, slot + 1));
    auto hidden = model.decode(model.embed(next.unsqueeze(1)), attention, cache.get(), slot);  // [rows, 1, hidden]
    next = model.greedyTokens(hidden.select(1, 0));
  }
  return result;
}

}  // namespace greater
