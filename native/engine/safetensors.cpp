#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "engine/json.h"

namespace fs = std::filesystem;

namespace greater {

namespace {

// The format's own cap on the header (safetensors refuses larger headers too); it keeps a corrupt length
// from making us parse gigabytes as JSON.
constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;

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

}  // namespace

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": cannot be opened (" + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(path + ": cannot be read (" + std::strerror(err) + ")");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data_ == MAP_FAILED) {
      const int err = errno;
      data_ = nullptr;
      ::close(fd);
      throw std::runtime_error(path + ": cannot be mapped (" + std::strerror(err) + ")");
    }
  }
  ::close(fd);  // the mapping keeps the file alive
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  const uint64_t fileSize = file_.size();
  if (fileSize < 8)
    throw std::runtime_error(path + ": truncated safetensors file (" + std::to_string(fileSize) +
                             " bytes; it must start with an 8-byte header length)");
  uint64_t headerLength = 0;
  for (int i = 7; i >= 0; --i) headerLength = (headerLength << 8) | file_.data()[i];  // little-endian
  if (headerLength > fileSize - 8)
    throw std::runtime_error(path + ": safetensors header length " + std::to_string(headerLength) +
                             " overflows the file (" + std::to_string(fileSize) + " bytes)");
  if (headerLength > kMaxHeaderBytes)
    throw std::runtime_error(path + ": safetensors header length " + std::to_string(headerLength) +
                             " exceeds the format's limit of " + std::to_string(kMaxHeaderBytes) + " bytes");
  dataStart_ = 8 + headerLength;
  const uint64_t dataSize = fileSize - dataStart_;

  const std::string headerText(reinterpret_cast<const char*>(file_.data() + 8), headerLength);
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
    entries_.emplace(name, std::move(entry));
  }
}

torch::Tensor SafetensorsFile::view(const TensorEntry& entry) const {
  // from_blob does not own the memory: callers copy out of it before this file is unmapped.
  void* bytes = const_cast<uint8_t*>(file_.data() + dataStart_ + entry.begin);
  return torch::from_blob(bytes, entry.shape, torch::TensorOptions().dtype(entry.dtype).device(torch::kCPU));
}

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& folder) {
  const fs::path dir(folder);
  if (!fs::is_directory(dir)) throw std::runtime_error(folder + ": not a model folder (no such directory)");
  auto checkpoint = std::make_unique<Checkpoint>();

  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
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
        if (!fs::exists(shardPath))
          throw std::runtime_error(index.string() + ": shard \"" + shardName + "\" (holding tensor \"" + tensor + "\") does not exist");
        checkpoint->files_.push_back(std::make_unique<SafetensorsFile>(shardPath.string()));
        it = shardByName.emplace(shardName, checkpoint->files_.back().get()).first;
      }
      if (!it->second->entries().count(tensor))
        throw std::runtime_error(it->second->path() + ": tensor \"" + tensor + "\" is listed in " + index.string() +
                                 " but missing from the shard");
      checkpoint->owner_[tensor] = it->second;
    }
    return checkpoint;
  }
  if (fs::exists(single)) {
    checkpoint->description_ = single.string();
    checkpoint->files_.push_back(std::make_unique<SafetensorsFile>(single.string()));
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
  torch::NoGradGuard noGrad;
  destination.copy_(owner_.at(name)->view(e));
}

torch::Tensor Checkpoint::load(const std::string& name, const std::vector<int64_t>& expectedShape,
                               const torch::TensorOptions& options) const {
  // Allocate first, then copy: even a CPU tensor of the stored dtype must not alias the mapping.
  torch::Tensor destination = torch::empty(expectedShape, options);
  copyInto(name, destination);
  return destination;
}

}  // namespace greater
