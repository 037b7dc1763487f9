// The delta table's accumulate and visit operations (see window_table.h).
#include "buffer/window_table.h"

namespace meterd {

void WindowTable::add(std::string_view series_identity, int64_t window_start, double value,
                      int64_t time_ms) {
  entries_.at(series_identity, window_start).add(value, time_ms);
}

void WindowTable::merge_from(const WindowTable& later) {
  later.entries_.for_each([this](std::string_view identity, int64_t window_start,
                                 const Accumulator& accumulator) {
    entries_.at(identity, window_start).merge(accumulator);
  });
}

void WindowTable::for_each(const std::function<void(std::string_view, int64_t,
                                                    const Accumulator&)>& visit) const {
  entries_.for_each(visit);
}

}  // namespace meterd
