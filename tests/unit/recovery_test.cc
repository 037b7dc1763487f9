// Start-up safety of the buffer file: damaged files are moved aside, a second agent is refused.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <random>

#include "buffer/sqlite/buffer_lock.h"
#include "buffer/sqlite/recovery.h"
#include "buffer/store/store.h"

using namespace meterd;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  auto dir = fs::temp_directory_path() / ("meterd-recovery-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("a sound buffer and a missing one are left alone") {
  auto dir = temp_dir();
  std::string path = (dir / "buffer.db").string();
  std::string moved, reason;
  REQUIRE(check_or_move_aside(path, &moved, &reason));
  CHECK(moved.empty());
  {
    std::unique_ptr<Store> store;
    StoreOptions options;
    options.path = path;
    REQUIRE(Store::open(options, 0, &store));
  }
  REQUIRE(check_or_move_aside(path, &moved, &reason));
  CHECK(moved.empty());
  CHECK(fs::exists(path));
  fs::remove_all(dir);
}

TEST_CASE("a garbage or truncated buffer is moved aside and counted") {
  auto dir = temp_dir();
  std::string path = (dir / "buffer.db").string();
  {
    std::unique_ptr<Store> store;
    StoreOptions options;
    options.path = path;
    REQUIRE(Store::open(options, 0, &store));
  }
  fs::resize_file(path, 1000);  // truncated mid-page
  std::string moved, reason;
  REQUIRE(check_or_move_aside(path, &moved, &reason));
  CHECK_FALSE(moved.empty());
  CHECK_FALSE(reason.empty());
  CHECK(fs::exists(moved));
  CHECK_FALSE(fs::exists(path));
  CHECK(recoveries_so_far(path) == 1);

  std::ofstream(path) << "this is not a database, but it is long enough to look like a header";
  std::string first = moved;
  REQUIRE(check_or_move_aside(path, &moved, &reason));  // most likely within the same second
  CHECK_FALSE(moved.empty());
  CHECK(moved != first);
  CHECK(fs::exists(first));  // the first damaged buffer is kept, not replaced
  CHECK(fs::exists(moved));
  CHECK(recoveries_so_far(path) == 2);
  fs::remove_all(dir);
}

TEST_CASE("a second lock on the same buffer is refused and names the holder") {
  auto dir = temp_dir();
  std::string path = (dir / "buffer.db").string();
  BufferLock first, second;
  REQUIRE(first.acquire(path));
  Status status = second.acquire(path);
  REQUIRE_FALSE(status);
  CHECK(status.message().find("another meterd (pid " + std::to_string(getpid())) !=
        std::string::npos);
  fs::remove_all(dir);
}
