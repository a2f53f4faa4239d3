// N-API glue for models: argument conversion (typed arrays in, typed arrays out), model handles, cancel
// tokens. Every heavy call runs on libuv's pool through runAsync; the TS Model class queues calls per model.
// Ragged rows travel as {values: Int32Array, offsets: Int32Array} with offsets.length = rows + 1.
#include <napi.h>

#include <memory>
#include <string>

#include "addon/async.h"
#include "addon/bindings.h"
#include "engine/cancel.h"
#include "engine/forward_ops.h"
#include "engine/generate.h"
#include "engine/generate_score.h"
#include "engine/greater_ops.h"
#include "engine/model.h"

namespace greater::addon {

namespace {

// Type tags make sure a handle passed back from JS really is ours (and of the right kind).
const napi_type_tag kModelTag = {0x6a1f0c3e5b7d4e21ULL, 0x9c2b8d17a4e35f60ULL};
const napi_type_tag kCancelTag = {0x1d4c7b92e05a3f88ULL, 0x5e7a2c19b8d04f13ULL};
const napi_type_tag kGenerationTag = {0x83e5a0d94c1b7f26ULL, 0x2f9d6b18e7c04a35ULL};

struct ModelHandle {
  std::shared_ptr<Model> model;  // reset by dispose; running work holds its own reference
};

// A generation whose KV caches are kept for scoreContinuations; emptied by it or by releaseGeneration.
struct GenerationHandle {
  std::shared_ptr<RetainedGeneration> generation;
  std::weak_ptr<Model> model;  // the model that made it
};

struct CancelHandle {
  std::shared_ptr<CancelFlag> flag = std::make_shared<CancelFlag>();
};

std::shared_ptr<Model> modelArg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal() || !info[0].As<Napi::External<ModelHandle>>().CheckTypeTag(&kModelTag))
    throw Napi::TypeError::New(env, "expected a model handle as the first argument");
  auto* handle = info[0].As<Napi::External<ModelHandle>>().Data();
  if (!handle->model) throw Napi::Error::New(env, "the model has been disposed");
  return handle->model;
}

std::shared_ptr<CancelFlag> cancelArg(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsUndefined() || info[index].IsNull()) return nullptr;
  if (!info[index].IsExternal() || !info[index].As<Napi::External<CancelHandle>>().CheckTypeTag(&kCancelTag))
    throw Napi::TypeError::New(info.Env(), "expected a cancel token");
  return info[index].As<Napi::External<CancelHandle>>().Data()->flag;
}

Napi::Object requestArg(const Napi::CallbackInfo& info, size_t index, const std::string& op) {
  if (info.Length() <= index || !info[index].IsObject())
    throw Napi::TypeError::New(info.Env(), op + ": expected a request object");
  return info[index].As<Napi::Object>();
}

bool has(const Napi::Object& o, const char* key) {
  return o.Has(key) && !o.Get(key).IsUndefined() && !o.Get(key).IsNull();
}

template <typename Array>
Array typedArray(const Napi::Object& o, const char* key, const std::string& op) {
  Napi::Value v = o.Get(key);
  if (!v.IsTypedArray()) throw Napi::TypeError::New(o.Env(), op + ": " + key + " must be a typed array");
  return v.As<Array>();
}

std::vector<int64_t> intVector(const Napi::Object& o, const char* key, const std::string& op) {
  auto a = typedArray<Napi::Int32Array>(o, key, op);
  return std::vector<int64_t>(a.Data(), a.Data() + a.ElementLength());
}

TokenRows raggedArg(const Napi::Object& o, const char* key, const std::string& op) {
  Napi::Env env = o.Env();
  Napi::Value v = o.Get(key);
  if (!v.IsObject()) throw Napi::TypeError::New(env, op + ": " + key + " must be {values, offsets}");
  auto r = v.As<Napi::Object>();
  auto values = typedArray<Napi::Int32Array>(r, "values", op + ": " + key);
  auto offsets = typedArray<Napi::Int32Array>(r, "offsets", op + ": " + key);
  TokenRows rows;
  if (offsets.ElementLength() < 1 || offsets[0] != 0 || static_cast<size_t>(offsets[offsets.ElementLength() - 1]) != values.ElementLength())
    throw Napi::RangeError::New(env, op + ": " + key + ": offsets do not describe the values");
  for (size_t b = 0; b + 1 < offsets.ElementLength(); ++b) {
    if (offsets[b + 1] < offsets[b]) throw Napi::RangeError::New(env, op + ": " + key + ": offsets decrease");
    rows.emplace_back(values.Data() + offsets[b], values.Data() + offsets[b + 1]);
  }
  return rows;
}

std::vector<Span> spansArg(const Napi::Object& o, const char* key, const std::string& op) {
  auto flat = intVector(o, key, op);
  if (flat.size() % 2 != 0) throw Napi::RangeError::New(o.Env(), op + ": " + key + " must hold start, end pairs");
  std::vector<Span> spans;
  for (size_t i = 0; i < flat.size(); i += 2) spans.push_back({flat[i], flat[i + 1]});
  return spans;
}

double numberArg(const Napi::Object& o, const char* key, const std::string& op) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), op + ": " + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

Napi::Float32Array floatArray(Napi::Env env, const std::vector<float>& values) {
  auto out = Napi::Float32Array::New(env, values.size());
  std::copy(values.begin(), values.end(), out.Data());
  return out;
}

Napi::Object raggedValue(Napi::Env env, const TokenRows& rows) {
  size_t total = 0;
  for (const auto& r : rows) total += r.size();
  auto values = Napi::Int32Array::New(env, total);
  auto offsets = Napi::Int32Array::New(env, rows.size() + 1);
  size_t at = 0;
  offsets[0] = 0;
  for (size_t b = 0; b < rows.size(); ++b) {
    for (int64_t id : rows[b]) values[at++] = static_cast<int32_t>(id);
    offsets[b + 1] = static_cast<int32_t>(at);
  }
  auto out = Napi::Object::New(env);
  out.Set("values", values);
  out.Set("offsets", offsets);
  return out;
}

Napi::Value LoadModelJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "loadModel(path, device, dtype, packOutputLayer): path must be a string");
  const std::string path = info[0].As<Napi::String>();
  const std::string device = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  const std::string dtype = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  const bool packOutputLayer = info.Length() <= 3 || !info[3].IsBoolean() || info[3].As<Napi::Boolean>().Value();
  const bool checkFiniteWeights = info.Length() <= 4 || !info[4].IsBoolean() || info[4].As<Napi::Boolean>().Value();
  const auto cancel = cancelArg(info, 5);  // kept alive by the lambda until the load ends
  return runAsync<std::shared_ptr<Model>>(
      env, "loadModel", [path, device, dtype, packOutputLayer, checkFiniteWeights, cancel] {
        return Model::load(path, device, dtype, packOutputLayer, checkFiniteWeights, cancel.get());
      },
      [](Napi::Env env, std::shared_ptr<Model>& model) -> Napi::Value {
        auto handle = Napi::External<ModelHandle>::New(env, new ModelHandle{model},
                                                       [](Napi::Env, ModelHandle* h) { delete h; });
        handle.TypeTag(&kModelTag);
        return handle;
      });
}

Napi::Value ModelInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto model = modelArg(info);
  const ModelConfig& c = model->config();
  auto out = Napi::Object::New(env);
  out.Set("architecture", c.architecture);
  out.Set("modelType", c.modelType);
  out.Set("vocabSize", Napi::Number::New(env, static_cast<double>(c.vocabSize)));
  out.Set("hiddenSize", Napi::Number::New(env, static_cast<double>(c.hiddenSize)));
  out.Set("numLayers", Napi::Number::New(env, static_cast<double>(c.numLayers)));
  out.Set("numHeads", Napi::Number::New(env, static_cast<double>(c.numHeads)));
  out.Set("numKvHeads", Napi::Number::New(env, static_cast<double>(c.numKvHeads)));
  out.Set("headDim", Napi::Number::New(env, static_cast<double>(c.headDim)));
  out.Set("maxPositionEmbeddings", Napi::Number::New(env, static_cast<double>(c.maxPositionEmbeddings)));
  out.Set("dtype", model->dtypeName());
  out.Set("device", model->deviceName());
  out.Set("parameterCount", Napi::Number::New(env, static_cast<double>(model->parameterCount())));
  out.Set("outputLayerPacked", Napi::Boolean::New(env, model->outputLayerPacked()));
  out.Set("argmaxScreened", Napi::Boolean::New(env, model->argmaxScreened()));
  auto eos = Napi::Array::New(env, c.eosTokenIds.size());
  for (size_t i = 0; i < c.eosTokenIds.size(); ++i) eos.Set(i, Napi::Number::New(env, static_cast<double>(c.eosTokenIds[i])));
  out.Set("eosTokenIds", eos);
  out.Set("bosTokenId", c.bosTokenId ? Napi::Value(Napi::Number::New(env, static_cast<double>(*c.bosTokenId))) : env.Null());
  out.Set("padTokenId", c.padTokenId ? Napi::Value(Napi::Number::New(env, static_cast<double>(*c.padTokenId))) : env.Null());
  out.Set("path", c.folder);
  return out;
}

Napi::Value DisposeModelJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal() || !info[0].As<Napi::External<ModelHandle>>().CheckTypeTag(&kModelTag))
    throw Napi::TypeError::New(env, "disposeModel(handle): expected a model handle");
  info[0].As<Napi::External<ModelHandle>>().Data()->model.reset();
  return env.Undefined();
}

Napi::Value CreateCancelTokenJs(const Napi::CallbackInfo& info) {
  auto token = Napi::External<CancelHandle>::New(info.Env(), new CancelHandle(), [](Napi::Env, CancelHandle* h) { delete h; });
  token.TypeTag(&kCancelTag);
  return token;
}

Napi::Value CancelJs(const Napi::CallbackInfo& info) {
  auto flag = cancelArg(info, 0);
  if (flag) flag->requested.store(true);
  return info.Env().Undefined();
}

Napi::Value LogProbsJs(const Napi::CallbackInfo& info) {
  const std::string op = "logits";
  auto model = modelArg(info);
  auto r = requestArg(info, 1, op);
  auto cancel = cancelArg(info, 2);
  LogProbsRequest request;
  request.inputIds = raggedArg(r, "inputIds", op);
  if (has(r, "attentionMask")) {
    for (const auto& row : raggedArg(r, "attentionMask", op)) {
      std::vector<uint8_t> maskRow;
      for (int64_t v : row) maskRow.push_back(v == 0 ? 0 : v == 1 ? 1 : 2);  // 2: rejected by the engine, naming the slot
      request.attentionMask.push_back(std::move(maskRow));
    }
  }
  request.lastPositions = !has(r, "positions");
  if (!request.lastPositions) request.positions = raggedArg(r, "positions", op);
  if (has(r, "targets")) request.targets = raggedArg(r, "targets", op);
  request.full = has(r, "full") && r.Get("full").ToBoolean().Value();
  return runAsync<LogProbsResult>(
      info.Env(), "logits", [model, request, cancel] { return computeLogProbs(*model, request, cancel.get()); },
      [](Napi::Env env, LogProbsResult& result) -> Napi::Value {
        auto out = Napi::Object::New(env);
        out.Set("positions", raggedValue(env, result.positions));
        auto top = Napi::Int32Array::New(env, result.topTokens.size());
        for (size_t i = 0; i < result.topTokens.size(); ++i) top[i] = static_cast<int32_t>(result.topTokens[i]);
        out.Set("topTokens", top);
        out.Set("topLogProbs", floatArray(env, result.topLogProbs));
        if (!result.targetLogProbs.empty()) out.Set("targetLogProbs", floatArray(env, result.targetLogProbs));
        if (!result.full.empty()) out.Set("full", floatArray(env, result.full));
        return out;
      });
}

Napi::Object generateResultValue(Napi::Env env, const GenerateResult& result) {
  auto out = Napi::Object::New(env);
  out.Set("tokens", raggedValue(env, result.tokens));
  auto stopped = Napi::Uint8Array::New(env, result.stopped.size());
  for (size_t i = 0; i < result.stopped.size(); ++i) stopped[i] = result.stopped[i] ? 1 : 0;
  out.Set("stopped", stopped);
  return out;
}

GenerateRequest generateRequestArg(const Napi::Object& r, const std::string& op) {
  GenerateRequest request;
  request.prompts = raggedArg(r, "prompts", op);
  request.maxNewTokens = static_cast<int64_t>(numberArg(r, "maxNewTokens", op));
  if (has(r, "stopTokenIds")) request.stopTokenIds = intVector(r, "stopTokenIds", op);
  if (has(r, "ignoreEos")) request.useModelEos = !r.Get("ignoreEos").ToBoolean().Value();
  return request;
}

Napi::Value GenerateJs(const Napi::CallbackInfo& info) {
  const std::string op = "generate";
  auto model = modelArg(info);
  auto r = requestArg(info, 1, op);
  auto cancel = cancelArg(info, 2);
  GenerateRequest request = generateRequestArg(r, op);
  return runAsync<GenerateResult>(
      info.Env(), "generate", [model, request, cancel] { return generateGreedy(*model, request, cancel.get()); },
      [](Napi::Env env, GenerateResult& result) -> Napi::Value { return generateResultValue(env, result); });
}

// generate that keeps every row's KV cache: {tokens, stopped, promptNll, generation} where `generation` is
// the handle modelScoreContinuations takes.
Napi::Value GenerateRetainingJs(const Napi::CallbackInfo& info) {
  const std::string op = "generate";
  auto model = modelArg(info);
  auto r = requestArg(info, 1, op);
  auto cancel = cancelArg(info, 2);
  GenerateRequest request = generateRequestArg(r, op);
  auto promptSpans = spansArg(r, "promptSpans", op);
  std::weak_ptr<Model> owner = model;
  return runAsync<std::shared_ptr<RetainedGeneration>>(
      info.Env(), "generateForScoring",
      [model, request, promptSpans, cancel] {
        return std::make_shared<RetainedGeneration>(generateRetaining(*model, request, promptSpans, cancel.get()));
      },
      [owner](Napi::Env env, std::shared_ptr<RetainedGeneration>& generation) -> Napi::Value {
        auto out = generateResultValue(env, generation->generated);
        out.Set("promptNll", floatArray(env, generation->promptNll));
        auto handle = Napi::External<GenerationHandle>::New(env, new GenerationHandle{generation, owner},
                                                            [](Napi::Env, GenerationHandle* h) { delete h; });
        handle.TypeTag(&kGenerationTag);
        out.Set("generation", handle);
        return out;
      });
}

GenerationHandle* generationArg(const Napi::CallbackInfo& info, size_t index, const std::string& op) {
  if (info.Length() <= index || !info[index].IsExternal() ||
      !info[index].As<Napi::External<GenerationHandle>>().CheckTypeTag(&kGenerationTag))
    throw Napi::TypeError::New(info.Env(), op + ": expected a generation handle");
  return info[index].As<Napi::External<GenerationHandle>>().Data();
}

Napi::Value ScoreContinuationsJs(const Napi::CallbackInfo& info) {
  const std::string op = "scoreContinuations";
  auto model = modelArg(info);
  auto* handle = generationArg(info, 1, op);
  auto r = requestArg(info, 2, op);
  auto cancel = cancelArg(info, 3);
  if (!handle->generation) throw Napi::Error::New(info.Env(), op + ": this generation's caches were already used or released");
  if (handle->model.lock() != model) throw Napi::Error::New(info.Env(), op + ": the generation was made with another model");
  ContinuationRequest request;
  request.continuations = raggedArg(r, "continuations", op);
  request.answerSpans = spansArg(r, "answerSpans", op);
  // Taken from the handle here, on the JS thread: the caches are used once, and freed when the work ends.
  std::shared_ptr<RetainedGeneration> generation = std::move(handle->generation);
  return runAsync<ContinuationScores>(
      info.Env(), "scoreContinuations",
      [model, generation, request, cancel] {
        return scoreContinuations(*model, *generation, request, cancel.get());
      },
      [](Napi::Env env, ContinuationScores& result) -> Napi::Value {
        auto out = Napi::Object::New(env);
        out.Set("answerLoss", floatArray(env, result.answerLoss));
        auto exact = Napi::Uint8Array::New(env, result.exactMatch.size());
        std::copy(result.exactMatch.begin(), result.exactMatch.end(), exact.Data());
        out.Set("exactMatch", exact);
        return out;
      });
}

// Frees a generation's caches now (they would otherwise live until the handle is garbage-collected).
Napi::Value ReleaseGenerationJs(const Napi::CallbackInfo& info) {
  generationArg(info, 0, "releaseGeneration")->generation.reset();
  return info.Env().Undefined();
}

Napi::Value TopCandidatesJs(const Napi::CallbackInfo& info) {
  const std::string op = "topCandidates";
  auto model = modelArg(info);
  auto r = requestArg(info, 1, op);
  auto cancel = cancelArg(info, 2);
  CandidateRequest request;
  request.sequences = raggedArg(r, "sequences", op);
  request.positions = intVector(r, "positions", op);
  request.k = static_cast<int64_t>(numberArg(r, "k", op));
  if (has(r, "disallowedMask")) {
    auto mask = typedArray<Napi::Uint8Array>(r, "disallowedMask", op);
    request.disallowedMask.assign(mask.Data(), mask.Data() + mask.ElementLength());
  }
  if (has(r, "disallowedIds")) request.disallowedIds = intVector(r, "disallowedIds", op);
  if (has(r, "exclude")) request.exclude = raggedArg(r, "exclude", op);
  return runAsync<TokenRows>(
      info.Env(), "topCandidates", [model, request, cancel] { return topCandidates(*model, request, cancel.get()); },
      [](Napi::Env env, TokenRows& rows) -> Napi::Value { return raggedValue(env, rows); });
}

Napi::Value OneHotGradientJs(const Napi::CallbackInfo& info) {
  const std::string op = "oneHotGradient";
  auto model = modelArg(info);
  auto r = requestArg(info, 1, op);
  auto cancel = cancelArg(info, 2);
  GradientRequest request;
  request.sequences = raggedArg(r, "sequences", op);
  request.positions = intVector(r, "positions", op);
  request.candidates = intVector(r, "candidates", op);
  request.answerSpans = spansArg(r, "answerSpans", op);
  request.promptSpans = spansArg(r, "promptSpans", op);
  request.temperature = numberArg(r, "temperature", op);
  request.controlWeight = numberArg(r, "controlWeight", op);
  return runAsync<GradientResult>(
      info.Env(), "oneHotGradient", [model, request, cancel] { return oneHotGradient(*model, request, cancel.get()); },
      [](Napi::Env env, GradientResult& result) -> Napi::Value {
        auto out = Napi::Object::New(env);
        out.Set("candidateCount", Napi::Number::New(env, static_cast<double>(result.candidateCount)));
        out.Set("gradients", floatArray(env, result.gradients));
        out.Set("losses", floatArray(env, result.losses));
        out.Set("answerLosses", floatArray(env, result.answerLosses));
        out.Set("promptNll", floatArray(env, result.promptNll));
        return out;
      });
}

Napi::Value ScoreAnswersJs(const Napi::CallbackInfo& info) {
  const std::string op = "scoreAnswers";
  auto model = modelArg(info);
  auto r = requestArg(info, 1, op);
  auto cancel = cancelArg(info, 2);
  ScoreRequest request;
  request.sequences = raggedArg(r, "sequences", op);
  request.answerSpans = spansArg(r, "answerSpans", op);
  request.promptSpans = spansArg(r, "promptSpans", op);
  return runAsync<ScoreResult>(
      info.Env(), "scoreAnswers", [model, request, cancel] { return scoreAnswers(*model, request, cancel.get()); },
      [](Napi::Env env, ScoreResult& result) -> Napi::Value {
        auto out = Napi::Object::New(env);
        out.Set("answerLoss", floatArray(env, result.answerLoss));
        auto exact = Napi::Uint8Array::New(env, result.exactMatch.size());
        std::copy(result.exactMatch.begin(), result.exactMatch.end(), exact.Data());
        out.Set("exactMatch", exact);
        out.Set("promptNll", floatArray(env, result.promptNll));
        return out;
      });
}

}  // namespace

void registerModelBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("loadModel", Napi::Function::New(env, LoadModelJs, "loadModel"));
  exports.Set("modelInfo", Napi::Function::New(env, ModelInfoJs, "modelInfo"));
  exports.Set("disposeModel", Napi::Function::New(env, DisposeModelJs, "disposeModel"));
  exports.Set("createCancelToken", Napi::Function::New(env, CreateCancelTokenJs, "createCancelToken"));
  exports.Set("cancel", Napi::Function::New(env, CancelJs, "cancel"));
  exports.Set("modelLogProbs", Napi::Function::New(env, LogProbsJs, "modelLogProbs"));
  exports.Set("modelGenerate", Napi::Function::New(env, GenerateJs, "modelGenerate"));
  exports.Set("modelGenerateRetaining", Napi::Function::New(env, GenerateRetainingJs, "modelGenerateRetaining"));
  exports.Set("modelScoreContinuations", Napi::Function::New(env, ScoreContinuationsJs, "modelScoreContinuations"));
  exports.Set("releaseGeneration", Napi::Function::New(env, ReleaseGenerationJs, "releaseGeneration"));
  exports.Set("modelTopCandidates", Napi::Function::New(env, TopCandidatesJs, "modelTopCandidates"));
  exports.Set("modelOneHotGradient", Napi::Function::New(env, OneHotGradientJs, "modelOneHotGradient"));
  exports.Set("modelScoreAnswers", Napi::Function::New(env, ScoreAnswersJs, "modelScoreAnswers"));
}

}  // namespace greater::addon
