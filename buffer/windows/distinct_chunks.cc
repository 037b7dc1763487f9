// Cutting distinct values into record-sized JSON arrays (see distinct_chunks.h).
#include "buffer/windows/distinct_chunks.h"

namespace meterd {

void DistinctChunks::add_quoted(std::string_view quoted) {
  if (!arrays_.empty() && arrays_.back().size() + quoted.size() + 2 <= kMaxArrayBytes) {
    arrays_.back().push_back(',');
  } else {
    // A new array (every array holds a value once begun, so none is left empty); a value over
    // the budget gets one of its own.
    if (!arrays_.empty()) arrays_.back().push_back(']');
    arrays_.emplace_back("[");
  }
  arrays_.back().append(quoted);
}

std::vector<std::string> DistinctChunks::take() {
  if (arrays_.empty()) arrays_.emplace_back("[");
  arrays_.back().push_back(']');
  std::vector<std::string> taken;
  taken.swap(arrays_);
  return taken;
}

}  // namespace meterd
