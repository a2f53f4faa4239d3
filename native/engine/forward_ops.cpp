#include "engine/forward_ops.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>

#include "engine/logit_chunks.h"

namespace greater {

LogProbsResult computeLogProbs(const Model& model, const LogProbsRequest& request, const CancelFlag* cancel) {
  ReleaseFreedMemoryOnExit releaseOnExit;  // first declared: runs after every tensor below is freed
  const std::string op = "logits";
  const auto& ids = request.inputIds;
  checkRows(ids, 1, op + ": inputIds");
  const int64_t batch = static_cast<int64_t>(ids.size());
  const int64_t width = static_cast<int64_t>(ids[0].size());
  const int64_t vocab = model.config().vocabSize;
  for (int64_t b = 0; b < batch; ++b)
    if (static_cast<int64_t>(ids[b].size()) != width)
      throw std::invalid_argument(op + ": inputIds[" + std::to_string(b) + "] has " + std::to_string(ids[b].size()) +
                                  " tokens but inputIds[0] has " + std::to_string(width) + " (rows must be padded to one width)");
  checkTokenIds(ids, vocab, op + ": inputIds");
  checkPositions(ids, 0, model.config().maxPositionEmbeddings, op + ": inputIds");

  // Mask and rope positions, on the CPU first.
  auto mask = torch::ones({batch, width}, torch::kBool);
  if (!request.attentionMask.empty()) {
    if (static_cast<int64_t>(request.attentionMask.size()) != batch)
      throw std::invalid_argument(op + ": attentionMask has " + std::to_string(request.attentionMask.size()) + " rows, inputIds " + std::to_string(batch));
    auto m = mask.accessor<bool, 2>();
    for (int64_t b = 0; b < batch; ++b) {
      const auto& row = request.attentionMask[b];
      if (static_cast<int64_t>(row.size()) != width)
        throw std::invalid_argument(op + ": attentionMask[" + std::to_string(b) + "] has " + std::to_string(row.size()) + " entries, inputIds[" + std::to_string(b) + "] " + std::to_string(width));
      bool any = false;
      for (int64_t j = 0; j < width; ++j) {
        if (row[j] > 1) throw std::invalid_argument(op + ": attentionMask[" + std::to_string(b) + "][" + std::to_string(j) + "] must be 0 or 1");
        m[b][j] = row[j] == 1;
        any |= row[j] == 1;
      }
      if (!any) throw std::invalid_argument(op + ": attentionMask[" + std::to_string(b) + "] masks every token");
    }
  }
  auto positions = (mask.to(torch::kInt64).cumsum(1) - 1).clamp_min(0);  // [batch, width]

  LogProbsResult result;
  auto m = mask.accessor<bool, 2>();
  if (request.lastPositions) {
    for (int64_t b = 0; b < batch; ++b) {
      int64_t last = width - 1;
      while (!m[b][last]) --last;
      result.positions.push_back({last});
    }
  } else {
    if (static_cast<int64_t>(request.positions.size()) != batch)
      throw std::invalid_argument(op + ": positions has " + std::to_string(request.positions.size()) + " rows, inputIds " + std::to_string(batch));
    for (int64_t b = 0; b < batch; ++b)
      for (size_t j = 0; j < request.positions[b].size(); ++j) {
        const int64_t c = request.positions[b][j];
        const std::string name = op + ": positions[" + std::to_string(b) + "][" + std::to_string(j) + "] = " + std::to_string(c);
        if (c < 0 || c >= width) throw std::invalid_argument(name + " is outside the row (width " + std::to_string(width) + ")");
        if (!m[b][c]) throw std::invalid_argument(name + " points at padding (attentionMask is 0 there)");
      }
    result.positions = request.positions;
  }
  const bool withTargets = !request.targets.empty();
  if (withTargets) {
    if (request.targets.size() != result.positions.size())
      throw std::invalid_argument(op + ": targets has " + std::to_string(request.targets.size()) + " rows, positions " + std::to_string(result.positions.size()));
    for (int64_t b = 0; b < batch; ++b)
      if (request.targets[b].size() != result.positions[b].size())
        throw std::invalid_argument(op + ": targets[" + std::to_string(b) + "] has " + std::to_string(request.targets[b].size()) +
                                    " ids but positions[" + std::to_string(b) + "] has " + std::to_string(result.positions[b].size()));
    checkTokenIds(request.targets, vocab, op + ": targets");
  }

  std::vector<int64_t> flatIndex;
  std::vector<int64_t> targetIds;
  int64_t needed = 1;  // later columns cannot influence earlier ones: run only up to the last one read
  for (int64_t b = 0; b < batch; ++b)
    for (size_t j = 0; j < result.positions[b].size(); ++j) needed = std::max(needed, result.positions[b][j] + 1);
  for (int64_t b = 0; b < batch; ++b)
    for (size_t j = 0; j < result.positions[b].size(); ++j) {
      flatIndex.push_back(b * needed + result.positions[b][j]);
      if (withTargets) targetIds.push_back(request.targets[b][j]);
    }
  if (flatIndex.empty()) return result;
  throwIfCancelled(cancel, op);

  c10::InferenceMode inference;
  const auto device = model.device();
  auto idsTensor = torch::empty({batch, width}, torch::kInt64);
  auto idAccess = idsTensor.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < width; ++j) idAccess[b][j] = ids[b][j];
  idsTensor = idsTensor.narrow(1, 0, needed).to(device);
  auto maskTensor = mask.narrow(1, 0, needed).to(device);
  auto positionTensor = positions.narrow(1, 0, needed).to(device);

  auto attention = model.attentionInputs(positionTensor, 0, positionTensor, maskTensor);
  auto hidden = model.decode(model.embed(idsTensor), attention, nullptr, 0);  // [batch, needed, hidden]
  auto index = longTensor(flatIndex, device);
  auto selected = hidden.reshape({batch * needed, hidden.size(2)}).index_select(0, index);  // [N, hidden]
  // Log-softmax rows a chunk of positions at a time (see logit_chunks.h): only the read-outs, or the full rows
  // the caller asked for, outlive a chunk.
  const int64_t count = selected.size(0);
  result.topLogProbs.resize(count);
  result.topTokens.resize(count);
  if (withTargets) result.targetLogProbs.resize(count);
  if (request.full) result.full.resize(static_cast<size_t>(count) * vocab);
  const torch::Tensor targetTensor = withTargets ? longTensor(targetIds, device) : torch::Tensor();
  auto copyOut = [](const torch::Tensor& values, auto destination) {
    auto onCpu = values.to(torch::kCPU).contiguous();
    using Element = typename std::iterator_traits<decltype(destination)>::value_type;
    std::copy(onCpu.data_ptr<Element>(), onCpu.data_ptr<Element>() + onCpu.numel(), destination);
  };
  forEachChunk(0, count, logitRowsPerChunk(vocab), [&](int64_t start, int64_t rows) {
    auto logProbs = torch::log_softmax(model.logits(selected.narrow(0, start, rows)).to(torch::kFloat32), -1);  // [rows, vocab]
    auto [topValue, topIndex] = logProbs.max(-1);                                                              // [rows]
    copyOut(topValue, result.topLogProbs.begin() + start);
    copyOut(topIndex, result.topTokens.begin() + start);
    if (withTargets) copyOut(logProbs.gather(1, targetTensor.narrow(0, start, rows).unsqueeze(1)).squeeze(1), result.targetLogProbs.begin() + start);
    if (request.full) copyOut(logProbs, result.full.begin() + start * vocab);
  });
  return result;
}

}  // namespace greater
