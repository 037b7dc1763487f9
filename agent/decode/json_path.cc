// JSONPath compilation and evaluation (see json_path.h for the accepted grammar).
#include "agent/decode/json_path.h"

#include <cctype>

#include "buffer/base/same_text.h"

namespace meterd {
namespace {

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
         static_cast<unsigned char>(c) >= 0x80;
}

}  // namespace

bool JsonPath::compile(std::string_view text, JsonPath* out, std::string* error) {
  out->text_ = std::string(text);
  out->steps_.clear();
  if (text.empty() || text[0] != '$') {
    *error = "a path must start with '$'";
    return false;
  }
  size_t i = 1;
  while (i < text.size()) {
    Step step;
    if (text[i] == '.') {
      size_t start = ++i;
      while (i < text.size() && is_name_char(text[i])) ++i;
      if (i == start) {
        *error = "expected a property name after '.' at offset " + std::to_string(start);
        return false;
      }
      step.name = std::string(text.substr(start, i - start));
    } else if (text[i] == '[' && i + 1 < text.size() &&
               (text[i + 1] == '\'' || text[i + 1] == '"')) {
      char quote = text[i + 1];
      size_t start = i + 2;
      size_t end = text.find(quote, start);
      if (end == std::string_view::npos || end + 1 >= text.size() || text[end + 1] != ']') {
        *error = "unterminated quoted name at offset " + std::to_string(i);
        return false;
      }
      step.name = std::string(text.substr(start, end - start));
      i = end + 2;
    } else if (text[i] == '[') {
      size_t start = ++i;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
      if (i == start || i >= text.size() || text[i] != ']' || i - start > 9) {
        *error = "expected an array index or a quoted name at offset " + std::to_string(start - 1);
        return false;
      }
      step.is_index = true;
      step.index = std::stoul(std::string(text.substr(start, i - start)));
      ++i;
    } else {
      *error = "unexpected '" + std::string(1, text[i]) + "' at offset " + std::to_string(i);
      return false;
    }
    out->steps_.push_back(std::move(step));
  }
  return true;
}

bool JsonPath::find(simdjson::dom::element root, simdjson::dom::element* found) const {
  simdjson::dom::element current = root;
  for (const Step& step : steps_) {
    if (step.is_index) {
      simdjson::dom::array array;
      if (current.get_array().get(array) || array.at(step.index).get(current)) return false;
    } else {
      // A scan of our own rather than at_key, whose key compare calls memcmp for each key.
      simdjson::dom::object object;
      if (current.get_object().get(object)) return false;
      bool found_key = false;
      for (auto [key, value] : object) {
        if (same_text(key, step.name)) {
          current = value;
          found_key = true;
          break;
        }
      }
      if (!found_key) return false;
    }
  }
  *found = current;
  return true;
}

}  // namespace meterd
