// What the engine was built with and what it can see at run time. Pure C++: no Node types.
#pragma once
#include <string>
#include <vector>

namespace greater {

struct EngineInfo {
  std::string libtorchVersion;   // the libtorch headers this binary was compiled against
  std::string variant;           // "cpu" or "cuda"
  bool cudaCompiled = false;     // built against libtorch_cuda
  bool cudaAvailable = false;    // a CUDA device is usable now
  std::vector<std::string> devices;  // "cpu", "cuda:0", ...
  int threads = 1;               // intra-op CPU threads
};

EngineInfo engineInfo();

// The largest thread count setThreads accepts (four per core, at least 16).
int maxThreads();
// Sets libtorch's intra-op threads; throws std::invalid_argument outside [1, maxThreads()].
void setThreads(int threads);

// A small real tensor workload used to prove the asynchronous pipe end to end:
// the sum of (A @ B) for seeded random size x size matrices. Throws on size <= 0.
double matmulChecksum(int64_t size, uint64_t seed);

}  // namespace greater
