// Safetensors checkpoints: parse and validate headers, and read each tensor once straight into a tensor
// already allocated on its device and dtype. Files are read with pread, not mapped: mapped file pages count
// in the process's resident memory while they stay mapped, which made loading peak at twice the weights.
// Format: 8-byte little-endian header length N, N bytes of JSON header
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the data; offsets are
// relative to the start of the data.
#pragma once
#include <torch/torch.h>

#include "engine/cancel.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace greater {

// A file open for reading (RAII).
class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::string& path);
  ~ReadOnlyFile();
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Reads exactly `bytes` bytes at `offset` into `buffer`. Throws naming the file and `what` (e.g. a tensor)
  // when the read fails or the file ends first.
  void read(uint64_t offset, void* buffer, uint64_t bytes, const std::string& what) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

struct TensorEntry {
  std::string name;
  std::string dtypeName;  // as written in the header: "F32", "BF16", "F16", ...
  c10::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the start of the data section
  uint64_t end = 0;
};

// One .safetensors file, opened and validated: a regular file; every entry's dtype is F32/BF16/F16, its byte range
// has exactly numel * itemsize bytes, and the ranges tile the data section exactly (no holes, no overlaps, no
// duplicate names).
class SafetensorsFile {
 public:
  // checkFinite: reading a tensor throws, naming it, when its values hold a NaN or an infinity.
  SafetensorsFile(const std::string& path, bool checkFinite = true);

  const std::string& path() const { return file_.path(); }
  const std::map<std::string, TensorEntry>& entries() const { return entries_; }
  // Reads the entry into `destination` (its shape, any dtype, device and strides). A contiguous CPU
  // destination of the stored dtype receives the bytes directly; any other goes through a staging buffer
  // of at most a few MiB, block by block along dim 0, so loading never holds a second copy of a tensor.
  void readInto(const TensorEntry& entry, torch::Tensor destination) const;

 private:
  void checkTiling(const std::string& path, uint64_t dataSize) const;

  ReadOnlyFile file_;
  bool checkFinite_ = true;
  uint64_t dataStart_ = 0;
  std::map<std::string, TensorEntry> entries_;
};

// All tensors of a model folder: model.safetensors, or the shards listed in model.safetensors.index.json.
// Pickle checkpoints (.bin, .pt, .pth, .ckpt) are refused: unpickling can run arbitrary code.
class Checkpoint {
 public:
  // cancel: checked before each tensor is read (loadModel's AbortSignal and time limit); null never cancels.
  static std::unique_ptr<Checkpoint> open(const std::string& folder, bool checkFinite = true, const CancelFlag* cancel = nullptr);

  bool has(const std::string& name) const { return owner_.count(name) > 0; }
  // Throws, naming the tensor and the checkpoint, when absent.
  const TensorEntry& entry(const std::string& name) const;
  // The file a tensor lives in (for error messages).
  const std::string& fileOf(const std::string& name) const;
  // Allocates a tensor of `expectedShape` with `options` (device, dtype) and copies the stored tensor into it
  // (one copy: dtype conversion and device transfer together). Throws naming the file and the tensor when
  // the tensor is absent or its shape differs.
  torch::Tensor load(const std::string& name, const std::vector<int64_t>& expectedShape,
                     const torch::TensorOptions& options) const;
  // Copies the stored tensor into an existing destination (e.g. a slice of a fused weight, or a transposed
  // view), checking shape.
  void copyInto(const std::string& name, torch::Tensor destination) const;

  // What the checkpoint was found as, for messages: the file or the index path.
  const std::string& description() const { return description_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> owner_;
  std::string description_;
  const CancelFlag* cancel_ = nullptr;
};

}  // namespace greater
