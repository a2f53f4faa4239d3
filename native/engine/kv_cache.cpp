#include "engine/kv_cache.h"

namespace greater {

KVCache::KVCache(int64_t numLayers, int64_t batch, int64_t kvHeads, int64_t capacity, int64_t headDim,
                 const torch::TensorOptions& options)
    : batch_(batch), capacity_(capacity) {
  keys_.reserve(numLayers);
  values_.reserve(numLayers);
  for (int64_t i = 0; i < numLayers; ++i) {
    // Zero-filled rather than empty: slots never written (none in practice) must not hold NaN bit patterns.
    keys_.push_back(torch::zeros({batch, kvHeads, capacity, headDim}, options));
    values_.push_back(torch::zeros({batch, kvHeads, capacity, headDim}, options));
  }
  const auto device = options.device();
  slotPositions_ = torch::zeros({batch, capacity}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  slotValid_ = torch::zeros({batch, capacity}, torch::TensorOptions().dtype(torch::kBool).device(device));
}

void KVCache::write(int64_t layer, int64_t offset, const torch::Tensor& keys, const torch::Tensor& values) {
  const int64_t length = keys.size(2);
  TORCH_CHECK(offset >= 0 && offset + length <= capacity_, "KVCache::write: slots [", offset, ", ", offset + length,
              ") exceed the capacity ", capacity_);
  keys_[layer].narrow(2, offset, length).copy_(keys);
  values_[layer].narrow(2, offset, length).copy_(values);
}

torch::Tensor KVCache::keys(int64_t layer, int64_t length) const { return keys_[layer].narrow(2, 0, length); }

torch::Tensor KVCache::values(int64_t layer, int64_t length) const { return values_[layer].narrow(2, 0, length); }

void KVCache::keepRows(const torch::Tensor& rows) {
  for (auto& k : keys_) k = k.index_select(0, rows);
  for (auto& v : values_) v = v.index_select(0, rows);
  slotPositions_ = slotPositions_.index_select(0, rows);
  slotValid_ = slotValid_.index_select(0, rows);
  batch_ = rows.size(0);
}

std::unique_ptr<KVCache> KVCache::copyRows(const torch::Tensor& rows, int64_t length) const {
  TORCH_CHECK(length >= 0 && length <= capacity_, "KVCache::copyRows: length ", length, " exceeds the capacity ", capacity_);
  // Built empty and filled: narrowing first makes index_select copy only the slots kept.
  std::unique_ptr<KVCache> out(new KVCache(rows.size(0), length));
  for (size_t layer = 0; layer < keys_.size(); ++layer) {
    out->keys_.push_back(keys_[layer].narrow(2, 0, length).index_select(0, rows));
    out->values_.push_back(values_[layer].narrow(2, 0, length).index_select(0, rows));
  }
  out->slotPositions_ = slotPositions_.narrow(1, 0, length).index_select(0, rows);
  out->slotValid_ = slotValid_.narrow(1, 0, length).index_select(0, rows);
  return out;
}

void KVCache::placeRows(const KVCache& source, const torch::Tensor& rows) {
  const int64_t length = source.capacity_;
  TORCH_CHECK(length <= capacity_, "KVCache::placeRows: the source's ", length, " slots exceed the capacity ", capacity_);
  TORCH_CHECK(rows.size(0) == source.batch_, "KVCache::placeRows: ", rows.size(0), " row indices for ", source.batch_, " rows");
  TORCH_CHECK(source.keys_.size() == keys_.size(), "KVCache::placeRows: the source has another number of layers");
  for (size_t layer = 0; layer < keys_.size(); ++layer) {
    keys_[layer].narrow(2, 0, length).index_copy_(0, rows, source.keys_[layer]);
    values_[layer].narrow(2, 0, length).index_copy_(0, rows, source.values_[layer]);
  }
  slotPositions_.narrow(1, 0, length).index_copy_(0, rows, source.slotPositions_);
  slotValid_.narrow(1, 0, length).index_copy_(0, rows, source.slotValid_);
}

std::unique_ptr<KVCache> KVCache::rowsView(int64_t start, int64_t rows) {
  TORCH_CHECK(start >= 0 && rows >= 0 && start + rows <= batch_, "KVCache::rowsView: rows [", start, ", ", start + rows,
              ") exceed the batch of ", batch_);
  std::unique_ptr<KVCache> out(new KVCache(rows, capacity_));
  for (size_t layer = 0; layer < keys_.size(); ++layer) {
    out->keys_.push_back(keys_[layer].narrow(0, start, rows));
    out->values_.push_back(values_[layer].narrow(0, start, rows));
  }
  out->slotPositions_ = slotPositions_.narrow(0, start, rows);
  out->slotValid_ = slotValid_.narrow(0, start, rows);
  return out;
}

void KVCache::placeShared(const KVCache& source) {
  const int64_t length = source.capacity_;
  TORCH_CHECK(source.batch_ == 1, "KVCache::placeShared: the source has ", source.batch_, " rows, not 1");
  TORCH_CHECK(length <= capacity_, "KVCache::placeShared: the source's ", length, " slots exceed the capacity ", capacity_);
  TORCH_CHECK(source.keys_.size() == keys_.size(), "KVCache::placeShared: the source has another number of layers");
  for (size_t layer = 0; layer < keys_.size(); ++layer) {
    auto keys = keys_[layer].narrow(2, 0, length);
    keys.copy_(source.keys_[layer].expand_as(keys));
    auto values = values_[layer].narrow(2, 0, length);
    values.copy_(source.values_[layer].expand_as(values));
  }
}

KVCache::KVCache(int64_t batch, int64_t capacity) : batch_(batch), capacity_(capacity) {}

}  // namespace greater
