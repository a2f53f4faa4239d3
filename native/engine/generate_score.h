// Selection's scoring without a second forward over the whole sequence: greedy reasoning whose KV caches are
// kept, then the tokens that follow each row's reasoning (extractor, answer) run through those caches, and
// the answer is scored from those few positions. With the prompt's NLL read from the prefill, the result per
// row equals scoreAnswers over prompt ⊕ generated ⊕ continuation.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/cancel.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/token_batch.h"

namespace greater {

// A generation whose caches are kept until its continuations are scored.
struct RetainedGeneration {
  const Model* model = nullptr;   // the model it was generated with (its caches fit no other)
  TokenRows prompts;
  GenerateResult generated;
  std::vector<float> promptNll;   // per row: mean NLL over promptSpans[b] (no temperature); 0 for an empty span
  GreedyTrace trace;              // the caches; emptied by scoreContinuations
  bool consumed() const { return trace.pieces.empty(); }
};

// Greedy generation as generateGreedy (identical tokens), keeping every row's cache. promptSpans: per row, a
// half-open range of prompts[b] (start >= 1 unless empty) whose tokens' NLL is read from the prefill.
RetainedGeneration generateRetaining(const Model& model, const GenerateRequest& request,
                                     const std::vector<Span>& promptSpans, const CancelFlag* cancel);

struct ContinuationRequest {
  TokenRows continuations;        // per row: the tokens right after its generated tokens (may be empty)
  std::vector<Span> answerSpans;  // per row: non-empty range of continuations[b]; its token j is predicted
                                  // from the token before it (the last generated or prompt token for j = 0)
};

struct ContinuationScores {
  std::vector<float> answerLoss;    // per row: mean CE of the answer tokens (no temperature)
  std::vector<uint8_t> exactMatch;  // per row: 1 when the arg-max at every answer position is the gold token
};

// One batched forward of every row's continuation through its kept cache (lm_head only at the answer
// positions). Frees the caches, so it runs once per generation.
ContinuationScores scoreContinuations(const Model& model, RetainedGeneration& generation,
                                      const ContinuationRequest& request, const CancelFlag* cancel);

}  // namespace greater
