// The decoder: one implementation of the Llama / Mistral / Qwen2 / Gemma2 family, switched by ModelConfig
// flags. Weights are loaded once onto the model's device and compute dtype and never require grad.
// Everything here is batched: hidden states are [batch, tokens, hidden]; every query token carries its own
// rope position, and attention visibility comes from explicit masks, so left padding, right padding and
// KV-cached decoding all go through the same code.
#pragma once
#include "engine/cancel.h"
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/argmax_screen.h"
#include "engine/config.h"
#include "engine/kv_cache.h"
#include "engine/packed_projection.h"

namespace greater {

// A norm layer. Llama-style: w * normalize(x).to(dtype). Gemma-style: (normalize(x) * (1 + w)) in float32,
// then cast (the weight is stored as 1 + w in float32 at load).
struct RmsNorm {
  torch::Tensor weight;
  bool multiplyInFloat32 = false;
  double eps = 1e-6;
  torch::Tensor operator()(const torch::Tensor& x) const;
};

struct DecoderLayer {
  RmsNorm attentionInputNorm;
  std::optional<RmsNorm> attentionOutputNorm;  // Gemma2's post_attention_layernorm
  RmsNorm mlpInputNorm;                        // Llama's post_attention_layernorm, Gemma2's pre_feedforward_layernorm
  std::optional<RmsNorm> mlpOutputNorm;        // Gemma2's post_feedforward_layernorm
  torch::Tensor qkvWeight;     // [(heads + 2 kv_heads) * head_dim, hidden]: q, k, v projections fused
  torch::Tensor qkvBias;       // [(heads + 2 kv_heads) * head_dim] or undefined
  torch::Tensor outputWeight;  // [hidden, heads * head_dim]
  torch::Tensor outputBias;    // [hidden] or undefined
  torch::Tensor gateUpWeight;  // [2 * intermediate, hidden]: gate and up projections fused
  torch::Tensor gateUpBias;    // [2 * intermediate] or undefined
  torch::Tensor downWeight;    // [hidden, intermediate]
  torch::Tensor downBias;      // [hidden] or undefined
  bool sliding = false;        // this layer uses the sliding-window mask
};

// What attention needs besides the hidden states, built once per forward for all layers.
struct AttentionInputs {
  torch::Tensor cos;          // [batch, 1, T, head_dim], compute dtype
  torch::Tensor sin;          // [batch, 1, T, head_dim]
  torch::Tensor fullMask;     // [batch, 1, T, S] bool, true where the query may attend the key
  torch::Tensor slidingMask;  // [batch, 1, T, S] bool, or undefined when no layer slides
};

class Model {
 public:
  // device: "cpu", "cuda", "cuda:N". dtype: "float32", "bfloat16", "float16", or "" for the default
  // (bfloat16 on CUDA, float32 on CPU). packOutputLayer: on the CPU in float32, run lm_head without gradient
  // on a packed copy of its weight (see logits()) and screen greedy decoding's arg-max on an int8 copy (see
  // greedyTokens()); false saves those copies' memory. checkFiniteWeights: refuse a checkpoint holding a NaN or an
  // infinity, naming the tensor (false only to study such weights on purpose).
  static std::shared_ptr<Model> load(const std::string& folder, const std::string& device, const std::string& dtype,
                                     bool packOutputLayer = true, bool checkFiniteWeights = true,
                                     const CancelFlag* cancel = nullptr);

  const ModelConfig& config() const { return config_; }
  torch::Device device() const { return device_; }
  c10::ScalarType dtype() const { return dtype_; }
  std::string deviceName() const;
  std::string dtypeName() const;
  int64_t parameterCount() const { return parameterCount_; }

  // The input embedding matrix E [vocab, hidden] (unscaled), in the compute dtype. With tied embeddings on
  // the CPU it is a transposed view of a contiguous [hidden, vocab] matrix (see lmHead_): not contiguous.
  const torch::Tensor& embeddingMatrix() const { return embedTokens_; }
  // Raw embedding rows for ids [batch, T] -> [batch, T, hidden], before scaleEmbeddings().
  torch::Tensor embedUnscaled(const torch::Tensor& ids) const;
  // Applies the architecture's embedding scale (Gemma2: sqrt(hidden) in the compute dtype) or nothing.
  torch::Tensor scaleEmbeddings(const torch::Tensor& embeddings) const;
  torch::Tensor embed(const torch::Tensor& ids) const { return scaleEmbeddings(embedUnscaled(ids)); }

  // Rope tables and masks. queryPositions [batch, T] (rope positions), queryOffset: slot of the first query
  // (queries occupy slots [queryOffset, queryOffset + T)); keyPositions / keyValid [batch, S]: rope position
  // of each key slot and whether it holds a real token. A query sees key slot s when s <= its own slot, the
  // key is valid, and (on sliding layers) query_position - key_position < window. Every query also sees its
  // own slot, so padding queries get finite (ignored) outputs instead of NaN.
  AttentionInputs attentionInputs(const torch::Tensor& queryPositions, int64_t queryOffset,
                                  const torch::Tensor& keyPositions, const torch::Tensor& keyValid) const;

  // Runs all decoder layers. hidden [batch, T, hidden] (already embedded and scaled). With a cache, the new
  // keys/values are written at slots [cacheOffset, cacheOffset + T) and attention reads slots
  // [0, cacheOffset + T); without one, the T tokens attend among themselves. Returns [batch, T, hidden]
  // before the final norm.
  torch::Tensor decode(torch::Tensor hidden, const AttentionInputs& attention, KVCache* cache, int64_t cacheOffset) const;

  // Final norm + lm_head (+ final soft-capping) for selected hidden states [N, hidden] -> logits [N, vocab]
  // in the compute dtype. On the CPU in float32, when no gradient is recorded, lm_head runs as oneDNN's inner
  // product on a packed copy of its weight (see packed_projection.h), made on the first such call.
  torch::Tensor logits(const torch::Tensor& hidden) const;
  // Whether logits() uses the packed copy.
  bool outputLayerPacked() const { return packedLmHead_ != nullptr; }

  // Greedy decoding's next tokens for hidden states [N, hidden] (before the final norm) -> [N] int64: the
  // arg-max of logits(hidden), the first on ties. With the packed output layer (and no final soft-capping) it
  // is screened on an int8 copy of lm_head and settled on a few exactly recomputed logits (argmax_screen.h).
  torch::Tensor greedyTokens(const torch::Tensor& hidden) const;
  // Whether greedyTokens() screens on the int8 copy (rows it cannot screen still take the float32 path).
  bool argmaxScreened() const { return argmaxScreen_ != nullptr; }

  std::unique_ptr<KVCache> makeCache(int64_t batch, int64_t capacity) const;

 private:
  Model() = default;
  torch::Tensor attention(const DecoderLayer& layer, int64_t layerIndex, const torch::Tensor& x,
                          const AttentionInputs& inputs, KVCache* cache, int64_t cacheOffset) const;
  torch::Tensor mlp(const DecoderLayer& layer, const torch::Tensor& x) const;
  // lm_head (+ final soft-capping) on hidden states that have been through the final norm.
  torch::Tensor projectNormed(const torch::Tensor& normed) const;

  ModelConfig config_;
  torch::Device device_ = torch::kCPU;
  c10::ScalarType dtype_ = torch::kFloat32;
  int64_t parameterCount_ = 0;

  torch::Tensor embedTokens_;   // [vocab, hidden]; the same tensor as lmHead_ when tied
  torch::Tensor embedScale_;    // 0-dim, compute dtype (Gemma2) or undefined
  std::vector<DecoderLayer> layers_;
  RmsNorm finalNorm_;
  // [vocab, hidden]. Contiguous on CUDA and with the packed copy; otherwise (CPU) the transposed view of a
  // contiguous [hidden, vocab] matrix, so that at::linear's x . lmHead_^T is a no-transpose sgemm.
  torch::Tensor lmHead_;
  std::unique_ptr<PackedProjection> packedLmHead_;  // CPU float32 only, when the oneDNN ops are there
  std::unique_ptr<ArgmaxScreen> argmaxScreen_;      // with packedLmHead_, without final soft-capping
  torch::Tensor inverseFrequencies_;  // [head_dim / 2] float32
};

}  // namespace greater
