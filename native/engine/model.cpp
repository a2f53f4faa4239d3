#include "engine/model.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "engine/row_argmax.h"
#include "engine/safetensors.h"

namespace greater {

namespace {

torch::Device parseDevice(const std::string& name) {
  if (name.empty() || name == "cpu") return torch::kCPU;
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available())
      throw std::runtime_error("device \"" + name + "\": CUDA is not available (this addon or this machine has no usable GPU)");
    int64_t index = 0;
    if (name.size() > 5) {
      const std::string digits = name.substr(5);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
        throw std::runtime_error("device \"" + name + "\": expected \"cuda:N\"");
      index = std::stoll(digits);
    }
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    if (index >= count)
      throw std::runtime_error("device \"" + name + "\": only " + std::to_string(count) + " CUDA device(s) present");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw std::runtime_error("device \"" + name + "\": expected \"cpu\", \"cuda\" or \"cuda:N\"");
}

c10::ScalarType parseDtype(const std::string& name, const torch::Device& device) {
  if (name.empty()) return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kFloat16;
  throw std::runtime_error("dtype \"" + name + "\": expected \"float32\", \"bfloat16\" or \"float16\"");
}

// Inverse rotary frequencies [head_dim / 2] in float32, computed with the same float32 operations as
// transformers (modeling_rope_utils.py) so that positions rotate identically.
torch::Tensor inverseFrequencies(const ModelConfig& c) {
  const int64_t dim = c.headDim;
  auto exponents = torch::arange(0, dim, 2, torch::kInt64).to(torch::kFloat32) / static_cast<double>(dim);
  auto inv = torch::reciprocal(torch::pow(c.rope.theta, exponents));  // [dim / 2]
  if (c.rope.type == RopeType::Linear) return inv / c.rope.factor;
  if (c.rope.type == RopeType::Llama3) {
    const double oldContext = static_cast<double>(c.rope.originalMaxPositions);
    const double lowWavelength = oldContext / c.rope.lowFreqFactor;
    const double highWavelength = oldContext / c.rope.highFreqFactor;
    auto wavelength = torch::reciprocal(inv) * (2 * M_PI);
    // Long wavelengths are divided by the factor, short ones kept, the band between interpolated smoothly.
    auto scaled = torch::where(wavelength > lowWavelength, inv / c.rope.factor, inv);
    auto smooth = (oldContext / wavelength - c.rope.lowFreqFactor) / (c.rope.highFreqFactor - c.rope.lowFreqFactor);
    auto smoothed = (1 - smooth) * scaled / c.rope.factor + smooth * scaled;
    auto medium = (wavelength < highWavelength).logical_not() & (wavelength > lowWavelength).logical_not();
    return torch::where(medium, smoothed, scaled);
  }
  return inv;
}

torch::Tensor rotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

torch::Tensor softcap(const torch::Tensor& x, double cap) { return torch::tanh(x / cap) * cap; }

torch::Tensor maybeLinear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  return bias.defined() ? at::linear(x, weight, bias) : at::linear(x, weight);
}

}  // namespace

torch::Tensor RmsNorm::operator()(const torch::Tensor& x) const {
  auto xf = x.to(torch::kFloat32);
  auto normalized = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  if (multiplyInFloat32) return (normalized * weight).to(x.scalar_type());
  return weight * normalized.to(x.scalar_type());
}

std::shared_ptr<Model> Model::load(const std::string& folder, const std::string& deviceName, const std::string& dtypeName,
                                   bool packOutputLayer, bool checkFiniteWeights, const CancelFlag* cancel) {
  std::shared_ptr<Model> m(new Model());
  m->config_ = readModelConfig(folder);
  m->device_ = parseDevice(deviceName);
  m->dtype_ = parseDtype(dtypeName, m->device_);
  if (m->device_.is_cuda()) {
    // Our attention always passes an explicit mask, so SDPA cannot take FlashAttention; on Hopper it may pick
    // cuDNN's attention, which builds an execution plan per new shape, and decoding changes the key length at
    // every step. Memory-efficient attention takes masks at no planning cost. Process-wide, like any torch
    // backend flag. (What the one GPU session measured is in bench/README.md, "GPU".)
    at::globalContext().setSDPUseCuDNN(false);
  }
  const ModelConfig& c = m->config_;
  const auto checkpoint = Checkpoint::open(folder, checkFiniteWeights, cancel);

  // Loading under NoGradGuard, not InferenceMode: inference tensors could not be saved for the backward
  // pass of oneHotGradient.
  torch::NoGradGuard noGrad;
  const auto options = torch::TensorOptions().dtype(m->dtype_).device(m->device_);
  int64_t count = 0;
  auto load = [&](const std::string& name, std::vector<int64_t> shape) {
    auto t = checkpoint->load(name, shape, options);
    count += t.numel();
    return t;
  };
  auto loadNorm = [&](const std::string& name) {
    RmsNorm norm;
    norm.eps = c.rmsNormEps;
    norm.weight = load(name, {c.hiddenSize});
    if (c.normAddsOne) {
      // transformers: (1 + w.float()) with w held in the model dtype.
      norm.weight = norm.weight.to(torch::kFloat32) + 1.0;
      norm.multiplyInFloat32 = true;
    }
    return norm;
  };
  // Copies the listed tensors one after another along dim 0 of a fused weight.
  auto loadFused = [&](const std::vector<std::pair<std::string, int64_t>>& parts, std::vector<int64_t> trailing) {
    int64_t rows = 0;
    for (const auto& part : parts) rows += part.second;
    std::vector<int64_t> shape{rows};
    shape.insert(shape.end(), trailing.begin(), trailing.end());
    auto fused = torch::empty(shape, options);
    int64_t offset = 0;
    for (const auto& [name, size] : parts) {
      checkpoint->copyInto(name, fused.narrow(0, offset, size));
      offset += size;
    }
    count += fused.numel();
    return fused;
  };

  const int64_t H = c.numHeads, KV = c.numKvHeads, D = c.headDim, hidden = c.hiddenSize, I = c.intermediateSize;
  // The output projection W [vocab, hidden]. Where no gradient is recorded on a float32 CPU model, lm_head
  // runs on a packed copy (packed_projection.h) and greedy decoding screens on an int8 copy (argmax_screen.h),
  // which recomputes a few logits from W's rows: W keeps the checkpoint's contiguous rows. Without the packed
  // copy, the CPU stores a contiguous [hidden, vocab] matrix and W is its transposed view: at::linear(x, W)
  // multiplies by W^T, which is then contiguous, so MKL's sgemm takes its no-transpose path instead of
  // re-packing the whole weight on every call. cuBLAS does not re-pack, so CUDA keeps the checkpoint's layout too. copyInto
  // fills the view directly, one block at a time.
  const bool packOutput = packOutputLayer && m->device_.is_cpu() && m->dtype_ == torch::kFloat32 && PackedProjection::available();
  auto loadOutputProjection = [&](const std::string& name) {
    if (m->device_.is_cuda() || packOutput) return load(name, {c.vocabSize, hidden});
    auto projection = torch::empty({hidden, c.vocabSize}, options).t();  // [vocab, hidden], strides [1, vocab]
    checkpoint->copyInto(name, projection);
    count += projection.numel();
    return projection;
  };
  // Tied: one matrix serves both; embedding lookups gather its (possibly strided) rows, which costs little
  // next to the matmul it speeds up. Untied: the embedding keeps the contiguous rows lookups like best.
  m->embedTokens_ = c.tieWordEmbeddings ? loadOutputProjection("model.embed_tokens.weight")
                                        : load("model.embed_tokens.weight", {c.vocabSize, hidden});
  if (c.scaleEmbeddings)
    m->embedScale_ = torch::tensor(static_cast<float>(std::sqrt(static_cast<double>(hidden))), options.dtype(torch::kFloat32)).to(m->dtype_);
  for (int64_t i = 0; i < c.numLayers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    DecoderLayer layer;
    layer.sliding = c.layerIsSliding[i];
    layer.attentionInputNorm = loadNorm(p + "input_layernorm.weight");
    if (c.sandwichNorms) {
      layer.attentionOutputNorm = loadNorm(p + "post_attention_layernorm.weight");
      layer.mlpInputNorm = loadNorm(p + "pre_feedforward_layernorm.weight");
      layer.mlpOutputNorm = loadNorm(p + "post_feedforward_layernorm.weight");
    } else {
      layer.mlpInputNorm = loadNorm(p + "post_attention_layernorm.weight");
    }
    const std::string a = p + "self_attn.";
    layer.qkvWeight = loadFused({{a + "q_proj.weight", H * D}, {a + "k_proj.weight", KV * D}, {a + "v_proj.weight", KV * D}}, {hidden});
    if (c.qkvBias)
      layer.qkvBias = loadFused({{a + "q_proj.bias", H * D}, {a + "k_proj.bias", KV * D}, {a + "v_proj.bias", KV * D}}, {});
    layer.outputWeight = load(a + "o_proj.weight", {hidden, H * D});
    if (c.outputBias) layer.outputBias = load(a + "o_proj.bias", {hidden});
    const std::string f = p + "mlp.";
    layer.gateUpWeight = loadFused({{f + "gate_proj.weight", I}, {f + "up_proj.weight", I}}, {hidden});
    layer.downWeight = load(f + "down_proj.weight", {hidden, I});
    if (c.mlpBias) {
      layer.gateUpBias = loadFused({{f + "gate_proj.bias", I}, {f + "up_proj.bias", I}}, {});
      layer.downBias = load(f + "down_proj.bias", {hidden});
    }
    m->layers_.push_back(std::move(layer));
  }
  m->finalNorm_ = loadNorm("model.norm.weight");
  m->lmHead_ = c.tieWordEmbeddings ? m->embedTokens_ : loadOutputProjection("lm_head.weight");
  if (packOutput) {
    m->packedLmHead_ = std::make_unique<PackedProjection>(m->lmHead_);
    // Soft-capping (Gemma2) can round distinct logits to equal ones, which the exact recomputation of the
    // uncapped logits would not see: those models take the float32 path.
    if (!c.finalSoftcap && ArgmaxScreen::available()) m->argmaxScreen_ = std::make_unique<ArgmaxScreen>(m->lmHead_);
  }
  m->inverseFrequencies_ = inverseFrequencies(c).to(m->device_);
  m->parameterCount_ = count;
  return m;
}

std::string Model::deviceName() const {
  if (device_.is_cuda()) return "cuda:" + std::to_string(device_.has_index() ? device_.index() : 0);
  return "cpu";
}

std::string Model::dtypeName() const {
  switch (dtype_) {
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    default: return "float32";
  }
}

torch::Tensor Model::embedUnscaled(const torch::Tensor& ids) const {
  return at::embedding(embedTokens_, ids);  // [batch, T, hidden]
}

torch::Tensor Model::scaleEmbeddings(const torch::Tensor& embeddings) const {
  return embedScale_.defined() ? embeddings * embedScale_ : embeddings;
}

AttentionInputs Model::attentionInputs(const torch::Tensor& queryPositions, int64_t queryOffset,
                                       const torch::Tensor& keyPositions, const torch::Tensor& keyValid) const {
  AttentionInputs out;
  const int64_t T = queryPositions.size(1), S = keyPositions.size(1);
  const auto longOptions = torch::TensorOptions().dtype(torch::kInt64).device(device_);

  // Rope tables, computed in float32 and then cast, as transformers does.
  auto freqs = queryPositions.to(torch::kFloat32).unsqueeze(-1) * inverseFrequencies_;  // [batch, T, D/2]
  auto angles = torch::cat({freqs, freqs}, -1);                                        // [batch, T, D]
  out.cos = angles.cos().to(dtype_).unsqueeze(1);                                      // [batch, 1, T, D]
  out.sin = angles.sin().to(dtype_).unsqueeze(1);

  auto querySlots = torch::arange(queryOffset, queryOffset + T, longOptions);  // [T]
  auto keySlots = torch::arange(S, longOptions);                             // [S]
  auto causal = keySlots.unsqueeze(0) <= querySlots.unsqueeze(1);            // [T, S]
  auto ownSlot = keySlots.unsqueeze(0) == querySlots.unsqueeze(1);           // [T, S]
  auto visible = keyValid.unsqueeze(1) & causal.unsqueeze(0);                // [batch, T, S]
  out.fullMask = (visible | ownSlot.unsqueeze(0)).unsqueeze(1);              // [batch, 1, T, S]
  if (config_.slidingWindow) {
    auto distance = queryPositions.unsqueeze(2) - keyPositions.unsqueeze(1);  // [batch, T, S]
    out.slidingMask = ((visible & (distance < *config_.slidingWindow)) | ownSlot.unsqueeze(0)).unsqueeze(1);
  }
  return out;
}

torch::Tensor Model::attention(const DecoderLayer& layer, int64_t layerIndex, const torch::Tensor& x,
                               const AttentionInputs& inputs, KVCache* cache, int64_t cacheOffset) const {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = config_.numHeads, KV = config_.numKvHeads, D = config_.headDim, G = H / KV;

  auto qkv = maybeLinear(x, layer.qkvWeight, layer.qkvBias);                      // [B, T, (H + 2KV) D]
  auto q = qkv.narrow(-1, 0, H * D).view({B, T, H, D}).transpose(1, 2);           // [B, H, T, D]
  auto k = qkv.narrow(-1, H * D, KV * D).view({B, T, KV, D}).transpose(1, 2);     // [B, KV, T, D]
  auto v = qkv.narrow(-1, (H + KV) * D, KV * D).view({B, T, KV, D}).transpose(1, 2);
  q = q * inputs.cos + rotateHalf(q) * inputs.sin;
  k = k * inputs.cos + rotateHalf(k) * inputs.sin;

  torch::Tensor keys = k, values = v;  // [B, KV, S, D]
  if (cache) {
    cache->write(layerIndex, cacheOffset, k, v);
    keys = cache->keys(layerIndex, cacheOffset + T);
    values = cache->values(layerIndex, cacheOffset + T);
  }
  const int64_t S = keys.size(2);

  // Grouped-query attention without copying K/V per head: the G query heads that share a KV head become
  // G*T query rows of that KV head (head h uses KV head h / G, as transformers' repeat_kv does).
  auto queries = q.reshape({B, KV, G * T, D});                       // [B, KV, G*T, D]
  auto mask = layer.sliding ? inputs.slidingMask : inputs.fullMask;  // [B, 1, T, S]
  if (G > 1 && T > 1) mask = mask.unsqueeze(2).expand({B, 1, G, T, S}).reshape({B, 1, G * T, S});

  torch::Tensor out;  // [B, KV, G*T, D]
  if (config_.attentionSoftcap) {
    // Soft-capping sits between the scores and the softmax, which SDPA cannot express: explicit attention,
    // in transformers' order (scale, cap, mask, float32 softmax).
    auto scores = at::matmul(queries, keys.transpose(-2, -1)) * config_.attentionScale;  // [B, KV, G*T, S]
    scores = softcap(scores, *config_.attentionSoftcap);
    scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
    auto probabilities = torch::softmax(scores, -1, torch::kFloat32).to(dtype_);
    out = at::matmul(probabilities, values);
  } else {
    out = at::scaled_dot_product_attention(queries, keys, values, mask, 0.0, false, config_.attentionScale);
  }
  out = out.reshape({B, H, T, D}).transpose(1, 2).reshape({B, T, H * D});  // [B, T, H*D]
  return maybeLinear(out, layer.outputWeight, layer.outputBias);        // [B, T, hidden]
}

torch::Tensor Model::mlp(const DecoderLayer& layer, const torch::Tensor& x) const {
  const int64_t I = config_.intermediateSize;
  auto gateUp = maybeLinear(x, layer.gateUpWeight, layer.gateUpBias);  // [B, T, 2I]
  auto gate = gateUp.narrow(-1, 0, I);
  auto up = gateUp.narrow(-1, I, I);
  torch::Tensor activated;
  switch (config_.activation) {
    case Activation::Silu: activated = torch::silu(gate); break;
    case Activation::GeluTanh: activated = torch::gelu(gate, "tanh"); break;
    case Activation::GeluExact: activated = torch::gelu(gate); break;
  }
  return maybeLinear(activated * up, layer.downWeight, layer.downBias);  // [B, T, hidden]
}

torch::Tensor Model::decode(torch::Tensor hidden, const AttentionInputs& attention, KVCache* cache, int64_t cacheOffset) const {
  for (size_t i = 0; i < layers_.size(); ++i) {
    const DecoderLayer& layer = layers_[i];
    auto attended = this->attention(layer, static_cast<int64_t>(i), layer.attentionInputNorm(hidden), attention, cache, cacheOffset);
    if (layer.attentionOutputNorm) attended = (*layer.attentionOutputNorm)(attended);
    hidden = hidden + attended;
    auto fed = mlp(layer, layer.mlpInputNorm(hidden));
    if (layer.mlpOutputNorm) fed = (*layer.mlpOutputNorm)(fed);
    hidden = hidden + fed;
  }
  return hidden;
}

torch::Tensor Model::logits(const torch::Tensor& hidden) const { return projectNormed(finalNorm_(hidden)); }

torch::Tensor Model::projectNormed(const torch::Tensor& normed) const {
  const bool recordsGradient = at::GradMode::is_enabled() && normed.requires_grad();
  auto out = packedLmHead_ && !recordsGradient && normed.dim() == 2 ? packedLmHead_->project(normed)
                                                                     : at::linear(normed, lmHead_);  // [N, vocab]
  if (config_.finalSoftcap) out = softcap(out, *config_.finalSoftcap);
  return out;
}

torch::Tensor Model::greedyTokens(const torch::Tensor& hidden) const {
  auto exact = [this](const torch::Tensor& normed) { return rowArgmax(projectNormed(normed)); };
  auto normed = finalNorm_(hidden);
  if (!argmaxScreen_ || normed.dim() != 2) return exact(normed);
  return argmaxScreen_->argmax(normed, exact);
}

std::unique_ptr<KVCache> Model::makeCache(int64_t batch, int64_t capacity) const {
  return std::make_unique<KVCache>(config_.numLayers, batch, config_.numKvHeads, capacity, config_.headDim,
                                   torch::TensorOptions().dtype(dtype_).device(device_));
}

}  // namespace greater
