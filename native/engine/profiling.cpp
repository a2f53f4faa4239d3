#include "engine/profiling.h"

#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <vector>

#include "engine/settings.h"

namespace greater {

namespace {
namespace profiler = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

std::mutex& profilerMutex() {
  static std::mutex mutex;
  return mutex;
}

double nowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Totals {
  int64_t calls = 0;
  double ms = 0;
};

// CPU events nest (an op calls ops); self time is an event's duration less its direct children's, found per
// thread by walking the events in start order with a stack of the ones still open.
std::map<std::string, Totals> cpuSelfTimes(const std::vector<profiler::KinetoEvent>& events) {
  std::map<uint64_t, std::vector<const profiler::KinetoEvent*>> byThread;
  for (const auto& e : events)
    if (e.deviceType() == c10::DeviceType::CPU) byThread[e.startThreadId()].push_back(&e);
  std::map<std::string, Totals> totals;
  for (auto& [thread, list] : byThread) {
    std::sort(list.begin(), list.end(), [](auto* a, auto* b) {
      return a->startNs() != b->startNs() ? a->startNs() < b->startNs() : a->durationNs() > b->durationNs();
    });
    std::vector<double> childNs(list.size(), 0);
    std::vector<size_t> open;
    for (size_t i = 0; i < list.size(); ++i) {
      while (!open.empty() && list[open.back()]->endNs() <= list[i]->startNs()) open.pop_back();
      if (!open.empty()) childNs[open.back()] += static_cast<double>(list[i]->durationNs());
      open.push_back(i);
    }
    for (size_t i = 0; i < list.size(); ++i) {
      auto& t = totals[list[i]->name()];
      ++t.calls;
      t.ms += std::max(0.0, static_cast<double>(list[i]->durationNs()) - childNs[i]) / 1e6;
    }
  }
  return totals;
}

void writeTable(std::ostream& out, const std::string& title, const std::map<std::string, Totals>& totals) {
  std::vector<std::pair<std::string, Totals>> rows(totals.begin(), totals.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
  double sum = 0;
  for (const auto& [name, t] : rows) sum += t.ms;
  out << "\n" << title << " (" << std::fixed << std::setprecision(1) << sum << " ms in all)\n";
  out << std::setw(12) << "ms" << std::setw(10) << "calls" << "  name\n";
  for (size_t i = 0; i < rows.size() && i < 40; ++i)
    out << std::setw(12) << std::setprecision(3) << rows[i].second.ms << std::setw(10) << rows[i].second.calls << "  "
        << rows[i].first << "\n";
}
}  // namespace

OperationProfile::OperationProfile(const std::string& op) {
  const std::string dir = engineSettings().profileDir;
  if (dir.empty()) return;
  static std::atomic<int> count{0};
  lock_ = std::unique_lock<std::mutex>(profilerMutex());
  std::set<ActivityType> activities{ActivityType::CPU};
  if (torch::cuda::is_available()) activities.insert(ActivityType::CUDA);
  const ProfilerConfig config(ProfilerState::KINETO, /*report_input_shapes=*/true);
  profiler::prepareProfiler(config, activities);
  profiler::enableProfiler(config, activities);
  path_ = dir + "/" + std::to_string(getpid()) + "-" + std::to_string(++count) + "-" + op;
  startMs_ = nowMs();
}

OperationProfile::~OperationProfile() {
  if (path_.empty()) return;
  try {
    const double wallMs = nowMs() - startMs_;
    auto result = profiler::disableProfiler();
    result->save(path_ + ".json");
    std::map<std::string, Totals> kernels;
    for (const auto& e : result->events())
      if (e.deviceType() == c10::DeviceType::CUDA) {
        auto& t = kernels[e.name()];
        ++t.calls;
        t.ms += static_cast<double>(e.durationNs()) / 1e6;
      }
    std::ofstream out(path_ + ".txt");
    out << std::fixed << std::setprecision(1) << "wall " << wallMs << " ms\n";
    writeTable(out, "CPU self time per op (CUDA runtime calls included)", cpuSelfTimes(result->events()));
    if (!kernels.empty()) writeTable(out, "GPU time per kernel", kernels);
    if (!out) throw std::runtime_error("could not write " + path_ + ".txt");
  } catch (const std::exception& e) {
    std::cerr << "greater: profileDir: " << e.what() << "\n";
  }
}

}  // namespace greater
