// A static key/value cache (gpt-fast style): per layer, keys and values of shape
// [batch, kv_heads, capacity, head_dim] allocated once and written by slot index. Beside them, per slot,
// the rope position of the token stored there and whether the slot holds a real token (left padding does
// not), which the attention masks are built from.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

namespace greater {

class KVCache {
 public:
  KVCache(int64_t numLayers, int64_t batch, int64_t kvHeads, int64_t capacity, int64_t headDim,
          const torch::TensorOptions& options);

  int64_t batch() const { return batch_; }
  int64_t capacity() const { return capacity_; }

  // Writes keys/values [batch, kv_heads, T, head_dim] at slots [offset, offset + T) of `layer`.
  void write(int64_t layer, int64_t offset, const torch::Tensor& keys, const torch::Tensor& values);
  // Views of slots [0, length) of `layer`: [batch, kv_heads, length, head_dim].
  torch::Tensor keys(int64_t layer, int64_t length) const;
  torch::Tensor values(int64_t layer, int64_t length) const;

  // Per slot: rope position [batch, capacity] (int64) and validity [batch, capacity] (bool).
  torch::Tensor& slotPositions() { return slotPositions_; }
  torch::Tensor& slotValid() { return slotValid_; }

  // Keeps only the batch rows in `rows` (int64 indices, on the cache's device), in that order: used to drop
  // finished sequences from a generation so that they stop costing compute. One copy of the cache.
  void keepRows(const torch::Tensor& rows);

  // A new cache holding only the batch rows in `rows` (int64 indices, in that order) and only slots
  // [0, length): what a finished row needs kept, without the slots it never wrote.
  std::unique_ptr<KVCache> copyRows(const torch::Tensor& rows, int64_t length) const;
  // Writes every row of `source` into batch rows `rows` of this cache (int64 indices, one per source row),
  // slots [0, source.capacity()); keys, values, positions and validity alike. The inverse of copyRows.
  void placeRows(const KVCache& source, const torch::Tensor& rows);
  // A cache over batch rows [start, start + rows) of this one that shares its memory: what is written through
  // it lands here. Its slot tables are views too.
  std::unique_ptr<KVCache> rowsView(int64_t start, int64_t rows);
  // Writes the keys/values of `source`'s single row into slots [0, source.capacity()) of every row (a prefix
  // all rows share); the slot tables stay as they are.
  void placeShared(const KVCache& source);

 private:
  KVCache(int64_t batch, int64_t capacity);  // no tensors yet: copyRows and rowsView fill them
  int64_t batch_;
  int64_t capacity_;
  std::vector<torch::Tensor> keys_;
  std::vector<torch::Tensor> values_;
  torch::Tensor slotPositions_;
  torch::Tensor slotValid_;
};

}  // namespace greater
