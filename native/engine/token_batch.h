// Ragged token rows (what callers pass) to padded tensors (what the decoder runs on), plus the argument
// checks every operation shares. Errors name the operation and the argument, e.g. "generate: prompts[2][5]".
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace greater {

using TokenRows = std::vector<std::vector<int64_t>>;

struct Span {
  int64_t start = 0;  // half-open [start, end)
  int64_t end = 0;
};

struct PaddedTokens {
  torch::Tensor ids;        // [batch, width] int64; padding slots hold token 0
  torch::Tensor valid;      // [batch, width] bool: the slot holds a real token
  torch::Tensor positions;  // [batch, width] int64 rope positions: real tokens count from 0 per row; pads 0
  std::vector<int64_t> padLeft;  // per row: slots of padding before its first token
  int64_t width = 0;
};

// Pads rows to `width` (>= every row's length) on the left or the right, on `device`.
PaddedTokens padRows(const TokenRows& rows, int64_t width, bool left, const torch::Device& device);

// Throws unless every id lies in [0, vocab). `what` is "operation: argument".
void checkTokenIds(const TokenRows& rows, int64_t vocab, const std::string& what);
void checkTokenIds(const std::vector<int64_t>& ids, int64_t vocab, const std::string& what);
// Throws unless the batch is non-empty and every row has at least `minLength` tokens.
void checkRows(const TokenRows& rows, int64_t minLength, const std::string& what);
// Throws when a row, with `extra` more tokens after it (new tokens to generate), would need a rope position at or
// beyond `maxPositions` (config.json's max_position_embeddings): past it the model was never trained and rope
// scaling no longer holds, so the results would be quietly wrong.
void checkPositions(const TokenRows& rows, int64_t extra, int64_t maxPositions, const std::string& what);

// How a span argument may lie in its row: `allowEmpty` (an empty span scores nothing), `needsPredecessor` (its
// tokens are predicted from the slot before each, inside the same row, so it cannot start at 0).
struct SpanRules {
  bool allowEmpty = false;
  bool needsPredecessor = true;
};

// The one check of span arguments: one span per row of `rows`, each a range inside its row under `rules`. Errors
// name both, e.g. "oneHotGradient: answerSpans[1] = [10, 30) is not a range inside sequences[1] (length 14)".
void checkSpans(const TokenRows& rows, const std::string& rowsName, const std::vector<Span>& spans, const std::string& spansName,
                SpanRules rules, const std::string& op);

int64_t maxLength(const TokenRows& rows);

// Copies a CPU float32 tensor's data into a vector.
std::vector<float> toFloatVector(const torch::Tensor& t);

// An int64 tensor [values.size()] of `values` on `device` (indices and target ids for the engine's ops).
torch::Tensor longTensor(const std::vector<int64_t>& values, const torch::Device& device);

}  // namespace greater
