// Safetensors checkpoints: parse and validate headers, map the files read-only, and copy each tensor once
// straight into a tensor already allocated on its device and dtype.
// Format: 8-byte little-endian header length N, N bytes of JSON header
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the data; offsets are
// relative to the start of the data.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace greater {

// A read-only memory map of a whole file (RAII).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return static_cast<const uint8_t*>(data_); }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* data_ = nullptr;
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

// One .safetensors file, mapped and validated: every entry's dtype is F32/BF16/F16 and its byte range has
// exactly numel * itemsize bytes inside the file.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const std::map<std::string, TensorEntry>& entries() const { return entries_; }
  // A CPU tensor over the mapped bytes; valid only while this object lives.
  torch::Tensor view(const TensorEntry& entry) const;

 private:
  MappedFile file_;
  uint64_t dataStart_ = 0;
  std::map<std::string, TensorEntry> entries_;
};

// All tensors of a model folder: model.safetensors, or the shards listed in model.safetensors.index.json.
// Pickle checkpoints (.bin, .pt, .pth, .ckpt) are refused: unpickling can run arbitrary code.
class Checkpoint {
 public:
  static std::unique_ptr<Checkpoint> open(const std::string& folder);

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
  // Copies the stored tensor into an existing destination (e.g. a slice of a fused weight), checking shape.
  void copyInto(const std::string& name, torch::Tensor destination) const;

  // What the checkpoint was found as, for messages: the file or the index path.
  const std::string& description() const { return description_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> owner_;
  std::string description_;
};

}  // namespace greater
