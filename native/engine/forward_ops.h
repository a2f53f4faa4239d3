// The plain forward primitive: log-probabilities at chosen positions of a batch the caller padded itself.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/cancel.h"
#include "engine/model.h"
#include "engine/token_batch.h"

namespace greater {

struct LogProbsRequest {
  TokenRows inputIds;                               // [batch][width], rectangular, left or right padded
  std::vector<std::vector<uint8_t>> attentionMask;  // [batch][width] of 0/1; empty = every slot is real
  bool lastPositions = true;                        // one position per row: its last real token
  TokenRows positions;                              // else: per row, the columns to read (real tokens only)
  TokenRows targets;                                // optional: per row, one target id per position
  bool full = false;                                // also return the full log-softmax rows
};

struct LogProbsResult {
  TokenRows positions;                // the columns read, per row (resolved for lastPositions)
  std::vector<int64_t> topTokens;     // flat over rows then positions: arg-max token
  std::vector<float> topLogProbs;     // its log-probability
  std::vector<float> targetLogProbs;  // when targets were given: log-probability of each target
  std::vector<float> full;            // when full: [positions total, vocab] row-major
};

// Rope positions count real tokens (cumsum of the mask - 1), so a padded row reads the same as the row alone.
// The log-probabilities at column c are those of the token following column c.
LogProbsResult computeLogProbs(const Model& model, const LogProbsRequest& request, const CancelFlag* cancel);

}  // namespace greater
