#include "engine/argmax_screen.h"

#include "engine/dispatcher_ops.h"
#include "engine/settings.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace greater {

namespace {
// PyTorch's x86 int8 path (see dispatcher_ops.h).
const std::optional<c10::OperatorHandle>& prepackOp() {
  static const auto op = findCpuOp("onednn::qlinear_prepack");
  return op;
}

const std::optional<c10::OperatorHandle>& int8LinearOp() {
  static const auto op = findCpuOp("onednn::qlinear_pointwise");
  return op;
}

constexpr int64_t kActivationLevels = 63;  // |q| <= 63 around zero point 64: 7 bits, see the header
constexpr int64_t kActivationZeroPoint = 64;
constexpr int64_t kWeightLevels = 127;
// A row with more candidates than this goes to the fallback: recomputing them would cost about what the
// float32 projection of that row costs. The argmaxScreenCandidates setting overrides it; 0 turns the screen off.
constexpr int64_t kDefaultMaxCandidates = 4096;
// oneDNN's u8 x s8 product beats the packed float32 one on AVX2 at one row (it reads a quarter of the bytes)
// and from about 16 rows on, but not in between (bench/README.md). Batches of 2 to 15 rows take the float32 path.
constexpr int64_t kMinScreenedBatch = 16;
// Weight rows quantized per block while preparing, so the double-precision temporaries stay small.
constexpr int64_t kPrepareRows = 8192;

// The largest of the row norms of m [rows, in] (double).
double maxRowNorm(const torch::Tensor& m) { return m.numel() ? m.norm(2, {1}).max().item<double>() : 0.0; }

double dot(const float* a, const float* b, int64_t n) {
  double sum = 0;
  for (int64_t k = 0; k < n; ++k) sum += static_cast<double>(a[k]) * static_cast<double>(b[k]);
  return sum;
}
}  // namespace

ArgmaxScreen::ArgmaxScreen(torch::Tensor weight) : weight_(std::move(weight)) {
  TORCH_CHECK(weight_.dim() == 2 && weight_.scalar_type() == torch::kFloat32 && weight_.device().is_cpu() &&
                  weight_.stride(1) == 1 && weight_.stride(0) == weight_.size(1),
              "ArgmaxScreen: the weight must be a contiguous [out, in] float32 CPU matrix");
}

bool ArgmaxScreen::available() { return at::hasMKLDNN() && prepackOp() && int8LinearOp(); }

void ArgmaxScreen::prepare() const {
  try {
    if (!torch::isfinite(weight_).all().item<bool>()) return;  // no bound holds; every row falls back
    const int64_t out = weight_.size(0);
    auto quantized = torch::empty_like(weight_, torch::TensorOptions().dtype(torch::kInt8));
    scales_ = torch::empty({out}, torch::TensorOptions().dtype(torch::kFloat32));
    for (int64_t start = 0; start < out; start += kPrepareRows) {
      const int64_t rows = std::min(kPrepareRows, out - start);
      auto w = weight_.narrow(0, start, rows).to(torch::kFloat64);  // [rows, in]
      auto absMax = w.abs().amax(1);
      // The scale oneDNN multiplies by is the float32 one, so the bounds use exactly that value.
      auto scale = torch::where(absMax > 0, absMax / kWeightLevels, torch::ones_like(absMax)).to(torch::kFloat32);
      const auto columnScale = scale.to(torch::kFloat64).unsqueeze(1);  // [rows, 1]
      auto q = torch::round(w / columnScale).clamp_(-kWeightLevels, kWeightLevels);
      auto dequantized = q * columnScale;
      maxRowNorm_ = std::max(maxRowNorm_, maxRowNorm(w));
      maxResidualNorm_ = std::max(maxResidualNorm_, maxRowNorm(w - dequantized));
      maxQuantizedNorm_ = std::max(maxQuantizedNorm_, maxRowNorm(dequantized));
      scales_.narrow(0, start, rows).copy_(scale);
      quantized.narrow(0, start, rows).copy_(q.to(torch::kInt8));
    }
    zeroPoints_ = torch::zeros({out}, torch::TensorOptions().dtype(torch::kInt64));
    torch::jit::Stack stack{quantized, c10::IValue()};
    prepackOp()->callBoxed(&stack);
    packed_ = stack.at(0).toTensor();
    usable_ = true;
  } catch (const c10::OutOfMemoryError&) {
    throw;  // not a verdict on the screen: call_once tries again on the next call
  } catch (const std::exception&) {
    usable_ = false;  // e.g. a oneDNN build without int8 support for this CPU: the float32 path serves
  }
}

torch::Tensor ArgmaxScreen::argmax(const torch::Tensor& hidden, const Fallback& fallback) const {
  const int64_t rows = hidden.size(0), in = hidden.size(1);
  const size_t maxCandidates = static_cast<size_t>(engineSettings().argmaxScreenCandidates.value_or(kDefaultMaxCandidates));
  if (maxCandidates == 0 || rows == 0 || (rows > 1 && rows < kMinScreenedBatch)) return fallback(hidden);
  std::call_once(prepareOnce_, [this] { prepare(); });
  if (!usable_) return fallback(hidden);
  const auto x = hidden.contiguous();
  const float* xData = x.data_ptr<float>();

  // Each row quantized on its own scale. The int8 op takes one activation scale for the whole batch, so it
  // gets 1 and returns y[b, j] = q_b . w^_j, the int8 logit divided by the row's scale: the row's order is
  // the same, and the screen below works in those units.
  auto activations = torch::empty({rows, in}, torch::TensorOptions().dtype(torch::kUInt8));
  uint8_t* activationData = activations.data_ptr<uint8_t>();
  std::vector<double> errorBound(rows);  // in y's units
  std::vector<uint8_t> screened(rows, 1);  // not vector<bool>: rows are written from several threads
  for (int64_t b = 0; b < rows; ++b) {
    const float* row = xData + b * in;
    float absMax = 0;
    bool finite = true;
    for (int64_t k = 0; k < in; ++k) {
      finite = finite && std::isfinite(row[k]);
      absMax = std::max(absMax, std::fabs(row[k]));
    }
    uint8_t* q = activationData + b * in;
    if (!finite) {
      screened[b] = 0;
      std::fill(q, q + in, static_cast<uint8_t>(kActivationZeroPoint));
      continue;
    }
    const double scale = absMax > 0 ? static_cast<double>(absMax) / kActivationLevels : 1.0;
    double residual2 = 0, dequantized2 = 0, levels2 = 0;
    for (int64_t k = 0; k < in; ++k) {
      const double level = std::clamp<double>(std::nearbyint(row[k] / scale), -kActivationLevels, kActivationLevels);
      q[k] = static_cast<uint8_t>(level + kActivationZeroPoint);
      residual2 += (row[k] - level * scale) * (row[k] - level * scale);
      dequantized2 += (level * scale) * (level * scale);
      levels2 += level * level;
    }
    // |scale * y - exact| <= ||x - x^|| ||w|| + ||x^|| ||w - w^||, and the float32 rounding of y itself is
    // below a few ulps of ||q|| max||w^||. Both are doubled below (the best token's logit may be low by as
    // much as a rival's is high), with a relative margin for this double arithmetic.
    errorBound[b] = (std::sqrt(residual2) * maxRowNorm_ + std::sqrt(dequantized2) * maxResidualNorm_) / scale * (1 + 1e-6) +
                    1e-6 * std::sqrt(levels2) * maxQuantizedNorm_;
  }

  torch::Tensor y;
  try {
    torch::jit::Stack stack{activations, 1.0, kActivationZeroPoint, packed_, scales_, zeroPoints_, c10::IValue(),
                            1.0, int64_t{0}, c10::IValue(c10::ScalarType::Float), c10::IValue(std::string("none")),
                            c10::IValue(c10::List<std::optional<at::Scalar>>()), c10::IValue(std::string(""))};
    int8LinearOp()->callBoxed(&stack);
    y = stack.at(0).toTensor();  // [rows, out] float32
  } catch (const c10::OutOfMemoryError&) {
    throw;  // the float32 path would need as much
  } catch (const std::exception&) {
    return fallback(hidden);
  }
  const auto best = y.amax(1);
  const float* yData = y.data_ptr<float>();
  const float* bestData = best.data_ptr<float>();
  const float* wData = weight_.data_ptr<float>();
  const int64_t out = y.size(1);

  auto ids = torch::empty({rows}, torch::TensorOptions().dtype(torch::kInt64));
  int64_t* idData = ids.data_ptr<int64_t>();
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> candidates;
    for (int64_t b = begin; b < end; ++b) {
      if (!screened[b]) continue;
      // Rounded down, so float32 comparison keeps every token the bound allows.
      const float threshold = std::nextafter(static_cast<float>(bestData[b] - 2 * errorBound[b]), -INFINITY);
      const float* row = yData + b * out;
      candidates.clear();
      constexpr int64_t kBlock = 64;  // branch-free test of a block, then a look inside the rare hits
      int64_t j = 0;
      for (; j + kBlock <= out && candidates.size() <= maxCandidates; j += kBlock) {
        int hit = 0;
        for (int64_t i = 0; i < kBlock; ++i) hit |= row[j + i] >= threshold;
        if (!hit) continue;
        for (int64_t i = 0; i < kBlock; ++i)
          if (row[j + i] >= threshold) candidates.push_back(j + i);
      }
      for (; j < out && candidates.size() <= maxCandidates; ++j)
        if (row[j] >= threshold) candidates.push_back(j);
      if (candidates.size() > maxCandidates || candidates.empty()) {
        screened[b] = 0;
        continue;
      }
      const float* xRow = xData + b * in;
      int64_t bestId = candidates.front();
      double bestLogit = -std::numeric_limits<double>::infinity();
      for (int64_t id : candidates) {  // ascending: a tie keeps the first
        const double logit = dot(xRow, wData + id * in, in);
        if (logit > bestLogit) {
          bestLogit = logit;
          bestId = id;
        }
      }
      idData[b] = bestId;
    }
  });

  std::vector<int64_t> rest;
  for (int64_t b = 0; b < rows; ++b)
    if (!screened[b]) rest.push_back(b);
  if (!rest.empty()) {
    auto restRows = torch::tensor(rest, torch::TensorOptions().dtype(torch::kInt64));
    ids.index_copy_(0, restRows, fallback(x.index_select(0, restRows)).to(torch::kCPU));
  }
  return ids;
}

}  // namespace greater
