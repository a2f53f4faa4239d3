#include "engine/greater_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "engine/logit_chunks.h"

namespace greater {

namespace {

void checkBatchSize(size_t got, size_t batch, const std::string& name, const std::string& op) {
  if (got != batch)
    throw std::invalid_argument(op + ": " + name + " has " + std::to_string(got) + " entries but sequences has " +
                                std::to_string(batch) + " rows");
}

// Which hidden states predict which tokens, for one span per row, in a [batch, width] layout.
struct SpanTargets {
  std::vector<int64_t> flatIndex;  // hidden state row in [batch * width]
  std::vector<int64_t> targets;    // token it should predict
  std::vector<int64_t> rows;       // batch row of each entry
};

SpanTargets collectSpans(const TokenRows& sequences, const std::vector<Span>& spans, int64_t width) {
  SpanTargets out;
  for (size_t b = 0; b < spans.size(); ++b)
    for (int64_t j = spans[b].start; j < spans[b].end; ++j) {
      out.flatIndex.push_back(static_cast<int64_t>(b) * width + j - 1);
      out.targets.push_back(sequences[b][j]);
      out.rows.push_back(static_cast<int64_t>(b));
    }
  return out;
}

// Everything needed to run a batch of full sequences and read the answer and prompt predictions.
struct SequenceBatch {
  PaddedTokens padded;
  int64_t width = 0;
  SpanTargets answer;
  SpanTargets prompt;
};

SequenceBatch prepareSequences(const Model& model, const TokenRows& sequences, const std::vector<Span>& answerSpans,
                               const std::vector<Span>& promptSpans, const std::vector<int64_t>* positions,
                               const std::string& op) {
  checkRows(sequences, 1, op + ": sequences");
  checkTokenIds(sequences, model.config().vocabSize, op + ": sequences");
  checkPositions(sequences, 0, model.config().maxPositionEmbeddings, op + ": sequences");
  // A span predicts tokens start..end-1 from the hidden states one slot earlier, so start >= 1.
  checkSpans(sequences, "sequences", answerSpans, "answerSpans", {/*allowEmpty=*/false, /*needsPredecessor=*/true}, op);
  checkSpans(sequences, "sequences", promptSpans, "promptSpans", {/*allowEmpty=*/true, /*needsPredecessor=*/true}, op);
  SequenceBatch out;
  // Tokens after the last one read cannot influence it (causal attention): run only up to there.
  int64_t width = 1;
  for (size_t b = 0; b < sequences.size(); ++b) {
    width = std::max({width, answerSpans[b].end, promptSpans[b].end});
    if (positions) width = std::max(width, (*positions)[b] + 1);
  }
  TokenRows truncated;
  for (const auto& row : sequences)
    truncated.emplace_back(row.begin(), row.begin() + std::min<int64_t>(width, static_cast<int64_t>(row.size())));
  out.width = width;
  out.padded = padRows(truncated, width, /*left=*/false, model.device());
  out.answer = collectSpans(sequences, answerSpans, width);
  out.prompt = collectSpans(sequences, promptSpans, width);
  return out;
}

}  // namespace

TokenRows topCandidates(const Model& model, const CandidateRequest& request, const CancelFlag* cancel) {
  ReleaseFreedMemoryOnExit releaseOnExit;  // first declared: runs after every tensor below is freed
  const std::string op = "topCandidates";
  const auto& sequences = request.sequences;
  const int64_t vocab = model.config().vocabSize;
  checkRows(sequences, 1, op + ": sequences");
  checkTokenIds(sequences, vocab, op + ": sequences");
  checkPositions(sequences, 0, model.config().maxPositionEmbeddings, op + ": sequences");
  checkBatchSize(request.positions.size(), sequences.size(), "positions", op);
  const int64_t batch = static_cast<int64_t>(sequences.size());
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t i = request.positions[b], length = static_cast<int64_t>(sequences[b].size());
    if (i < 1 || i > length)
      throw std::invalid_argument(op + ": positions[" + std::to_string(b) + "] = " + std::to_string(i) +
                                  " must lie in [1, " + std::to_string(length) + "] (the logits at position i - 1 propose token i)");
  }
  if (request.k < 1) throw std::invalid_argument(op + ": k must be at least 1, got " + std::to_string(request.k));
  if (static_cast<int64_t>(request.disallowedMask.size()) > vocab)
    throw std::invalid_argument(op + ": disallowed mask has " + std::to_string(request.disallowedMask.size()) +
                                " entries, more than the vocabulary size " + std::to_string(vocab));
  checkTokenIds(request.disallowedIds, vocab, op + ": disallowed");
  if (!request.exclude.empty()) {
    checkBatchSize(request.exclude.size(), sequences.size(), "exclude", op);
    checkTokenIds(request.exclude, vocab, op + ": exclude");
  }
  throwIfCancelled(cancel, op);

  c10::InferenceMode inference;
  const auto device = model.device();
  // Each row only needs its tokens before i.
  int64_t width = 0;
  TokenRows prefixes;
  for (int64_t b = 0; b < batch; ++b) {
    prefixes.emplace_back(sequences[b].begin(), sequences[b].begin() + request.positions[b]);
    width = std::max(width, request.positions[b]);
  }
  const PaddedTokens padded = padRows(prefixes, width, /*left=*/false, device);
  auto attention = model.attentionInputs(padded.positions, 0, padded.positions, padded.valid);
  auto hidden = model.decode(model.embed(padded.ids), attention, nullptr, 0);  // [batch, width, hidden]
  std::vector<int64_t> readAt;
  for (int64_t b = 0; b < batch; ++b) readAt.push_back(b * width + request.positions[b] - 1);
  auto selected = hidden.reshape({batch * width, hidden.size(2)}).index_select(0, longTensor(readAt, device));
  auto logits = model.logits(selected).to(torch::kFloat32);  // [batch, vocab]

  // Disallowed everywhere: the mask (ids past its end too, when it is given) and the id list.
  auto blocked = torch::zeros({vocab}, torch::kBool);
  auto blockedData = blocked.accessor<bool, 1>();
  if (!request.disallowedMask.empty())
    for (int64_t id = 0; id < vocab; ++id)
      blockedData[id] = id >= static_cast<int64_t>(request.disallowedMask.size()) || request.disallowedMask[id] != 0;
  for (int64_t id : request.disallowedIds) blockedData[id] = true;
  auto rowBlocked = blocked.unsqueeze(0).repeat({batch, 1});  // [batch, vocab]
  auto rowBlockedData = rowBlocked.accessor<bool, 2>();
  for (size_t b = 0; b < request.exclude.size(); ++b)
    for (int64_t id : request.exclude[b]) rowBlockedData[b][id] = true;
  logits = logits.masked_fill(rowBlocked.to(device), -std::numeric_limits<float>::infinity());

  auto [values, indices] = logits.topk(std::min(request.k, vocab), -1);  // [batch, k], best first
  values = values.to(torch::kCPU);
  indices = indices.to(torch::kCPU);
  auto valueData = values.accessor<float, 2>();
  auto indexData = indices.accessor<int64_t, 2>();
  TokenRows out(batch);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < values.size(1); ++j)
      if (valueData[b][j] > -std::numeric_limits<float>::infinity()) out[b].push_back(indexData[b][j]);
  return out;
}

GradientResult oneHotGradient(const Model& model, const GradientRequest& request, const CancelFlag* cancel) {
  ReleaseFreedMemoryOnExit releaseOnExit;  // first declared: runs after every tensor below is freed
  const std::string op = "oneHotGradient";
  const auto& sequences = request.sequences;
  checkRows(sequences, 1, op + ": sequences");
  checkBatchSize(request.positions.size(), sequences.size(), "positions", op);
  const int64_t batch = static_cast<int64_t>(sequences.size());
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t i = request.positions[b], length = static_cast<int64_t>(sequences[b].size());
    if (i < 0 || i >= length)
      throw std::invalid_argument(op + ": positions[" + std::to_string(b) + "] = " + std::to_string(i) +
                                  " is outside sequences[" + std::to_string(b) + "] (length " + std::to_string(length) + ")");
  }
  if (request.candidates.empty()) throw std::invalid_argument(op + ": candidates is empty");
  checkTokenIds(request.candidates, model.config().vocabSize, op + ": candidates");
  if (!(request.temperature > 0) || !std::isfinite(request.temperature))
    throw std::invalid_argument(op + ": temperature must be a positive finite number");
  if (!std::isfinite(request.controlWeight))
    throw std::invalid_argument(op + ": controlWeight must be a finite number, got " + std::to_string(request.controlWeight));
  const int64_t C = static_cast<int64_t>(request.candidates.size());
  std::vector<int64_t> currentIndex(batch);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t current = sequences[b][request.positions[b]];
    auto found = std::find(request.candidates.begin(), request.candidates.end(), current);
    if (found == request.candidates.end())
      throw std::invalid_argument(op + ": candidates must contain each row's current token, but lack " + std::to_string(current) +
                                  " = sequences[" + std::to_string(b) + "][positions[" + std::to_string(b) + "]]");
    currentIndex[b] = found - request.candidates.begin();
  }
  const SequenceBatch prepared =
      prepareSequences(model, sequences, request.answerSpans, request.promptSpans, &request.positions, op);
  throwIfCancelled(cancel, op);

  torch::AutoGradMode withGrad(true);
  const auto device = model.device();
  const int64_t width = prepared.width, hiddenSize = model.config().hiddenSize;

  // One one-hot leaf row per example: [batch, C], selecting the current token.
  auto onehot = torch::zeros({batch, C}, torch::kFloat32);
  for (int64_t b = 0; b < batch; ++b) onehot[b][currentIndex[b]] = 1.0f;
  onehot = onehot.to(device, model.dtype()).requires_grad_(true);

  auto embeddings = model.embedUnscaled(prepared.padded.ids);                                          // [batch, width, hidden]
  auto candidateEmbeddings = model.embeddingMatrix().index_select(0, longTensor(request.candidates, device));  // [C, hidden]
  auto replacement = onehot.matmul(candidateEmbeddings);                                               // [batch, hidden]
  auto rows = torch::arange(batch, torch::TensorOptions().dtype(torch::kInt64).device(device));
  embeddings = embeddings.index_put({rows, longTensor(request.positions, device)}, replacement);
  embeddings = model.scaleEmbeddings(embeddings);

  auto attention = model.attentionInputs(prepared.padded.positions, 0, prepared.padded.positions, prepared.padded.valid);
  auto hidden = model.decode(embeddings, attention, nullptr, 0).reshape({batch * width, hiddenSize});  // [batch*width, hidden]

  // lm_head only where a loss term reads: the answer predictions, then the prompt predictions.
  const int64_t answerCount = static_cast<int64_t>(prepared.answer.flatIndex.size());
  const int64_t promptCount = static_cast<int64_t>(prepared.prompt.flatIndex.size());
  const int64_t readCount = answerCount + promptCount;
  std::vector<int64_t> readAt = prepared.answer.flatIndex, targets = prepared.answer.targets;
  readAt.insert(readAt.end(), prepared.prompt.flatIndex.begin(), prepared.prompt.flatIndex.end());
  targets.insert(targets.end(), prepared.prompt.targets.begin(), prepared.prompt.targets.end());
  auto selected = hidden.index_select(0, longTensor(readAt, device));  // [N, hidden], N = readCount
  const auto targetIds = longTensor(targets, device);                   // [N]

  // L_b = sum over b's answer tokens of nll / answerTokens_b + controlWeight * sum over its prompt tokens of
  // nll / promptTokens_b, so each read position's nll enters the summed loss with a weight of its own.
  std::vector<int64_t> answerTokens(batch, 0), promptTokens(batch, 0);
  for (int64_t b : prepared.answer.rows) ++answerTokens[b];
  for (int64_t b : prepared.prompt.rows) ++promptTokens[b];
  std::vector<float> weights;
  weights.reserve(readCount);
  for (int64_t b : prepared.answer.rows) weights.push_back(static_cast<float>(1.0 / answerTokens[b]));
  for (int64_t b : prepared.prompt.rows) weights.push_back(static_cast<float>(request.controlWeight / promptTokens[b]));
  const auto tokenWeights = torch::tensor(weights, torch::kFloat32).to(device);  // [N]

  // The loss through lm_head, a chunk of positions at a time: each chunk's hidden rows are a leaf of their
  // own, so a chunk's logits and their backward are freed before the next chunk starts. Every position lies
  // in exactly one chunk, so the chunks' gradients fill d(sum of losses) / d(selected) row by row.
  const auto detachedSelected = selected.detach();
  auto selectedGradient = torch::zeros_like(detachedSelected);                          // [N, hidden]
  auto nll = torch::empty({readCount}, torch::TensorOptions().dtype(torch::kFloat32).device(device));  // [N]
  const int64_t rowsPerChunk = logitRowsPerChunk(model.config().vocabSize);
  auto lossChunk = [&](int64_t start, int64_t count, double divisor, bool differentiate) {
    throwIfCancelled(cancel, op);
    torch::AutoGradMode chunkGrad(differentiate);
    auto chunkHidden = detachedSelected.narrow(0, start, count).detach().requires_grad_(differentiate);  // [n, hidden]
    auto chunkLogits = model.logits(chunkHidden).to(torch::kFloat32);                                  // [n, vocab]
    auto chunkNll = tokenNll(chunkLogits, targetIds.narrow(0, start, count), divisor);                 // [n]
    nll.narrow(0, start, count).copy_(chunkNll.detach());
    if (!differentiate) return;  // its rows of selectedGradient stay 0
    auto weighted = (chunkNll * tokenWeights.narrow(0, start, count)).sum();
    selectedGradient.narrow(0, start, count).copy_(torch::autograd::grad({weighted}, {chunkHidden})[0]);
  };
  // Answer logits are divided by the temperature, prompt logits are not; with controlWeight 0 the prompt
  // NLL is reported but has no gradient.
  const bool promptHasGradient = request.controlWeight != 0.0;
  forEachChunk(0, answerCount, rowsPerChunk,
               [&](int64_t start, int64_t count) { lossChunk(start, count, request.temperature, true); });
  forEachChunk(answerCount, readCount, rowsPerChunk,
               [&](int64_t start, int64_t count) { lossChunk(start, count, 1.0, promptHasGradient); });

  auto answerLoss = rowMean(nll.narrow(0, 0, answerCount), longTensor(prepared.answer.rows, device), batch);  // [batch]
  torch::Tensor promptNll = torch::zeros({batch}, nll.options());
  if (promptCount > 0) promptNll = rowMean(nll.narrow(0, answerCount, promptCount), longTensor(prepared.prompt.rows, device), batch);
  auto losses = answerLoss + request.controlWeight * promptNll;  // [batch]

  // One backward through the decoder, from the selected hidden rows to the one-hots.
  throwIfCancelled(cancel, op);
  auto gradient = torch::autograd::grad({selected}, {onehot}, {selectedGradient})[0];  // [batch, C]

  GradientResult result;
  result.candidateCount = C;
  result.gradients = toFloatVector(gradient);
  result.losses = toFloatVector(losses);
  result.answerLosses = toFloatVector(answerLoss);
  result.promptNll = toFloatVector(promptNll);
  return result;
}

ScoreResult scoreAnswers(const Model& model, const ScoreRequest& request, const CancelFlag* cancel) {
  ReleaseFreedMemoryOnExit releaseOnExit;  // first declared: runs after every tensor below is freed
  const std::string op = "scoreAnswers";
  const SequenceBatch prepared = prepareSequences(model, request.sequences, request.answerSpans, request.promptSpans, nullptr, op);
  throwIfCancelled(cancel, op);

  c10::InferenceMode inference;
  const auto device = model.device();
  const int64_t batch = static_cast<int64_t>(request.sequences.size());
  const int64_t width = prepared.width;
  auto attention = model.attentionInputs(prepared.padded.positions, 0, prepared.padded.positions, prepared.padded.valid);
  auto hidden = model.decode(model.embed(prepared.padded.ids), attention, nullptr, 0).reshape({batch * width, -1});

  const int64_t answerCount = static_cast<int64_t>(prepared.answer.flatIndex.size());
  const int64_t promptCount = static_cast<int64_t>(prepared.prompt.flatIndex.size());
  std::vector<int64_t> readAt = prepared.answer.flatIndex, targets = prepared.answer.targets;
  readAt.insert(readAt.end(), prepared.prompt.flatIndex.begin(), prepared.prompt.flatIndex.end());
  targets.insert(targets.end(), prepared.prompt.targets.begin(), prepared.prompt.targets.end());
  auto selected = hidden.index_select(0, longTensor(readAt, device));  // [N, hidden]: answers, then prompts
  const auto targetIds = longTensor(targets, device);                   // [N]

  torch::Tensor misses;  // [answers] 1 where the arg-max is not the gold token
  auto nll = chunkedTokenNll(model, selected, targetIds, answerCount, &misses, cancel, op);  // [N]

  auto answerRows = longTensor(prepared.answer.rows, device);
  auto answerLoss = rowMean(nll.narrow(0, 0, answerCount), answerRows, batch);  // [batch]
  auto missCount = torch::zeros({batch}, misses.options()).index_add(0, answerRows, misses);
  torch::Tensor promptNll = torch::zeros({batch}, nll.options());
  if (promptCount > 0) promptNll = rowMean(nll.narrow(0, answerCount, promptCount), longTensor(prepared.prompt.rows, device), batch);

  ScoreResult result;
  result.answerLoss = toFloatVector(answerLoss);
  result.promptNll = toFloatVector(promptNll);
  auto exact = (missCount == 0).to(torch::kCPU);
  for (int64_t b = 0; b < batch; ++b) result.exactMatch.push_back(exact[b].item<bool>() ? 1 : 0);
  return result;
}

}  // namespace greater
