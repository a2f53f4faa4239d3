// config.json (+ generation_config.json) read into one typed struct of architecture flags. The decoder
// (model.cpp) is a single implementation switched by these flags; this file is the only place that knows
// how Llama, Mistral, Qwen2 and Gemma2 differ.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace greater {

enum class Activation { Silu, GeluTanh, GeluExact };

enum class RopeType { Default, Linear, Llama3 };

struct RopeConfig {
  RopeType type = RopeType::Default;
  double theta = 10000.0;
  double factor = 1.0;                    // linear and llama3
  double lowFreqFactor = 1.0;             // llama3
  double highFreqFactor = 4.0;            // llama3
  int64_t originalMaxPositions = 0;       // llama3
};

struct ModelConfig {
  std::string folder;
  std::string architecture;  // e.g. "LlamaForCausalLM"
  std::string modelType;     // config.json model_type

  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  int64_t maxPositionEmbeddings = 0;
  double rmsNormEps = 1e-6;
  RopeConfig rope;

  Activation activation = Activation::Silu;
  bool tieWordEmbeddings = false;
  bool qkvBias = false;      // bias on q/k/v projections (Qwen2; Llama attention_bias)
  bool outputBias = false;   // bias on o_proj (Llama attention_bias)
  bool mlpBias = false;      // Llama mlp_bias

  // Gemma2 family flags.
  bool normAddsOne = false;        // RMSNorm scales by (1 + w), computed in float32
  bool sandwichNorms = false;      // post-attention norm on the attention output, pre/post feed-forward norms
  bool scaleEmbeddings = false;    // embeddings multiplied by sqrt(hidden_size) (in the compute dtype)
  double attentionScale = 0;       // softmax scale: head_dim^-0.5, or query_pre_attn_scalar^-0.5 (Gemma2)
  std::optional<double> attentionSoftcap;  // tanh soft-capping of attention scores
  std::optional<double> finalSoftcap;      // tanh soft-capping of the output logits

  // Sliding-window attention: a key is visible when query_position - key_position < slidingWindow.
  std::optional<int64_t> slidingWindow;
  std::vector<bool> layerIsSliding;  // per layer: whether slidingWindow applies

  std::vector<int64_t> eosTokenIds;  // generation_config.json's eos_token_id, else config.json's
  std::optional<int64_t> bosTokenId;
  std::optional<int64_t> padTokenId;
};

// Reads folder/config.json and, when present, folder/generation_config.json. Throws naming the file and the
// field for an absent or ill-typed required field, and listing the supported architectures for any other.
ModelConfig readModelConfig(const std::string& folder);

// "LlamaForCausalLM, MistralForCausalLM, ..." for messages.
std::string supportedArchitectures();

}  // namespace greater
