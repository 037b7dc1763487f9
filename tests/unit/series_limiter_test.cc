// The cardinality bound: series per meter and window, refused beyond the limit, forgotten once a
// window is over, rebuilt by seeding.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "agent/meters/series_limiter.h"
#include "buffer/identity/series_identity.h"

using namespace meterd;

namespace {

std::string series(const std::string& meter, const std::string& subject) {
  return encode_series({meter, subject, {}});
}

constexpr int64_t kWindow = 1672531260;
constexpr int64_t kNow = 1672531290000;  // inside the window

}  // namespace

TEST_CASE("series beyond the limit are refused; known series still pass") {
  SeriesLimiter limiter(60, 1000);
  CHECK(limiter.admit(series("m", "a"), kWindow, 2, kNow));
  CHECK(limiter.admit(series("m", "b"), kWindow, 2, kNow));
  CHECK_FALSE(limiter.admit(series("m", "c"), kWindow, 2, kNow));
  CHECK(limiter.admit(series("m", "a"), kWindow, 2, kNow));
  // Another window and another meter count separately.
  CHECK(limiter.admit(series("m", "c"), kWindow + 60, 2, kNow));
  CHECK(limiter.admit(series("other", "c"), kWindow, 2, kNow));
  CHECK(limiter.tracked_series() == 4);
}

TEST_CASE("a window's count is dropped one grace after it closed and went quiet") {
  SeriesLimiter limiter(60, 1000);
  CHECK(limiter.admit(series("m", "a"), kWindow, 1, kNow));
  // Still counted until the window's end + grace, then forgotten at the next expiry.
  CHECK_FALSE(limiter.admit(series("m", "b"), kWindow, 1, (kWindow + 60) * 1000 + 500));
  CHECK(limiter.admit(series("m", "c"), kWindow + 120, 1, (kWindow + 63) * 1000));
  CHECK(limiter.tracked_windows() == 1);
  // A late burst for the old window starts a fresh count, bounded like the first.
  CHECK(limiter.admit(series("m", "b"), kWindow, 1, (kWindow + 64) * 1000));
  CHECK_FALSE(limiter.admit(series("m", "d"), kWindow, 1, (kWindow + 64) * 1000));
}

TEST_CASE("seeded series count against the limit") {
  SeriesLimiter limiter(60, 1000);
  limiter.seed(series("m", "a"), kWindow, kNow);
  limiter.seed(series("m", "b"), kWindow, kNow);
  CHECK(limiter.admit(series("m", "a"), kWindow, 2, kNow));
  CHECK_FALSE(limiter.admit(series("m", "c"), kWindow, 2, kNow));
}

TEST_CASE("the limiter's hash set holds what was inserted, 0 included, through growth") {
  meterd::SeriesHashSet set;
  CHECK_FALSE(set.contains(0));
  set.insert(0);
  CHECK(set.contains(0));
  for (uint64_t i = 1; i <= 10'000; ++i) set.insert(i * 0x9E3779B97F4A7C15ull);
  set.insert(5 * 0x9E3779B97F4A7C15ull);  // again: no second element
  CHECK(set.size() == 10'001);
  for (uint64_t i = 1; i <= 10'000; ++i) REQUIRE(set.contains(i * 0x9E3779B97F4A7C15ull));
  CHECK_FALSE(set.contains(10'001 * 0x9E3779B97F4A7C15ull));
}

TEST_CASE("counts stay per meter and window when more pairs interleave than the lookup cache holds") {
  SeriesLimiter limiter(60, 1000);
  const std::vector<std::string> meters = {"m1", "m2", "m3", "m4", "m5", "m6"};
  // Rounds over six meters and two windows: every ask misses the cache of four recent windows.
  for (const char* subject : {"a", "b"}) {
    for (int64_t window : {kWindow, kWindow + 60}) {
      for (const std::string& meter : meters) {
        CHECK(limiter.admit(series(meter, subject), window, 2, kNow));
      }
    }
  }
  for (int64_t window : {kWindow, kWindow + 60}) {
    for (const std::string& meter : meters) {
      CHECK_FALSE(limiter.admit(series(meter, "c"), window, 2, kNow));
      CHECK(limiter.admit(series(meter, "a"), window, 2, kNow));  // known: still admitted
    }
  }
  CHECK(limiter.tracked_series() == 24);
  // Expiry drops the first window (closed and quiet for a grace) and with it the cached
  // pointers; asks for it afterwards count afresh instead of touching a freed window.
  int64_t later = (kWindow + 60) * 1000 + 1500;
  for (const std::string& meter : meters) {
    CHECK(limiter.admit(series(meter, "z"), kWindow + 60, 3, later));
  }
  CHECK(limiter.tracked_windows() == 6);
  for (const std::string& meter : meters) {
    CHECK(limiter.admit(series(meter, "c"), kWindow, 1, later));
    CHECK_FALSE(limiter.admit(series(meter, "d"), kWindow, 1, later));
  }
}
