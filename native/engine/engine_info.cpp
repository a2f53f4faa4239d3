#include "engine/engine_info.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

#include <torch/torch.h>
#include <torch/version.h>

namespace greater {

EngineInfo engineInfo() {
  EngineInfo info;
  info.libtorchVersion = TORCH_VERSION;
#ifdef GREATER_WITH_CUDA
  info.cudaCompiled = true;
  info.variant = "cuda";
#else
  info.variant = "cpu";
#endif
  info.devices.push_back("cpu");
  if (info.cudaCompiled && torch::cuda::is_available()) {
    info.cudaAvailable = true;
    const auto count = torch::cuda::device_count();
    for (int i = 0; i < static_cast<int>(count); ++i) info.devices.push_back("cuda:" + std::to_string(i));
  }
  info.threads = at::get_num_threads();
  return info;
}

int maxThreads() {
  // Far more threads than cores only slows the work down, and tens of thousands make the OpenMP runtime abort
  // or crash when it cannot create them: four per core (at least 16) is the ceiling.
  const unsigned cores = std::thread::hardware_concurrency();
  return std::max(16, 4 * static_cast<int>(cores == 0 ? 1 : cores));
}

void setThreads(int threads) {
  if (threads < 1 || threads > maxThreads())
    throw std::invalid_argument("setThreads: threads must be between 1 and " + std::to_string(maxThreads()) +
                                " (four per core on this machine), got " + std::to_string(threads));
  at::set_num_threads(threads);
}

double matmulChecksum(int64_t size, uint64_t seed) {
  TORCH_CHECK(size > 0, "matmulChecksum: size must be positive, got ", size);
  torch::NoGradGuard noGrad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto a = at::randn({size, size}, gen, torch::kFloat64);
  auto b = at::randn({size, size}, gen, torch::kFloat64);
  return at::matmul(a, b).sum().item<double>();
}

}  // namespace greater
