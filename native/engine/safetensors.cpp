#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "engine/json.h"
#include "engine/regular_file.h"

namespace fs = std::filesystem;

namespace greater {

namespace {

// The format's own cap on the header (safetensors refuses larger headers too); it keeps a corrupt length
// from making us parse gigabytes as JSON.
constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;

// Tensors that cannot be read straight into their destination (another dtype, device or layout) pass
// through a staging buffer of at most this many bytes (or one row along dim 0, when a row is larger).
constexpr uint64_t kStagingBytes = 16ull << 20;

// Copies a contiguous [rows, cols] block into a same-dtype CPU destination of any strides, in square tiles
// so that both the reads and the strided writes stay in cache. Used for the transposed lm_head
// ([vocab, hidden] on disk, [hidden, vocab] in memory): copy_ does the same work through intra-op threads,
// whose hand-offs cost more than the copy here (perf: 44% of loading spent in OpenMP's barrier).
template <typename Word>
void copyTiles(const torch::Tensor& source, torch::Tensor& destination) {
  constexpr int64_t kTile = 32;
  const int64_t rows = source.size(0), cols = source.size(1);
  const int64_t rowStride = destination.stride(0), colStride = destination.stride(1);
  const auto* in = static_cast<const Word*>(source.data_ptr());
  auto* out = static_cast<Word*>(destination.data_ptr());
  for (int64_t r0 = 0; r0 < rows; r0 += kTile)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) out[r * rowStride + c * colStride] = in[r * cols + c];
    }
}

// destination <- block (same shape). block is a contiguous CPU tensor of the stored dtype.
void copyBlock(const torch::Tensor& block, torch::Tensor destination) {
  const size_t itemSize = destination.element_size();
  const bool strided2d = destination.device().is_cpu() && destination.dim() == 2 && !destination.is_contiguous();
  if (!strided2d || (itemSize != 2 && itemSize != 4)) {
    destination.copy_(block);  // converts the dtype, follows the destination's strides, moves it to its device
    return;
  }
  const auto source = block.scalar_type() == destination.scalar_type() ? block : block.to(destination.scalar_type());
  if (itemSize == 2) copyTiles<uint16_t>(source, destination);
  else copyTiles<uint32_t>(source, destination);
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

bool dtypeFromName(const std::string& name, c10::ScalarType& dtype, uint64_t& itemSize) {
  if (name == "F32") { dtype = torch::kFloat32; itemSize = 4; return true; }
  if (name == "BF16") { dtype = torch::kBFloat16; itemSize = 2; return true; }
  if (name == "F16") { dtype = torch::kFloat16; itemSize = 2; return true; }
  return false;
}

// Throws, naming the tensor and the element, when the raw little-endian values hold a NaN or an infinity (all
// exponent bits set). Checked on the bytes as read, while they are in cache: a NaN weight would otherwise load
// without a word and surface much later as a NaN loss or gradient. `first` is the index of the first value.
template <typename Word>
void checkFiniteWords(const void* data, uint64_t count, Word exponentMask, const TensorEntry& entry, const std::string& path,
                      uint64_t first) {
  const auto* words = static_cast<const Word*>(data);
  Word any = 0;  // a branch-free pass first; the element is looked for only when one is found
  for (uint64_t i = 0; i < count; ++i) any |= static_cast<Word>(((words[i] & exponentMask) == exponentMask) ? 1 : 0);
  if (!any) return;
  for (uint64_t i = 0; i < count; ++i)
    if ((words[i] & exponentMask) == exponentMask)
      throw std::runtime_error(path + ": tensor \"" + entry.name + "\" holds a non-finite value (NaN or infinity) at element " +
                               std::to_string(first + i) + " of shape " + shapeText(entry.shape) + "; the weights are corrupt");
}

void checkFinite(const void* data, uint64_t bytes, const TensorEntry& entry, const std::string& path, uint64_t firstElement) {
  switch (entry.dtype) {
    case torch::kFloat32: checkFiniteWords<uint32_t>(data, bytes / 4, 0x7f800000u, entry, path, firstElement); break;
    case torch::kBFloat16: checkFiniteWords<uint16_t>(data, bytes / 2, static_cast<uint16_t>(0x7f80), entry, path, firstElement); break;
    case torch::kFloat16: checkFiniteWords<uint16_t>(data, bytes / 2, static_cast<uint16_t>(0x7c00), entry, path, firstElement); break;
    default: break;
  }
}

}  // namespace

ReadOnlyFile::ReadOnlyFile(const std::string& path) : path_(path) {
  fd_ = openRegularFile(path);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    throw std::runtime_error(path + ": cannot be read (" + std::strerror(err) + ")");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

ReadOnlyFile::~ReadOnlyFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ReadOnlyFile::read(uint64_t offset, void* buffer, uint64_t bytes, const std::string& what) const {
  auto* out = static_cast<uint8_t*>(buffer);
  // pread may return fewer bytes than asked (signals, or more than ~2 GiB at once): continue where it stopped.
  while (bytes > 0) {
    const ssize_t got = ::pread(fd_, out, bytes, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw std::runtime_error(path_ + ": reading " + what + " failed (" + std::strerror(errno) + ")");
    if (got == 0)
      throw std::runtime_error(path_ + ": the file ends at byte " + std::to_string(offset) + " while reading " + what +
                               ": the file is truncated (was it changed while loading?)");
    out += got;
    offset += static_cast<uint64_t>(got);
    bytes -= static_cast<uint64_t>(got);
  }
}

SafetensorsFile::SafetensorsFile(const std::string& path, bool checkFinite) : file_(path), checkFinite_(checkFinite) {
  const uint64_t fileSize = file_.size();
  if (fileSize < 8)
    throw std::runtime_error(path + ": truncated safetensors file (" + std::to_string(fileSize) +
                             " bytes; it must start with an 8-byte header length)");
  uint8_t lengthBytes[8];
  file_.read(0, lengthBytes, 8, "the header length");
  uint64_t headerLength = 0;
  for (int i = 7; i >= 0; --i) headerLength = (headerLength << 8) | lengthBytes[i];  // little-endian
  if (headerLength > fileSize - 8)
    throw std::runtime_error(path + ": safetensors header length " + std::to_string(headerLength) +
                             " overflows the file (" + std::to_string(fileSize) + " bytes)");
  if (headerLength > kMaxHeaderBytes)
    throw std::runtime_error(path + ": safetensors header length " + std::to_string(headerLength) +
                             " exceeds the format's limit of " + std::to_string(kMaxHeaderBytes) + " bytes");
  dataStart_ = 8 + headerLength;
  const uint64_t dataSize = fileSize - dataStart_;

  std::string headerText(headerLength, '\0');
  file_.read(8, headerText.data(), headerLength, "the header");
  const json::Value header = json::parse(headerText, path + " (safetensors header)");
  if (!header.isObject()) throw std::runtime_error(path + ": safetensors header is not a JSON object");

  for (const auto& [name, spec] : header.members()) {
    if (name == "__metadata__") continue;
    const std::string where = path + ": tensor \"" + name + "\"";
    if (!spec.isObject()) throw std::runtime_error(where + ": header entry is not an object");
    const json::Value* dtype = spec.find("dtype");
    const json::Value* shape = spec.find("shape");
    const json::Value* offsets = spec.find("data_offsets");
    if (!dtype || !dtype->isString()) throw std::runtime_error(where + ": header entry lacks a string \"dtype\"");
    if (!shape || !shape->isArray()) throw std::runtime_error(where + ": header entry lacks a \"shape\" array");
    if (!offsets || !offsets->isArray() || offsets->items().size() != 2)
      throw std::runtime_error(where + ": header entry lacks \"data_offsets\" [begin, end]");

    TensorEntry entry;
    entry.name = name;
    entry.dtypeName = dtype->asString();
    uint64_t itemSize = 0;
    if (!dtypeFromName(entry.dtypeName, entry.dtype, itemSize))
      throw std::runtime_error(where + ": dtype " + entry.dtypeName + " is not supported (weights must be F32, BF16 or F16)");

    uint64_t numel = 1;
    for (const auto& dim : shape->items()) {
      if (!dim.isInteger() || dim.asInt() < 0) throw std::runtime_error(where + ": shape has a non-integer or negative dimension");
      const auto d = static_cast<uint64_t>(dim.asInt());
      if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / d) throw std::runtime_error(where + ": shape overflows");
      numel *= d;
      entry.shape.push_back(dim.asInt());
    }
    for (const auto& o : offsets->items())
      if (!o.isInteger() || o.asInt() < 0) throw std::runtime_error(where + ": data_offsets must be non-negative integers");
    entry.begin = static_cast<uint64_t>(offsets->items()[0].asInt());
    entry.end = static_cast<uint64_t>(offsets->items()[1].asInt());
    if (entry.end < entry.begin) throw std::runtime_error(where + ": data_offsets end before they begin");
    if (numel > std::numeric_limits<uint64_t>::max() / itemSize || entry.end - entry.begin != numel * itemSize)
      throw std::runtime_error(where + ": data_offsets span " + std::to_string(entry.end - entry.begin) +
                               " bytes but shape " + shapeText(entry.shape) + " of " + entry.dtypeName + " needs " +
                               std::to_string(numel * itemSize));
    if (entry.end > dataSize)
      throw std::runtime_error(where + ": data [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                               ") lies beyond the end of the file (" + std::to_string(dataSize) +
                               " data bytes): the file is truncated");
    if (!entries_.emplace(name, std::move(entry)).second)
      throw std::runtime_error(where + ": the header names this tensor twice");
  }
  checkTiling(path, dataSize);
}

// The format requires the tensors' byte ranges to cover the data section exactly, in any order, without holes
// or overlaps. A header length that is off by a byte, or overlapping or padded offsets, shift or alias every tensor
// after it: the values would load as garbage without a word, so such a file is refused, naming the place.
void SafetensorsFile::checkTiling(const std::string& path, uint64_t dataSize) const {
  std::vector<const TensorEntry*> byBegin;
  for (const auto& [name, entry] : entries_)
    if (entry.end > entry.begin) byBegin.push_back(&entry);
  std::sort(byBegin.begin(), byBegin.end(), [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
  uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry* entry : byBegin) {
    if (entry->begin < covered)
      throw std::runtime_error(path + ": tensor \"" + entry->name + "\" (data_offsets [" + std::to_string(entry->begin) + ", " +
                               std::to_string(entry->end) + ")) overlaps tensor \"" + previous->name + "\" (which ends at " +
                               std::to_string(covered) + ")");
    if (entry->begin > covered)
      throw std::runtime_error(path + ": the data section has a hole of " + std::to_string(entry->begin - covered) +
                               " bytes at offset " + std::to_string(covered) + " (before tensor \"" + entry->name +
                               "\"): the tensors must cover it exactly (is the header length wrong?)");
    covered = entry->end;
    previous = entry;
  }
  if (covered != dataSize)
    throw std::runtime_error(path + ": the tensors cover " + std::to_string(covered) + " bytes of the " + std::to_string(dataSize) +
                             "-byte data section; they must cover it exactly (is the header length wrong, or the file padded?)");
}

void SafetensorsFile::readInto(const TensorEntry& entry, torch::Tensor destination) const {
  const uint64_t bytes = entry.end - entry.begin;
  if (bytes == 0) return;
  const uint64_t offset = dataStart_ + entry.begin;
  const std::string what = "tensor \"" + entry.name + "\"";
  if (destination.device().is_cpu() && destination.scalar_type() == entry.dtype && destination.is_contiguous()) {
    file_.read(offset, destination.data_ptr(), bytes, what);
    if (checkFinite_) checkFinite(destination.data_ptr(), bytes, entry, path(), 0);
    return;
  }
  // Blocks of whole rows along dim 0 (a 0-dim tensor is one block of one row) through the staging buffer.
  // copy_ from pageable CPU memory returns only when done, so the buffer can be reused at once.
  const int64_t rows = entry.shape.empty() ? 1 : entry.shape[0];
  const uint64_t rowBytes = bytes / static_cast<uint64_t>(rows);
  const int64_t rowsPerBlock = std::min<int64_t>(rows, std::max<uint64_t>(1, kStagingBytes / rowBytes));
  const int64_t rowElements = static_cast<int64_t>(rowBytes / c10::elementSize(entry.dtype));
  auto staging = torch::empty({rowsPerBlock * rowElements}, torch::TensorOptions().dtype(entry.dtype).device(torch::kCPU));
  for (int64_t start = 0; start < rows; start += rowsPerBlock) {
    const int64_t count = std::min(rowsPerBlock, rows - start);
    file_.read(offset + static_cast<uint64_t>(start) * rowBytes, staging.data_ptr(), static_cast<uint64_t>(count) * rowBytes, what);
    if (checkFinite_) checkFinite(staging.data_ptr(), static_cast<uint64_t>(count) * rowBytes, entry, path(),
                static_cast<uint64_t>(start) * static_cast<uint64_t>(rowElements));
    if (entry.shape.empty()) {
      destination.copy_(staging.view({}));
      continue;
    }
    std::vector<int64_t> blockShape = entry.shape;  // [count, ...]
    blockShape[0] = count;
    copyBlock(staging.narrow(0, 0, count * rowElements).view(blockShape), destination.narrow(0, start, count));
  }
}

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& folder, bool checkFinite, const CancelFlag* cancel) {
  const fs::path dir(folder);
  if (!fs::is_directory(dir)) throw std::runtime_error(folder + ": not a model folder (no such directory)");
  auto checkpoint = std::make_unique<Checkpoint>();
  checkpoint->cancel_ = cancel;

  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  // Present means named in the folder, even as a dangling or looping link: opening it then says which it is,
  // instead of "not found".
  const auto present = [](const fs::path& path) {
    std::error_code error;
    return fs::exists(fs::symlink_status(path, error));
  };
  if (present(index)) {
    checkpoint->description_ = index.string();
    const json::Value indexJson = json::parseFile(index.string());
    const json::Value* weightMap = indexJson.find("weight_map");
    if (!weightMap || !weightMap->isObject())
      throw std::runtime_error(index.string() + ": missing field \"weight_map\" (an object from tensor name to shard file)");
    std::map<std::string, const SafetensorsFile*> shardByName;
    for (const auto& [tensor, shard] : weightMap->members()) {
      if (!shard.isString()) throw std::runtime_error(index.string() + ": weight_map[\"" + tensor + "\"] is not a file name");
      const std::string& shardName = shard.asString();
      if (shardName.find('/') != std::string::npos || shardName.find('\\') != std::string::npos || shardName == "..")
        throw std::runtime_error(index.string() + ": weight_map[\"" + tensor + "\"] names \"" + shardName +
                                 "\", which is not a file inside the model folder");
      auto it = shardByName.find(shardName);
      if (it == shardByName.end()) {
        const fs::path shardPath = dir / shardName;
        if (!present(shardPath))
          throw std::runtime_error(index.string() + ": shard \"" + shardName + "\" (holding tensor \"" + tensor + "\") does not exist");
        checkpoint->files_.push_back(std::make_unique<SafetensorsFile>(shardPath.string(), checkFinite));
        it = shardByName.emplace(shardName, checkpoint->files_.back().get()).first;
      }
      if (!it->second->entries().count(tensor))
        throw std::runtime_error(it->second->path() + ": tensor \"" + tensor + "\" is listed in " + index.string() +
                                 " but missing from the shard");
      checkpoint->owner_[tensor] = it->second;
    }
    return checkpoint;
  }
  if (present(single)) {
    checkpoint->description_ = single.string();
    checkpoint->files_.push_back(std::make_unique<SafetensorsFile>(single.string(), checkFinite));
    for (const auto& [name, entry] : checkpoint->files_.back()->entries()) checkpoint->owner_[name] = checkpoint->files_.back().get();
    return checkpoint;
  }

  // No safetensors: say why pickle files found here are not loaded, and how to fix it.
  std::set<std::string> pickles;
  for (const auto& item : fs::directory_iterator(dir)) {
    const std::string ext = item.path().extension().string();
    if (ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".ckpt" || ext == ".pkl") pickles.insert(item.path().filename().string());
  }
  if (!pickles.empty()) {
    std::string list;
    for (const auto& p : pickles) list += (list.empty() ? "" : ", ") + p;
    throw std::runtime_error(folder + ": found only pickle checkpoints (" + list +
                             "); they are refused because unpickling can run arbitrary code. Convert the model to "
                             "safetensors (e.g. in Python: AutoModelForCausalLM.from_pretrained(folder)"
                             ".save_pretrained(folder, safe_serialization=True)) and load it again");
  }
  throw std::runtime_error(folder + ": no model.safetensors or model.safetensors.index.json found");
}

const TensorEntry& Checkpoint::entry(const std::string& name) const {
  auto it = owner_.find(name);
  if (it == owner_.end()) throw std::runtime_error(description_ + ": tensor \"" + name + "\" is missing");
  return it->second->entries().at(name);
}

const std::string& Checkpoint::fileOf(const std::string& name) const {
  auto it = owner_.find(name);
  return it == owner_.end() ? description_ : it->second->path();
}

void Checkpoint::copyInto(const std::string& name, torch::Tensor destination) const {
  const TensorEntry& e = entry(name);
  if (destination.sizes().vec() != e.shape)
    throw std::runtime_error(fileOf(name) + ": tensor \"" + name + "\" has shape " + shapeText(e.shape) + ", expected " +
                             shapeText(destination.sizes().vec()));
  throwIfCancelled(cancel_, "loadModel");
  torch::NoGradGuard noGrad;
  owner_.at(name)->readInto(e, destination);
}

torch::Tensor Checkpoint::load(const std::string& name, const std::vector<int64_t>& expectedShape,
                               const torch::TensorOptions& options) const {
  torch::Tensor destination = torch::empty(expectedShape, options);
  copyInto(name, destination);
  return destination;
}

}  // namespace greater
