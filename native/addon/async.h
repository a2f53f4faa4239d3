// Runs engine work off the JS thread and settles a Promise with the result. C++ exceptions
// (std::exception, c10::Error) become a rejected Promise whose Error carries the message; CUDA
// out-of-memory is tagged with code "OUT_OF_MEMORY" so JS can split the batch and retry, after the CUDA allocator's
// cached blocks are handed back (every operation, in this one place).
#pragma once
#include <napi.h>
#include <c10/util/Exception.h>

#include "engine/memory_guard.h"
#include "engine/profiling.h"

#include <functional>
#include <memory>
#include <string>

namespace greater::addon {

template <typename Result>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<Result()>;
  using Convert = std::function<Napi::Value(Napi::Env, Result&)>;

  PromiseWorker(Napi::Env env, std::string name, Work work, Convert convert)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), name_(std::move(name)),
        work_(std::move(work)), convert_(std::move(convert)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      OperationProfile profile(name_);  // only with the profileDir setting set
      result_ = std::make_unique<Result>(work_());
    } catch (const c10::OutOfMemoryError& e) {
      releaseCachedDeviceMemory();
      errorCode_ = "OUT_OF_MEMORY";
      SetError(e.what_without_backtrace());
    } catch (const c10::Error& e) {
      SetError(e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(convert_(env, *result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& error) override {
    Napi::Error e = Napi::Error::New(Env(), error.Message());
    if (!errorCode_.empty()) e.Set("code", Napi::String::New(Env(), errorCode_));
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string name_;
  Work work_;
  Convert convert_;
  std::unique_ptr<Result> result_;
  std::string errorCode_;
};

// Queues `work` (the operation `name`, as profiles name it) on libuv's thread pool and returns the Promise it
// will settle.
template <typename Result>
Napi::Promise runAsync(Napi::Env env, std::string name, typename PromiseWorker<Result>::Work work,
                       typename PromiseWorker<Result>::Convert convert) {
  auto* worker = new PromiseWorker<Result>(env, std::move(name), std::move(work), std::move(convert));
  auto promise = worker->Promise();
  worker->Queue();  // libuv owns and deletes the worker after OnOK/OnError
  return promise;
}

}  // namespace greater::addon
