#include "engine/config.h"

#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <sstream>
#include <limits>

#include "engine/json.h"

namespace fs = std::filesystem;

namespace greater {

namespace {

const char* const kSupported[] = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Gemma2ForCausalLM"};

constexpr int64_t kNoMaximum = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxPositions = int64_t{1} << 26;

std::string formatNumber(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// Typed access to one JSON file's fields, every error naming the file and the field.
class Fields {
 public:
  Fields(const json::Value& root, std::string file) : root_(root), file_(std::move(file)) {}

  const json::Value* get(const std::string& key) const {
    const json::Value* v = root_.find(key);
    return v && !v->isNull() ? v : nullptr;
  }
  bool present(const std::string& key) const { return get(key) != nullptr; }
  bool presentIncludingNull(const std::string& key) const { return root_.find(key) != nullptr; }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw std::runtime_error(file_ + ": field \"" + key + "\" " + what);
  }

  int64_t requireInt(const std::string& key, int64_t minimum = 1, int64_t maximum = kNoMaximum) const {
    const json::Value* v = get(key);
    if (!v) throw std::runtime_error(file_ + ": missing field \"" + key + "\"");
    return checkedInt(key, *v, minimum, maximum);
  }
  int64_t intOr(const std::string& key, int64_t fallback, int64_t minimum = 1, int64_t maximum = kNoMaximum) const {
    const json::Value* v = get(key);
    return v ? checkedInt(key, *v, minimum, maximum) : fallback;
  }
  double numberOr(const std::string& key, double fallback) const {
    const json::Value* v = get(key);
    if (!v) return fallback;
    if (!v->isNumber()) fail(key, std::string("must be a number, got ") + json::Value::kindName(v->kind()));
    return v->asDouble();
  }
  // A number that must be finite and greater than zero (epsilons, rope theta and factors).
  double positiveNumberOr(const std::string& key, double fallback) const {
    const double value = numberOr(key, fallback);
    if (!std::isfinite(value) || !(value > 0)) fail(key, "must be a positive number, got " + formatNumber(value));
    return value;
  }
  bool boolOr(const std::string& key, bool fallback) const {
    const json::Value* v = get(key);
    if (!v) return fallback;
    if (!v->isBool()) fail(key, std::string("must be true or false, got ") + json::Value::kindName(v->kind()));
    return v->asBool();
  }
  std::string stringOr(const std::string& key, const std::string& fallback) const {
    const json::Value* v = get(key);
    if (!v) return fallback;
    if (!v->isString()) fail(key, std::string("must be a string, got ") + json::Value::kindName(v->kind()));
    return v->asString();
  }
  // An optional positive number where null means "off" and absence means `fallback`.
  std::optional<double> optionalNumber(const std::string& key, std::optional<double> fallback) const {
    if (!presentIncludingNull(key)) return fallback;
    const json::Value* v = get(key);
    if (!v) return std::nullopt;
    if (!v->isNumber() || !(v->asDouble() > 0)) fail(key, "must be a positive number or null");
    return v->asDouble();
  }
  // Token id fields: an integer or a list of integers; absent or null gives an empty list.
  std::vector<int64_t> tokenIds(const std::string& key) const {
    const json::Value* v = get(key);
    std::vector<int64_t> ids;
    if (!v) return ids;
    if (v->isInteger()) {
      ids.push_back(checkedInt(key, *v, 0));
    } else if (v->isArray()) {
      for (const auto& item : v->items()) ids.push_back(checkedInt(key, item, 0));
    } else {
      fail(key, "must be a token id or a list of token ids");
    }
    return ids;
  }

  const std::string& file() const { return file_; }

 private:
  int64_t checkedInt(const std::string& key, const json::Value& v, int64_t minimum, int64_t maximum = kNoMaximum) const {
    if (!v.isInteger()) fail(key, std::string("must be an integer, got ") + json::Value::kindName(v.kind()));
    if (v.asInt() < minimum) fail(key, "must be at least " + std::to_string(minimum) + ", got " + std::to_string(v.asInt()));
    if (v.asInt() > maximum)
      fail(key, "is " + std::to_string(v.asInt()) + ", more than any model has (at most " + std::to_string(maximum) +
                    " is accepted): is config.json corrupt?");
    return v.asInt();
  }

  const json::Value& root_;
  std::string file_;
};

Activation parseActivation(const Fields& f, const std::string& key, const std::string& name) {
  if (name == "silu" || name == "swish") return Activation::Silu;
  if (name == "gelu_pytorch_tanh" || name == "gelu_new") return Activation::GeluTanh;
  if (name == "gelu") return Activation::GeluExact;
  f.fail(key, "is \"" + name + "\"; supported: silu, gelu_pytorch_tanh, gelu_new, gelu");
}

// Rope parameters come either as transformers 5's `rope_parameters` {rope_type, rope_theta, ...} or as the
// older top-level `rope_theta` plus `rope_scaling` {type|rope_type, factor, ...}.
RopeConfig parseRope(const json::Value& root, const Fields& f) {
  RopeConfig rope;
  std::string section = "rope_parameters";
  const json::Value* params = f.get("rope_parameters");
  if (!params) {
    section = "rope_scaling";
    params = f.get("rope_scaling");
  }
  if (params && !params->isObject()) f.fail(section, "must be an object");
  rope.theta = f.positiveNumberOr("rope_theta", 10000.0);
  if (!params) return rope;

  const Fields p(*params, f.file());
  auto fieldName = [&](const std::string& key) { return section + "." + key; };
  auto number = [&](const std::string& key) -> double {
    const json::Value* v = p.get(key);
    if (!v) throw std::runtime_error(f.file() + ": missing field \"" + fieldName(key) + "\"");
    if (!v->isNumber()) throw std::runtime_error(f.file() + ": field \"" + fieldName(key) + "\" must be a number");
    if (!std::isfinite(v->asDouble()) || !(v->asDouble() > 0))
      throw std::runtime_error(f.file() + ": field \"" + fieldName(key) + "\" must be a positive number, got " + formatNumber(v->asDouble()));
    return v->asDouble();
  };
  if (p.present("rope_theta")) rope.theta = number("rope_theta");
  std::string type = "default";
  if (const json::Value* t = p.get("rope_type")) type = t->isString() ? t->asString() : "";
  else if (const json::Value* t2 = p.get("type")) type = t2->isString() ? t2->asString() : "";
  if (type == "default") {
    rope.type = RopeType::Default;
  } else if (type == "linear") {
    rope.type = RopeType::Linear;
    rope.factor = number("factor");
  } else if (type == "llama3") {
    rope.type = RopeType::Llama3;
    rope.factor = number("factor");
    rope.lowFreqFactor = number("low_freq_factor");
    rope.highFreqFactor = number("high_freq_factor");
    rope.originalMaxPositions = p.present("original_max_position_embeddings")
                                    ? p.requireInt("original_max_position_embeddings", 1, kMaxPositions)
                                    : f.intOr("max_position_embeddings", 0, 1, kMaxPositions);
    if (rope.originalMaxPositions <= 0)
      throw std::runtime_error(f.file() + ": missing field \"" + fieldName("original_max_position_embeddings") + "\"");
    if (!(rope.highFreqFactor > rope.lowFreqFactor))
      throw std::runtime_error(f.file() + ": field \"" + fieldName("high_freq_factor") + "\" must exceed low_freq_factor");
  } else {
    throw std::runtime_error(f.file() + ": field \"" + fieldName("rope_type") + "\" is \"" + type +
                             "\"; supported rope types: default, linear, llama3");
  }
  (void)root;
  return rope;
}

std::vector<bool> parseLayerTypes(const Fields& f, int64_t numLayers) {
  const json::Value* types = f.get("layer_types");
  std::vector<bool> sliding;
  if (!types->isArray() || static_cast<int64_t>(types->items().size()) != numLayers)
    f.fail("layer_types", "must be a list of " + std::to_string(numLayers) + " layer types");
  for (const auto& t : types->items()) {
    if (t.isString() && t.asString() == "sliding_attention") sliding.push_back(true);
    else if (t.isString() && t.asString() == "full_attention") sliding.push_back(false);
    else f.fail("layer_types", "entries must be \"sliding_attention\" or \"full_attention\"");
  }
  return sliding;
}

}  // namespace

std::string supportedArchitectures() {
  std::string list;
  for (const char* a : kSupported) list += (list.empty() ? "" : ", ") + std::string(a);
  return list;
}

ModelConfig readModelConfig(const std::string& folder) {
  const std::string configPath = (fs::path(folder) / "config.json").string();
  std::error_code noError;
  // symlink_status: a dangling or looping link counts as present, so that reading it names the problem.
  if (!fs::exists(fs::symlink_status(configPath, noError))) throw std::runtime_error(configPath + ": missing (a model folder needs config.json)");
  const json::Value root = json::parseFile(configPath);
  if (!root.isObject()) throw std::runtime_error(configPath + ": not a JSON object");
  const Fields f(root, configPath);

  ModelConfig c;
  c.folder = folder;
  const json::Value* architectures = f.get("architectures");
  if (!architectures) throw std::runtime_error(configPath + ": missing field \"architectures\"");
  if (!architectures->isArray() || architectures->items().empty() || !architectures->items()[0].isString())
    f.fail("architectures", "must be a non-empty list of class names");
  c.architecture = architectures->items()[0].asString();
  bool supported = false;
  for (const char* a : kSupported) supported |= c.architecture == a;
  if (!supported)
    f.fail("architectures", "names \"" + c.architecture + "\", which is not supported; supported: " + supportedArchitectures());
  const bool llama = c.architecture == "LlamaForCausalLM";
  const bool mistral = c.architecture == "MistralForCausalLM";
  const bool qwen2 = c.architecture == "Qwen2ForCausalLM";
  const bool gemma2 = c.architecture == "Gemma2ForCausalLM";
  c.modelType = f.stringOr("model_type", "");

  // Upper bounds far above any released model: a corrupt size is named here instead of failing later as an
  // allocation of exabytes ("std::bad_alloc") or an overflowed storage size.
  c.vocabSize = f.requireInt("vocab_size", 1, 1 << 24);
  c.hiddenSize = f.requireInt("hidden_size", 1, 1 << 17);
  c.intermediateSize = f.requireInt("intermediate_size", 1, 1 << 20);
  c.numLayers = f.requireInt("num_hidden_layers", 1, 4096);
  c.numHeads = f.requireInt("num_attention_heads", 1, 4096);
  // Defaults below are those of the transformers config classes, so that a sparse config means the same here.
  const int64_t kvDefault = mistral ? 8 : qwen2 ? 32 : gemma2 ? 4 : c.numHeads;
  c.numKvHeads = f.presentIncludingNull("num_key_value_heads") && !f.present("num_key_value_heads")
                     ? c.numHeads
                     : f.intOr("num_key_value_heads", kvDefault, 1, 4096);
  if (c.numHeads % c.numKvHeads != 0)
    f.fail("num_key_value_heads", "(" + std::to_string(c.numKvHeads) + ") must divide num_attention_heads (" +
                                      std::to_string(c.numHeads) + ")");
  c.headDim = f.intOr("head_dim", gemma2 ? 256 : 0, 1, 1 << 14);
  if (c.headDim == 0) {
    if (c.hiddenSize % c.numHeads != 0)
      f.fail("head_dim", "is absent and hidden_size is not a multiple of num_attention_heads");
    c.headDim = c.hiddenSize / c.numHeads;
  }
  if (c.headDim % 2 != 0) f.fail("head_dim", "must be even for rotary embeddings");
  c.maxPositionEmbeddings = f.intOr("max_position_embeddings", llama ? 2048 : mistral ? 131072 : qwen2 ? 32768 : 8192, 1, kMaxPositions);
  c.rmsNormEps = f.positiveNumberOr("rms_norm_eps", 1e-6);
  c.rope = parseRope(root, f);
  c.tieWordEmbeddings = f.boolOr("tie_word_embeddings", gemma2);

  const std::string activationKey = gemma2 && f.present("hidden_activation") ? "hidden_activation" : "hidden_act";
  c.activation = parseActivation(f, activationKey, f.stringOr(activationKey, gemma2 ? "gelu_pytorch_tanh" : "silu"));

  // Mistral and Qwen2 hard-code their projection biases; only Llama and Gemma2 read attention_bias.
  const bool attentionBias = (llama || gemma2) && f.boolOr("attention_bias", false);
  c.qkvBias = qwen2 || attentionBias;
  c.outputBias = !qwen2 && attentionBias;
  c.mlpBias = llama && f.boolOr("mlp_bias", false);
  c.attentionScale = 1.0 / std::sqrt(static_cast<double>(c.headDim));
  c.layerIsSliding.assign(c.numLayers, false);

  if (mistral) {
    if (f.present("sliding_window")) {
      c.slidingWindow = f.intOr("sliding_window", 0);
      c.layerIsSliding.assign(c.numLayers, true);
    }
  } else if (qwen2) {
    if (f.boolOr("use_sliding_window", false)) {
      c.slidingWindow = f.intOr("sliding_window", 4096);
      if (f.present("layer_types")) {
        c.layerIsSliding = parseLayerTypes(f, c.numLayers);
      } else {
        const int64_t firstSliding = f.intOr("max_window_layers", 28, 0);
        for (int64_t i = 0; i < c.numLayers; ++i) c.layerIsSliding[i] = i >= firstSliding;
      }
    }
  } else if (gemma2) {
    if (f.boolOr("use_bidirectional_attention", false))
      f.fail("use_bidirectional_attention", "is true; only causal attention is supported");
    c.normAddsOne = true;
    c.sandwichNorms = true;
    c.scaleEmbeddings = true;
    const double queryScalar = f.numberOr("query_pre_attn_scalar", 256);
    if (!(queryScalar > 0)) f.fail("query_pre_attn_scalar", "must be positive");
    c.attentionScale = 1.0 / std::sqrt(queryScalar);
    c.attentionSoftcap = f.optionalNumber("attn_logit_softcapping", 50.0);
    c.finalSoftcap = f.optionalNumber("final_logit_softcapping", 30.0);
    if (f.present("sliding_window") || !f.presentIncludingNull("sliding_window")) {
      c.slidingWindow = f.intOr("sliding_window", 4096);
      if (f.present("layer_types")) {
        c.layerIsSliding = parseLayerTypes(f, c.numLayers);
      } else {
        // transformers' default: layers 0, 2, 4, ... slide, the others attend fully.
        for (int64_t i = 0; i < c.numLayers; ++i) c.layerIsSliding[i] = (i + 1) % 2 != 0;
      }
    }
  }
  bool anySliding = false;
  for (bool s : c.layerIsSliding) anySliding |= s;
  if (!anySliding) c.slidingWindow.reset();

  c.eosTokenIds = f.tokenIds("eos_token_id");
  for (int64_t id : c.eosTokenIds)
    if (id >= c.vocabSize) f.fail("eos_token_id", "holds " + std::to_string(id) + ", outside the vocabulary");
  const auto bos = f.tokenIds("bos_token_id");
  const auto pad = f.tokenIds("pad_token_id");
  for (const auto& [key, ids] : {std::pair<const char*, const std::vector<int64_t>&>{"bos_token_id", bos}, {"pad_token_id", pad}})
    for (int64_t id : ids)
      if (id >= c.vocabSize) f.fail(key, "holds " + std::to_string(id) + ", outside the vocabulary (vocab_size " + std::to_string(c.vocabSize) + ")");
  if (!bos.empty()) c.bosTokenId = bos[0];
  if (!pad.empty()) c.padTokenId = pad[0];

  const std::string generationPath = (fs::path(folder) / "generation_config.json").string();
  if (fs::exists(fs::symlink_status(generationPath, noError))) {
    const json::Value generation = json::parseFile(generationPath);
    if (!generation.isObject()) throw std::runtime_error(generationPath + ": not a JSON object");
    const Fields g(generation, generationPath);
    if (g.present("eos_token_id")) {
      c.eosTokenIds = g.tokenIds("eos_token_id");
      for (int64_t id : c.eosTokenIds)
        if (id >= c.vocabSize) g.fail("eos_token_id", "holds " + std::to_string(id) + ", outside the vocabulary");
    }
    const auto genBos = g.tokenIds("bos_token_id");
    const auto genPad = g.tokenIds("pad_token_id");
    for (const auto& [key, ids] : {std::pair<const char*, const std::vector<int64_t>&>{"bos_token_id", genBos}, {"pad_token_id", genPad}})
      for (int64_t id : ids)
        if (id >= c.vocabSize) g.fail(key, "holds " + std::to_string(id) + ", outside the vocabulary (vocab_size " + std::to_string(c.vocabSize) + ")");
    if (!genBos.empty()) c.bosTokenId = genBos[0];
    if (!genPad.empty()) c.padTokenId = genPad[0];
  }
  return c;
}

}  // namespace greater
