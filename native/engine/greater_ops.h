// The GReaTer primitives: candidate proposal, the one-hot gradient over reasoning, and selection scoring.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/cancel.h"
#include "engine/model.h"
#include "engine/token_batch.h"

namespace greater {

struct CandidateRequest {
  TokenRows sequences;
  std::vector<int64_t> positions;     // per row: prompt position i (1 <= i <= length); reads the logits at i - 1
  int64_t k = 0;
  std::vector<uint8_t> disallowedMask;  // optional: per token id, nonzero = never proposed; ids past its end too
  std::vector<int64_t> disallowedIds;   // optional: further ids never proposed
  TokenRows exclude;                    // optional: per row, ids not proposed for that row
};

// Per row: up to k ids, best first (fewer when fewer are allowed).
TokenRows topCandidates(const Model& model, const CandidateRequest& request, const CancelFlag* cancel);

struct GradientRequest {
  TokenRows sequences;
  std::vector<int64_t> positions;   // per row: the position whose embedding becomes onehot . E[candidates]
  std::vector<int64_t> candidates;  // shared by all rows; must hold each row's current token
  std::vector<Span> answerSpans;    // per row, non-empty, start >= 1
  std::vector<Span> promptSpans;    // per row, start >= 1 unless empty
  double temperature = 1.0;
  double controlWeight = 0.0;
};

struct GradientResult {
  int64_t candidateCount = 0;
  std::vector<float> gradients;     // [batch, candidates] row-major: dL_b / d onehot_b
  std::vector<float> losses;        // [batch]: answerLosses + controlWeight * promptNll
  std::vector<float> answerLosses;  // [batch]: mean CE of answer tokens with logits / temperature
  std::vector<float> promptNll;     // [batch]: mean NLL of prompt tokens (no temperature); 0 for an empty span
};

// One forward and one backward for the whole batch. Row b's one-hot is its own leaf; the backward runs on
// the sum of the row losses, and since row b's loss depends only on its own one-hot, the gradient's row b
// is exactly dL_b / d onehot_b. The replaced embedding is scaled like any other (Gemma2: * sqrt(hidden)),
// so at the one-hot of the current token the forward equals the plain forward.
GradientResult oneHotGradient(const Model& model, const GradientRequest& request, const CancelFlag* cancel);

struct ScoreRequest {
  TokenRows sequences;
  std::vector<Span> answerSpans;
  std::vector<Span> promptSpans;
};

struct ScoreResult {
  std::vector<float> answerLoss;     // [batch] mean CE of answer tokens (no temperature)
  std::vector<uint8_t> exactMatch;   // [batch] 1 when the arg-max at every answer position is the gold token
  std::vector<float> promptNll;      // [batch] mean NLL of prompt tokens; 0 for an empty span
};

ScoreResult scoreAnswers(const Model& model, const ScoreRequest& request, const CancelFlag* cancel);

}  // namespace greater
