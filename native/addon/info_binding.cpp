// N-API glue for engine-wide calls: engineInfo, setThreads, setEngineSettings, and the async self-test.
#include <napi.h>

#include "addon/async.h"
#include "addon/bindings.h"
#include "engine/engine_info.h"
#include "engine/settings.h"

namespace greater::addon {

static Napi::Value EngineInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto e = greater::engineInfo();
  auto out = Napi::Object::New(env);
  out.Set("libtorchVersion", e.libtorchVersion);
  out.Set("variant", e.variant);
  out.Set("cudaCompiled", e.cudaCompiled);
  out.Set("cudaAvailable", e.cudaAvailable);
  auto devices = Napi::Array::New(env, e.devices.size());
  for (size_t i = 0; i < e.devices.size(); ++i) devices.Set(i, e.devices[i]);
  out.Set("devices", devices);
  out.Set("threads", e.threads);
  return out;
}

static Napi::Value SetThreadsJs(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber())
    throw Napi::TypeError::New(info.Env(), "setThreads(threads): threads must be a number");
  // Range-checked as a double: Int32Value would wrap 2^32 + 1 to 1.
  const double threads = info[0].As<Napi::Number>().DoubleValue();
  if (!(threads >= 1 && threads <= greater::maxThreads()) || threads != static_cast<double>(static_cast<int>(threads)))
    throw Napi::RangeError::New(info.Env(), "setThreads: threads must be an integer between 1 and " +
                                                std::to_string(greater::maxThreads()) + " (four per core on this machine), got " +
                                                Napi::Number::New(info.Env(), threads).ToString().Utf8Value());
  greater::setThreads(static_cast<int>(threads));
  return info.Env().Undefined();
}

// setEngineSettings({ logitChunkBytes?, prefillGroupCost?, argmaxScreenCandidates?, cpuMemoryAvailable?, profileDir? }):
// replaces all settings (a field left out is unset). The TS layer validates first; the engine checks ranges again.
static Napi::Value SetEngineSettingsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "setEngineSettings(settings): settings must be an object");
  const auto object = info[0].As<Napi::Object>();
  const auto integer = [&](const char* field) -> std::optional<int64_t> {
    const auto value = object.Get(field);
    if (value.IsUndefined() || value.IsNull()) return std::nullopt;
    if (!value.IsNumber()) throw Napi::TypeError::New(env, std::string("setEngineSettings: ") + field + " must be a number");
    const double d = value.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d)))
      throw Napi::RangeError::New(env, std::string("setEngineSettings: ") + field + " must be an integer");
    return static_cast<int64_t>(d);
  };
  greater::EngineSettings settings;
  settings.logitChunkBytes = integer("logitChunkBytes");
  settings.prefillGroupCost = integer("prefillGroupCost");
  settings.argmaxScreenCandidates = integer("argmaxScreenCandidates");
  settings.cpuMemoryAvailable = integer("cpuMemoryAvailable");
  const auto dir = object.Get("profileDir");
  if (dir.IsString()) settings.profileDir = dir.As<Napi::String>().Utf8Value();
  else if (!dir.IsUndefined() && !dir.IsNull()) throw Napi::TypeError::New(env, "setEngineSettings: profileDir must be a string");
  try {
    greater::setEngineSettings(settings);
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  }
  return env.Undefined();
}

static Napi::Value MatmulChecksumJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw Napi::TypeError::New(env, "matmulChecksum(size, seed): size must be a number");
  const int64_t size = info[0].As<Napi::Number>().Int64Value();
  const uint64_t seed = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int64Value() : 0;
  return runAsync<double>(
      env, "matmulChecksum", [size, seed] { return greater::matmulChecksum(size, seed); },
      [](Napi::Env env, double& v) -> Napi::Value { return Napi::Number::New(env, v); });
}

void registerInfoBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("engineInfo", Napi::Function::New(env, EngineInfoJs, "engineInfo"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreadsJs, "setThreads"));
  exports.Set("setEngineSettings", Napi::Function::New(env, SetEngineSettingsJs, "setEngineSettings"));
  exports.Set("matmulChecksum", Napi::Function::New(env, MatmulChecksumJs, "matmulChecksum"));
}

}  // namespace greater::addon
