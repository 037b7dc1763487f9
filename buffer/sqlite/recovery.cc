// Integrity check and move-aside of a damaged buffer (see recovery.h).
#include "buffer/sqlite/recovery.h"

#include <chrono>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "buffer/sqlite/sqlite_handle.h"

namespace meterd {
namespace {

namespace fs = std::filesystem;

// Opens and checks the file; the reason is empty when it is sound.
std::string why_unreadable(const std::string& path) {
  SqliteDb db;
  if (Status s = open_database(path, false, &db); !s) return s.message();
  Statement check;
  // quick_check verifies every page and index structure without the full cross-check of
  // integrity_check, which would make a start with a large backlog slow.
  if (Status s = check.prepare(db.get(), "PRAGMA quick_check"); !s) return s.message();
  Status status;
  StatementUse use(check);
  std::string result = check.step(&status) ? std::string(check.column_text(0)) : "";
  if (!status) return status.message();
  return result == "ok" ? "" : "integrity check: " + result;
}

}  // namespace

Status check_or_move_aside(const std::string& path, std::string* moved_to, std::string* reason) {
  moved_to->clear();
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::ok();
  *reason = why_unreadable(path);
  if (reason->empty()) return Status::ok();

  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  // A second recovery within the same second must not replace the first one's file (rename
  // would): the damaged buffer may still hold rows worth saving by hand.
  std::string aside = fmt::format("{}.corrupt-{}", path, now_s);
  for (int n = 2; fs::exists(aside, ec); ++n) {
    aside = fmt::format("{}.corrupt-{}-{}", path, now_s, n);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string from = path + suffix;
    if (fs::exists(from, ec)) fs::rename(from, aside + suffix, ec);
    if (ec) return Status::error(fmt::format("moving {} aside: {}", from, ec.message()));
  }
  std::string counter = path + ".recoveries";
  int count = recoveries_so_far(path) + 1;
  std::ofstream(counter, std::ios::trunc) << count << "\n";
  *moved_to = aside;
  return Status::ok();
}

int recoveries_so_far(const std::string& path) {
  std::ifstream counter(path + ".recoveries");
  int count = 0;
  counter >> count;
  return count;
}

}  // namespace meterd
