// LogLimiter: whether a warning that may repeat (a broker down, a full buffer, a refused commit,
// a socket error in a loop) may be logged now, and how many were held back since the last one,
// so a fault that recurs a thousand times a second costs a few log lines, not the disk or the
// journal's rate limit (which would drop the lines that matter, too).
//
// A token bucket: `burst` lines may go out at once, then one more every `interval_ms`. A line
// held back is counted; the next line allowed reports that count, so the caller writes
// "... (N similar suppressed)" and nothing is hidden without a trace. One limiter per call site:
//
//   static LogLimiter limiter(10'000, 3);  // at most 3 at once, then one per 10 s
//   uint64_t suppressed = 0;
//   if (limiter.allow(steady_clock_ms(), &suppressed)) {
//     spdlog::warn("commit failed: {}{}", status.message(), suppressed_note(suppressed));
//   }
//
// Not thread-safe: a limiter belongs to one thread (the loops' call sites each run on one). A
// site reached from several threads declares its limiter `thread_local`. Time is the caller's
// (a steady clock in milliseconds), so tests drive it by hand. No logging library here: this is
// buffer/base, which includes only the standard library and fmt.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

namespace meterd {

class LogLimiter {
 public:
  // interval_ms > 0: one line more per interval once the burst is spent; burst >= 1.
  LogLimiter(int64_t interval_ms, int burst)
      : interval_ms_(std::max<int64_t>(interval_ms, 1)),
        burst_(std::max(burst, 1)),
        tokens_(burst_) {}

  // True if a line may be logged at `now_ms`; then `*suppressed` is how many were refused since
  // the last line allowed (and the count starts again). False: this one is counted, log nothing.
  bool allow(int64_t now_ms, uint64_t* suppressed) {
    refill(now_ms);
    if (tokens_ == 0) {
      ++suppressed_;
      return false;
    }
    --tokens_;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

  // Lines refused since the last one allowed (for a final report, e.g. at shutdown).
  uint64_t suppressed() const { return suppressed_; }

 private:
  void refill(int64_t now_ms) {
    if (!started_) {
      started_ = true;
      last_refill_ms_ = now_ms;
      return;
    }
    if (now_ms <= last_refill_ms_) return;  // a clock that stands still or steps back adds nothing
    int64_t earned = (now_ms - last_refill_ms_) / interval_ms_;
    if (earned == 0) return;
    tokens_ = static_cast<int>(std::min<int64_t>(burst_, tokens_ + earned));
    // A full bucket does not bank time; otherwise keep the part of an interval not yet earned.
    last_refill_ms_ = tokens_ == burst_ ? now_ms : last_refill_ms_ + earned * interval_ms_;
  }

  int64_t interval_ms_;
  int burst_;
  int tokens_;
  bool started_ = false;
  int64_t last_refill_ms_ = 0;
  uint64_t suppressed_ = 0;
};

// " (N similar suppressed)" when N > 0, else "": the suffix of the line a limiter allowed.
inline std::string suppressed_note(uint64_t suppressed) {
  if (suppressed == 0) return {};
  return " (" + std::to_string(suppressed) + " similar suppressed)";
}

}  // namespace meterd
