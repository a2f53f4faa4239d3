// Module entry point: only wiring. Engine logic lives in native/engine/.
#include <napi.h>

#include "addon/bindings.h"
#include "engine/memory_guard.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  greater::installCpuMemoryGuard();  // CPU allocations the machine cannot back throw instead of getting us killed
  greater::addon::registerInfoBindings(env, exports);
  greater::addon::registerModelBindings(env, exports);
  return exports;
}

NODE_API_MODULE(greater, Init)
