#include "engine/generate_score.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "engine/logit_chunks.h"

namespace greater {

RetainedGeneration generateRetaining(const Model& model, const GenerateRequest& request,
                                     const std::vector<Span>& promptSpans, const CancelFlag* cancel) {
  const std::string op = "generate";
  const auto& prompts = request.prompts;
  checkRows(prompts, 1, op + ": prompts");
  checkSpans(prompts, "prompts", promptSpans, "promptSpans", {/*allowEmpty=*/true, /*needsPredecessor=*/true}, op);

  ReleaseFreedMemoryOnExit releaseFreedMemory;
  RetainedGeneration out;
  out.model = &model;
  out.prompts = prompts;
  const int64_t batch = static_cast<int64_t>(prompts.size());
  out.promptNll.assign(batch, 0.0f);
  out.trace.onPrefill = [&](const torch::Tensor& hidden, const std::vector<int64_t>& padLeft) {
    // Row b's token j (j >= 1) is predicted by the prefill's column padLeft[b] + j - 1.
    const int64_t width = hidden.size(1);
    std::vector<int64_t> readAt, targets, rows;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = promptSpans[b].start; j < promptSpans[b].end; ++j) {
        readAt.push_back(b * width + padLeft[b] + j - 1);
        targets.push_back(prompts[b][j]);
        rows.push_back(b);
      }
    if (readAt.empty()) return;
    const auto device = hidden.device();
    auto selected = hidden.reshape({batch * width, hidden.size(2)}).index_select(0, longTensor(readAt, device));  // [N, hidden]
    auto nll = chunkedTokenNll(model, selected, longTensor(targets, device), 0, nullptr, cancel, op);          // [N]
    out.promptNll = toFloatVector(rowMean(nll, longTensor(rows, device), batch));
  };
  out.generated = generateGreedy(model, request, cancel, &out.trace);
  out.trace.onPrefill = nullptr;  // it refers to this frame
  return out;
}

ContinuationScores scoreContinuations(const Model& model, RetainedGeneration& generation,
                                      const ContinuationRequest& request, const CancelFlag* cancel) {
  const std::string op = "scoreContinuations";
  if (generation.model != &model) throw std::invalid_argument(op + ": the generation was made with another model");
  if (generation.consumed()) throw std::invalid_argument(op + ": this generation's caches were already used or released");
  const auto& prompts = generation.prompts;
  const auto& generated = generation.generated.tokens;
  const auto& continuations = request.continuations;
  const int64_t batch = static_cast<int64_t>(prompts.size());
  for (const auto& [name, count] : {std::pair<std::string, size_t>{"continuations", continuations.size()},
                                    {"answerSpans", request.answerSpans.size()}})
    if (static_cast<int64_t>(count) != batch)
      throw std::invalid_argument(op + ": " + name + " has " + std::to_string(count) + " entries but the generation has " +
                                  std::to_string(batch) + " rows");
  checkTokenIds(continuations, model.config().vocabSize, op + ": continuations");
  // A continuation's first token is predicted by the last generated one: its answer span may start at 0.
  checkSpans(continuations, "continuations", request.answerSpans, "answerSpans", {/*allowEmpty=*/false, /*needsPredecessor=*/false}, op);
  throwIfCancelled(cancel, op);

  ReleaseFreedMemoryOnExit releaseFreedMemory;
  c10::InferenceMode inference;
  const auto device = model.device();
  const GreedyTrace& trace = generation.trace;

  // Per row, the tail run through the cache: its last cached token again (its hidden state predicts what
  // follows; its old slot is masked), any generated token never fed back, then the continuation up to the
  // answer's end (later tokens cannot influence the answer).
  TokenRows tails(batch);
  std::vector<int64_t> cached(batch), pending(batch), keepUntil(batch);
  int64_t base = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t fed = trace.fedTokens[b];
    cached[b] = static_cast<int64_t>(prompts[b].size()) + fed;
    pending[b] = static_cast<int64_t>(generated[b].size()) - fed;
    keepUntil[b] = trace.padLeft[b] + cached[b] - 1;
    base = std::max(base, keepUntil[b]);
    tails[b].push_back(fed > 0 ? generated[b][fed - 1] : prompts[b].back());
    tails[b].insert(tails[b].end(), generated[b].begin() + fed, generated[b].end());
    tails[b].insert(tails[b].end(), continuations[b].begin(), continuations[b].begin() + request.answerSpans[b].end);
  }
  const int64_t tailWidth = maxLength(tails);

  // One cache for all rows: each piece's rows in place, tails in common slots [base, base + tailWidth).
  int64_t capacity = base + tailWidth;
  for (const auto& piece : trace.pieces) capacity = std::max(capacity, piece.cache->capacity());
  auto cache = model.makeCache(batch, capacity);
  for (auto& piece : generation.trace.pieces) {
    cache->placeRows(*piece.cache, longTensor(piece.rows, device));
    piece.cache.reset();  // frees as it goes: the pieces and the whole cache coexist only briefly
  }
  generation.trace.pieces.clear();
  throwIfCancelled(cancel, op);

  const auto longOptions = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const PaddedTokens padded = padRows(tails, tailWidth, /*left=*/false, device);
  auto tailPositions = padded.positions + longTensor(cached, device).sub(1).unsqueeze(1);  // [batch, tailWidth]
  auto slots = torch::arange(capacity, longOptions).unsqueeze(0);                         // [1, capacity]
  // A row keeps its prompt and fed tokens but the last; later slots hold tokens decoded after it finished.
  cache->slotValid().logical_and_(slots < longTensor(keepUntil, device).unsqueeze(1));
  cache->slotValid().narrow(1, base, tailWidth).copy_(padded.valid);
  cache->slotPositions().narrow(1, base, tailWidth).copy_(tailPositions);

  const int64_t span = base + tailWidth;
  auto attention = model.attentionInputs(tailPositions, base, cache->slotPositions().narrow(1, 0, span),
                                         cache->slotValid().narrow(1, 0, span));
  auto hidden = model.decode(model.embed(padded.ids), attention, cache.get(), base);  // [batch, tailWidth, hidden]

  // Continuation token j sits at tail index 1 + pending + j and is predicted one index earlier.
  std::vector<int64_t> readAt, targets, rows;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = request.answerSpans[b].start; j < request.answerSpans[b].end; ++j) {
      readAt.push_back(b * tailWidth + pending[b] + j);
      targets.push_back(continuations[b][j]);
      rows.push_back(b);
    }
  auto selected = hidden.reshape({batch * tailWidth, hidden.size(2)}).index_select(0, longTensor(readAt, device));  // [N, hidden]
  torch::Tensor misses;  // [N] 1 where the arg-max is not the gold token
  auto nll = chunkedTokenNll(model, selected, longTensor(targets, device), static_cast<int64_t>(readAt.size()), &misses, cancel, op);  // [N]
  auto rowTensor = longTensor(rows, device);
  auto answerLoss = rowMean(nll, rowTensor, batch);
  auto missCount = torch::zeros({batch}, misses.options()).index_add(0, rowTensor, misses).to(torch::kCPU);

  ContinuationScores result;
  result.answerLoss = toFloatVector(answerLoss);
  auto missData = missCount.accessor<float, 1>();
  for (int64_t b = 0; b < batch; ++b) result.exactMatch.push_back(missData[b] == 0 ? 1 : 0);
  return result;
}

}  // namespace greater
