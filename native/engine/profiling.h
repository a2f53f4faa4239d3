// Opt-in profiles of engine operations, for finding where time goes on a machine we only get for minutes (a GPU
// lease): with the profileDir setting (settings.h) set, every operation the addon runs records a PyTorch (Kineto) profile of
// its CPU ops, and of its CUDA kernels on a GPU, and writes two files into that folder:
//   <pid>-<n>-<op>.json  the trace (chrome://tracing, Perfetto, TensorBoard)
//   <pid>-<n>-<op>.txt   a summary: wall time, CPU self time per op (CUDA runtime calls such as waits
//                        included), GPU time per kernel, each with call counts, largest first
// One operation is profiled at a time (the profiler is process-wide); others wait for it.
#pragma once
#include <memory>
#include <mutex>
#include <string>

namespace greater {

class OperationProfile {
 public:
  // Starts profiling `op` when the profileDir setting is set; otherwise does nothing.
  explicit OperationProfile(const std::string& op);
  // Stops and writes the files. A failure to write is reported on stderr, never thrown: a profile must not
  // fail the operation it watches.
  ~OperationProfile();
  OperationProfile(const OperationProfile&) = delete;
  OperationProfile& operator=(const OperationProfile&) = delete;

 private:
  std::unique_lock<std::mutex> lock_;
  std::string path_;  // file path without extension; empty when not profiling
  double startMs_ = 0;
};

}  // namespace greater
