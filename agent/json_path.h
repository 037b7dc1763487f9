// JsonPath: the subset of JSONPath that OpenMeter meters use, compiled once at start-up.
//
// Accepted: `$`, dotted names (`$.usage.input`), quoted bracket names (`$['a.b']`, `$["x"]`) and
// array indexes (`$.items[0]`). Paths are not evaluated one by one: DataPaths merges every
// meter's paths into one tree that the decoder walks once per event (data_paths.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meterd {

class JsonPath {
 public:
  // Compiles `text`; on failure returns false and says why in `error`.
  static bool compile(std::string_view text, JsonPath* out, std::string* error);

  struct Step {
    std::string name;  // used when !is_index
    size_t index = 0;
    bool is_index = false;
  };

  const std::string& text() const { return text_; }
  // The steps below `$`, in order; none for `$` itself.
  const std::vector<Step>& steps() const { return steps_; }

 private:
  std::string text_;
  std::vector<Step> steps_;
};

}  // namespace meterd
