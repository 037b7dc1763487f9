// SeriesLimiter: the cardinality bound. It counts the distinct series (subject and group values)
// each meter has opened per window and refuses the first series beyond the meter's limit, so a
// flood of unique subjects or group values cannot grow the buffer, the records and ClickHouse
// without bound; refused events become dead letters with reason `cardinality_limit`.
//
// The delta table only sees one commit interval, so the count lives here, across intervals:
// per (meter, window), a set of 64-bit hashes of the series identities (11–21 bytes a series,
// far less than the identities the delta table and SQLite hold for the same series). A window's
// set is dropped once the window has closed on time and has seen no event for one grace, which
// is when the store closes its partials too; a later burst of late events starts a fresh count,
// bounded like the first. Memory is therefore at most (limit × windows that received events in
// the last window + grace) hashes per meter. At start-up it is rebuilt from the buffer's open
// windows (seed), so a restart does not reopen the bound.
//
// A hash collision (about 1 in 10^9 at 100,000 series) makes one extra series count as already
// seen: the bound is off by one, the data stays exact (the series keeps its own identity).
//
// Threading: the ingest thread's, like the delta table; no locks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agent/meters/series_hash_set.h"

namespace meterd {

class SeriesLimiter {
  struct Window;  // one (meter, window)'s count, below

 public:
  SeriesLimiter(int64_t window_size_s, int64_t grace_ms)
      : window_size_ms_(window_size_s * 1000), grace_ms_(grace_ms) {}
  SeriesLimiter(const SeriesLimiter&) = delete;
  SeriesLimiter& operator=(const SeriesLimiter&) = delete;

  // What check() found for one series, for admit() to count.
  struct Admission {
    uint64_t hash = 0;         // series_identity_hash of the identity
    Window* window = nullptr;  // the (meter, window) count; null while there is none
    bool counted = false;      // the series is counted there already
  };

  // True if `series_identity` (whose first field is the meter slug) may add to the window at
  // `window_start`: it is already counted there, or the window holds fewer than `limit` series.
  // Counts nothing: the series counts once admit() is given `admission`, so an ingest that
  // checks every meter of an event before any of them takes it leaves no series counted for an
  // event another meter refuses. Between a check and its admit no other series of the same
  // meter and window may be admitted (one event has one series a meter, so ingest never does).
  // `now_ms` is the receive time: it keeps the window's count alive, as any event for it does,
  // and drives the expiry of finished windows, so `admission` is valid until a check() at a
  // later now_ms (every check of one event passes the same one).
  bool check(std::string_view series_identity, int64_t window_start, int64_t limit,
             int64_t now_ms, Admission* admission);
  // Counts the series a check() admitted (nothing if it was counted already: inline, since
  // that is most events of the acknowledged transports, which are checked one by one).
  void admit(const Admission& admission, std::string_view series_identity, int64_t window_start,
             int64_t now_ms) {
    if (!admission.counted) count(admission, series_identity, window_start, now_ms);
  }
  // check() and admit() in one.
  bool admit(std::string_view series_identity, int64_t window_start, int64_t limit,
             int64_t now_ms);

  // Counts a series that is already in the buffer, without a limit (start-up).
  void seed(std::string_view series_identity, int64_t window_start, int64_t now_ms);

  // Series counted over all tracked windows (for tests and status).
  size_t tracked_series() const;
  size_t tracked_windows() const { return windows_.size(); }

 private:
  struct Window {
    SeriesHashSet series;
    int64_t closes_on_time_ms = 0;
    int64_t last_used_ms = 0;
  };
  // The count of (the identity's meter, window_start): find_window's is null when there is
  // none (and leaves the key in scratch_key_); window() makes one then.
  Window* find_window(std::string_view series_identity, int64_t window_start);
  Window& window(std::string_view series_identity, int64_t window_start, int64_t now_ms);
  // admit() of a series not counted yet.
  void count(const Admission& admission, std::string_view series_identity, int64_t window_start,
             int64_t now_ms);
  // Makes `found` (whose key is in scratch_key_) one of the recent windows.
  void remember(Window* found);
  void expire(int64_t now_ms);

  const int64_t window_size_ms_;
  const int64_t grace_ms_;
  // Key: the identity's slug field followed by the window start (8 bytes).
  std::unordered_map<std::string, Window> windows_;
  std::string scratch_key_;
  // The windows found last, so that most lookups compare a short key instead of hashing it into
  // the map: asks come for one of a few (meter, window) pairs at a time (once per series and
  // commit interval on the datagram path; per event for acknowledged and UNIQUE_COUNT ones).
  // Map nodes do not move, so the pointers hold until expire() erases (and copying a limiter
  // would copy pointers into another map, hence no copies).
  struct Recent {
    std::string key;
    Window* window = nullptr;
  };
  Recent recent_[4];
  size_t next_recent_ = 0;
  int64_t next_expiry_ms_ = 0;
};

}  // namespace meterd
