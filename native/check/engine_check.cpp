// engine_check: the engine tested on its own, without Node (registered with ctest; built by
// test/engine/engine-check.test.ts). On the tiny random Llama fixture it checks greedy generation and the one-hot
// gradient against transformers' reference (reference.json, made by tools/make_tiny_models.py), then that malformed
// files are refused with the file named. Usage: engine_check FIXTURES_DIR (test/fixtures/tiny-models).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/generate.h"
#include "engine/greater_ops.h"
#include "engine/json.h"
#include "engine/model.h"

namespace fs = std::filesystem;
using greater::json::Value;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::cout << (ok ? "ok    " : "FAIL  ") << what << "\n";
  if (!ok) ++failures;
}

greater::TokenRows rows(const Value& v) {
  greater::TokenRows out;
  for (const auto& row : v.items()) {
    std::vector<int64_t> ids;
    for (const auto& id : row.items()) ids.push_back(id.asInt());
    out.push_back(ids);
  }
  return out;
}

std::vector<greater::Span> spans(const Value& v) {
  std::vector<greater::Span> out;
  for (const auto& s : v.items()) out.push_back({s.items()[0].asInt(), s.items()[1].asInt()});
  return out;
}

// Runs `load` and returns the error's message, or "" when it loaded.
std::string loadError(const std::function<void()>& load) {
  try {
    load();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: engine_check FIXTURES_DIR (test/fixtures/tiny-models)\n";
    return 2;
  }
  const fs::path folder = fs::path(argv[1]) / "llama-untied";
  try {
    const Value ref = greater::json::parseFile((folder / "reference.json").string());
    const auto model = greater::Model::load(folder.string(), "cpu", "float32");
    check(model->config().vocabSize > 0, "loads " + folder.string());

    // Greedy generation with the model's end-of-sequence: transformers' tokens and stops.
    const Value& gen = *ref.find("generate");
    greater::GenerateRequest request;
    request.prompts = rows(*gen.find("prompts"));
    request.maxNewTokens = gen.find("maxNewTokens")->asInt();
    const auto generated = greater::generateGreedy(*model, request, nullptr, nullptr);
    check(generated.tokens == rows(*gen.find("tokens")), "greedy generation gives transformers' tokens");
    bool stops = true;
    for (size_t b = 0; b < generated.stopped.size(); ++b) stops &= generated.stopped[b] == gen.find("stopped")->items()[b].asBool();
    check(stops, "and stops where transformers stops");

    // The one-hot gradient through the fixed sequence: transformers' gradients and losses.
    const Value& g = *ref.find("gradient");
    greater::GradientRequest grad;
    grad.sequences = rows(*g.find("sequences"));
    for (const auto& p : g.find("positions")->items()) grad.positions.push_back(p.asInt());
    for (const auto& c : g.find("candidates")->items()) grad.candidates.push_back(c.asInt());
    grad.answerSpans = spans(*g.find("answerSpans"));
    grad.promptSpans = spans(*g.find("promptSpans"));
    grad.temperature = g.find("temperature")->asDouble();
    grad.controlWeight = g.find("controlWeight")->asDouble();
    const auto result = greater::oneHotGradient(*model, grad, nullptr);
    double largest = 0, worst = 0;
    size_t at = 0;
    for (const auto& row : g.find("gradients")->items())
      for (const auto& expected : row.items()) {
        largest = std::max(largest, std::abs(expected.asDouble()));
        worst = std::max(worst, std::abs(result.gradients.at(at++) - expected.asDouble()));
      }
    check(at == result.gradients.size() && worst <= 1e-4 * std::max(1.0, largest),
          "one-hot gradients match transformers' (largest difference " + std::to_string(worst) + ")");
    double lossWorst = 0;
    for (size_t b = 0; b < result.losses.size(); ++b)
      lossWorst = std::max(lossWorst, std::abs(result.losses[b] - g.find("losses")->items()[b].asDouble()));
    check(lossWorst <= 1e-4, "and so do the losses");

    // Malformed files: refused, the file named.
    const fs::path scratch = fs::temp_directory_path() / ("engine-check-" + std::to_string(::getpid()));
    fs::create_directories(scratch);
    fs::copy(folder, scratch / "model", fs::copy_options::recursive);
    const fs::path weights = scratch / "model" / "model.safetensors";
    fs::resize_file(weights, fs::file_size(weights) - 100);
    const std::string truncated = loadError([&] { greater::Model::load((scratch / "model").string(), "cpu", "float32"); });
    check(truncated.find(weights.string()) != std::string::npos && truncated.find("truncated") != std::string::npos,
          "a truncated safetensors file is refused, named: " + truncated);
    fs::copy_file(folder / "model.safetensors", weights, fs::copy_options::overwrite_existing);
    {
      std::ofstream config(scratch / "model" / "config.json");
      config << "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": -1}";
    }
    const std::string badConfig = loadError([&] { greater::Model::load((scratch / "model").string(), "cpu", "float32"); });
    check(badConfig.find("config.json") != std::string::npos && badConfig.find("vocab_size") != std::string::npos,
          "a config.json field out of range is refused, named: " + badConfig);
    fs::remove_all(scratch);
  } catch (const std::exception& e) {
    std::cout << "FAIL  unexpected error: " << e.what() << "\n";
    ++failures;
  }
  std::cout << (failures == 0 ? "engine_check: all passed\n" : "engine_check: " + std::to_string(failures) + " failed\n");
  return failures == 0 ? 0 : 1;
}
