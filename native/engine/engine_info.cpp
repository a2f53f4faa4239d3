#include "engine/engine_info.h"

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

void setThreads(int threads) {
  if (threads > 0) at::set_num_threads(threads);
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
