#include "engine/token_batch.h"

#include <algorithm>
#include <stdexcept>

namespace greater {

PaddedTokens padRows(const TokenRows& rows, int64_t width, bool left, const torch::Device& device) {
  const int64_t batch = static_cast<int64_t>(rows.size());
  PaddedTokens out;
  out.width = width;
  auto ids = torch::zeros({batch, width}, torch::kInt64);
  auto valid = torch::zeros({batch, width}, torch::kBool);
  auto positions = torch::zeros({batch, width}, torch::kInt64);
  auto idsData = ids.accessor<int64_t, 2>();
  auto validData = valid.accessor<bool, 2>();
  auto positionData = positions.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto& row = rows[b];
    const int64_t length = static_cast<int64_t>(row.size());
    const int64_t offset = left ? width - length : 0;
    out.padLeft.push_back(offset);
    for (int64_t j = 0; j < length; ++j) {
      idsData[b][offset + j] = row[j];
      validData[b][offset + j] = true;
      positionData[b][offset + j] = j;
    }
  }
  out.ids = ids.to(device);
  out.valid = valid.to(device);
  out.positions = positions.to(device);
  return out;
}

void checkTokenIds(const std::vector<int64_t>& ids, int64_t vocab, const std::string& what) {
  for (size_t j = 0; j < ids.size(); ++j)
    if (ids[j] < 0 || ids[j] >= vocab)
      throw std::invalid_argument(what + "[" + std::to_string(j) + "] = " + std::to_string(ids[j]) +
                                  " is not a token id of this model (vocabulary size " + std::to_string(vocab) + ")");
}

void checkTokenIds(const TokenRows& rows, int64_t vocab, const std::string& what) {
  for (size_t b = 0; b < rows.size(); ++b) checkTokenIds(rows[b], vocab, what + "[" + std::to_string(b) + "]");
}

void checkRows(const TokenRows& rows, int64_t minLength, const std::string& what) {
  if (rows.empty()) throw std::invalid_argument(what + " is empty (need at least one row)");
  for (size_t b = 0; b < rows.size(); ++b)
    if (static_cast<int64_t>(rows[b].size()) < minLength)
      throw std::invalid_argument(what + "[" + std::to_string(b) + "] has " + std::to_string(rows[b].size()) +
                                  " tokens; at least " + std::to_string(minLength) + " needed");
}

void checkSpans(const TokenRows& rows, const std::string& rowsName, const std::vector<Span>& spans, const std::string& spansName,
                SpanRules rules, const std::string& op) {
  if (spans.size() != rows.size())
    throw std::invalid_argument(op + ": " + spansName + " has " + std::to_string(spans.size()) + " entries but " + rowsName + " has " +
                                std::to_string(rows.size()) + " rows");
  for (size_t b = 0; b < spans.size(); ++b) {
    const Span& s = spans[b];
    const int64_t length = static_cast<int64_t>(rows[b].size());
    // Built by appending: GCC 12 warns (falsely, -Wstringop-overflow) on "literal" + std::string&&.
    std::string where(op);
    where.append(": ").append(spansName).append("[").append(std::to_string(b)).append("] = [");
    where.append(std::to_string(s.start)).append(", ").append(std::to_string(s.end)).append(")");
    if (s.start < 0 || s.start > s.end || s.end > length)
      throw std::invalid_argument(where + " is not a range inside " + rowsName + "[" + std::to_string(b) + "] (length " +
                                  std::to_string(length) + ")");
    if (s.start == s.end && !rules.allowEmpty) throw std::invalid_argument(where + " is empty");
    if (rules.needsPredecessor && s.start == 0 && s.end > 0)
      throw std::invalid_argument(where + " starts at 0; its first token has no preceding position to predict it");
  }
}

void checkPositions(const TokenRows& rows, int64_t extra, int64_t maxPositions, const std::string& what) {
  for (size_t b = 0; b < rows.size(); ++b) {
    const int64_t length = static_cast<int64_t>(rows[b].size());
    if (length + extra > maxPositions)
      throw std::invalid_argument(what + "[" + std::to_string(b) + "] has " + std::to_string(length) + " tokens" +
                                  (extra > 0 ? " and maxNewTokens is " + std::to_string(extra) : std::string()) + ": " +
                                  std::to_string(length + extra) + " positions exceed the model's max_position_embeddings (" +
                                  std::to_string(maxPositions) + ")");
  }
}

int64_t maxLength(const TokenRows& rows) {
  size_t longest = 0;
  for (const auto& r : rows) longest = std::max(longest, r.size());
  return static_cast<int64_t>(longest);
}

std::vector<float> toFloatVector(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

torch::Tensor longTensor(const std::vector<int64_t>& values, const torch::Device& device) {
  return torch::tensor(values, torch::kInt64).to(device);
}

}  // namespace greater
