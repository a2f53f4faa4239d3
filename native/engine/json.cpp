#include "engine/json.h"

#include "engine/regular_file.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace greater::json {

Value Value::makeBool(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.bool_ = b;
  return v;
}

Value Value::makeNumber(double d, bool isInteger, int64_t integer) {
  Value v;
  v.kind_ = Kind::Number;
  v.number_ = d;
  v.isInteger_ = isInteger;
  v.integer_ = isInteger ? integer : static_cast<int64_t>(d);
  return v;
}

Value Value::makeString(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.string_ = std::move(s);
  return v;
}

Value Value::makeArray(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::Array;
  v.items_ = std::make_shared<const std::vector<Value>>(std::move(items));
  return v;
}

Value Value::makeObject(std::map<std::string, Value> members) {
  Value v;
  v.kind_ = Kind::Object;
  v.members_ = std::make_shared<const std::map<std::string, Value>>(std::move(members));
  return v;
}

const Value* Value::find(const std::string& key) const {
  if (kind_ != Kind::Object) return nullptr;
  auto it = members_->find(key);
  return it == members_->end() ? nullptr : &it->second;
}

const char* Value::kindName(Kind kind) {
  switch (kind) {
    case Kind::Null: return "null";
    case Kind::Bool: return "a boolean";
    case Kind::Number: return "a number";
    case Kind::String: return "a string";
    case Kind::Array: return "an array";
    case Kind::Object: return "an object";
  }
  return "?";
}

namespace {

// Nesting deeper than this is not a config file; refusing it keeps a hostile header from blowing the stack.
constexpr int kMaxDepth = 64;

class Parser {
 public:
  Parser(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  Value parseDocument() {
    skipSpace();
    Value v = parseValue(0);
    skipSpace();
    if (pos_ != text_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    std::ostringstream message;
    message << source_ << ": invalid JSON at byte " << pos_ << ": " << what;
    throw std::runtime_error(message.str());
  }

  void skipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void expectLiteral(const char* literal) {
    for (const char* c = literal; *c; ++c, ++pos_)
      if (pos_ >= text_.size() || text_[pos_] != *c) fail(std::string("expected '") + literal + "'");
  }

  Value parseValue(int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    if (pos_ >= text_.size()) fail("unexpected end of input");
    switch (text_[pos_]) {
      case '{': return parseObject(depth);
      case '[': return parseArray(depth);
      case '"': return Value::makeString(parseString());
      case 't': expectLiteral("true"); return Value::makeBool(true);
      case 'f': expectLiteral("false"); return Value::makeBool(false);
      case 'n': expectLiteral("null"); return Value();
      default: return parseNumber();
    }
  }

  Value parseObject(int depth) {
    ++pos_;  // '{'
    std::map<std::string, Value> members;
    skipSpace();
    if (peek() == '}') {
      ++pos_;
      return Value::makeObject(std::move(members));
    }
    while (true) {
      skipSpace();
      if (peek() != '"') fail("expected a string key");
      const size_t keyAt = pos_;
      std::string key = parseString();
      // A repeated key is ambiguous (parsers disagree on which one wins): refuse it instead of picking one.
      if (members.count(key)) {
        pos_ = keyAt;
        fail("duplicate key \"" + key + "\" in an object");
      }
      skipSpace();
      if (peek() != ':') fail("expected ':' after key \"" + key + "\"");
      ++pos_;
      skipSpace();
      members[key] = parseValue(depth + 1);
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return Value::makeObject(std::move(members));
      }
      fail("expected ',' or '}' in object");
    }
  }

  Value parseArray(int depth) {
    ++pos_;  // '['
    std::vector<Value> items;
    skipSpace();
    if (peek() == ']') {
      ++pos_;
      return Value::makeArray(std::move(items));
    }
    while (true) {
      skipSpace();
      items.push_back(parseValue(depth + 1));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return Value::makeArray(std::move(items));
      }
      fail("expected ',' or ']' in array");
    }
  }

  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t parseHex4() {
    if (pos_ + 4 > text_.size()) fail("truncated \\u escape");
    uint32_t cp = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      cp <<= 4;
      if (c >= '0' && c <= '9') cp |= c - '0';
      else if (c >= 'a' && c <= 'f') cp |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') cp |= c - 'A' + 10;
      else fail("bad hex digit in \\u escape");
    }
    return cp;
  }

  std::string parseString() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) fail("unterminated escape");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parseHex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (pos_ + 2 <= text_.size() && text_[pos_] == '\\' && text_[pos_ + 1] == 'u') {
              pos_ += 2;
              const uint32_t low = parseHex4();
              if (low < 0xDC00 || low > 0xDFFF) fail("bad low surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              fail("lone high surrogate");
            }
          }
          appendUtf8(out, cp);
          break;
        }
        default: fail(std::string("bad escape \\") + e);
      }
    }
  }

  Value parseNumber() {
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (!(peek() >= '0' && peek() <= '9')) fail("expected a value");
    bool integral = true;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c >= '0' && c <= '9') {
        ++pos_;
      } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || (c == '-' && pos_ > start)) {
        integral = false;
        ++pos_;
      } else {
        break;
      }
    }
    const std::string token = text_.substr(start, pos_ - start);
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(token.c_str(), &end);
    if (end != token.c_str() + token.size() || !std::isfinite(d)) fail("malformed number '" + token + "'");
    if (integral) {
      errno = 0;
      const long long i = std::strtoll(token.c_str(), &end, 10);
      if (errno == ERANGE) fail("integer out of range '" + token + "'");
      return Value::makeNumber(d, true, i);
    }
    return Value::makeNumber(d, false, 0);
  }

  const std::string& text_;
  const std::string& source_;
  size_t pos_ = 0;
};

}  // namespace

Value parse(const std::string& text, const std::string& source) { return Parser(text, source).parseDocument(); }

Value parseFile(const std::string& path) {
  // Config and index files are small; the cap keeps a huge file from being read whole.
  return parse(readRegularFile(path, 64ull << 20), path);
}

}  // namespace greater::json
