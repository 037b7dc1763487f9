// JsonPath: the subset of JSONPath that OpenMeter meters use, compiled once at start-up.
//
// Accepted: `$`, dotted names (`$.usage.input`), quoted bracket names (`$['a.b']`, `$["x"]`) and
// array indexes (`$.items[0]`). Evaluation walks a simdjson DOM element without allocating.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meterd {

class JsonPath {
 public:
  // Compiles `text`; on failure returns false and says why in `error`.
  static bool compile(std::string_view text, JsonPath* out, std::string* error);

  // Finds the value at this path below `root`; false when any step is missing.
  bool find(simdjson::dom::element root, simdjson::dom::element* found) const;

  const std::string& text() const { return text_; }

 private:
  struct Step {
    std::string name;  // used when !is_index
    size_t index = 0;
    bool is_index = false;
  };
  std::string text_;
  std::vector<Step> steps_;
};

}  // namespace meterd
