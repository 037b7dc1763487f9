// Published<T>: a value one thread publishes now and then and others read whole, under a mutex.
//
// The loops publish their counters once a turn (the ingest thread once a commit interval, the
// store thread once a commit), never once an event; a reader (the admin listener, at a scrape)
// copies the whole value. So the per-event path stays free of atomics and locks, and a reader
// always sees one consistent set of counters.
#pragma once

#include <mutex>

namespace meterd {

template <typename T>
class Published {
 public:
  void set(const T& value) {
    std::lock_guard<std::mutex> lock(mutex_);
    value_ = value;
  }
  T get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return value_;
  }

 private:
  mutable std::mutex mutex_;
  T value_{};
};

}  // namespace meterd
