// A small JSON reader for the files the engine reads itself: config.json, generation_config.json,
// model.safetensors.index.json and safetensors headers. libtorch ships no JSON parser, and these files
// are small, so a strict recursive-descent parser over a std::string is all that is needed.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace greater::json {

class Value {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Value() = default;
  static Value makeBool(bool b);
  static Value makeNumber(double d, bool isInteger, int64_t integer);
  static Value makeString(std::string s);
  static Value makeArray(std::vector<Value> items);
  static Value makeObject(std::map<std::string, Value> members);

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::Null; }
  bool isBool() const { return kind_ == Kind::Bool; }
  bool isNumber() const { return kind_ == Kind::Number; }
  bool isInteger() const { return kind_ == Kind::Number && isInteger_; }
  bool isString() const { return kind_ == Kind::String; }
  bool isArray() const { return kind_ == Kind::Array; }
  bool isObject() const { return kind_ == Kind::Object; }

  bool asBool() const { return bool_; }
  double asDouble() const { return number_; }
  int64_t asInt() const { return integer_; }
  const std::string& asString() const { return string_; }
  const std::vector<Value>& items() const { return *items_; }
  const std::map<std::string, Value>& members() const { return *members_; }

  // Object member lookup: nullptr when this is not an object or the key is absent.
  const Value* find(const std::string& key) const;

  static const char* kindName(Kind kind);

 private:
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double number_ = 0;
  bool isInteger_ = false;
  int64_t integer_ = 0;
  std::string string_;
  // shared_ptr keeps Value cheap to copy and lets it hold containers of itself.
  std::shared_ptr<const std::vector<Value>> items_;
  std::shared_ptr<const std::map<std::string, Value>> members_;
};

// Parses `text` completely (trailing non-space is an error). Throws std::runtime_error whose message
// starts with `source` (a file name) and gives the byte offset of the problem.
Value parse(const std::string& text, const std::string& source);

// Reads and parses a whole file; errors name the file.
Value parseFile(const std::string& path);

}  // namespace greater::json
