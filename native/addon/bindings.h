// Each binding file registers its functions here; addon.cpp calls them all at module init.
#pragma once
#include <napi.h>

namespace greater::addon {
void registerInfoBindings(Napi::Env env, Napi::Object exports);
void registerModelBindings(Napi::Env env, Napi::Object exports);
}  // namespace greater::addon
