// Reads the buffer's dead_letters table read-only (see buffer/FORMAT.md); safe while meterd runs.
#include "agent/ctl/ctl_dlq.h"

#include <sys/stat.h>

#include <iostream>

#include <fmt/format.h>

#include "buffer/sqlite/sqlite_handle.h"

namespace meterd {

int list_dead_letters(const std::string& buffer_path, int limit, std::ostream& out) {
  struct stat info;
  if (::stat(buffer_path.c_str(), &info) != 0) {
    std::cerr << "meterctl: no buffer at " << buffer_path
              << " (has meterd run with this configuration?)\n";
    return 1;
  }
  SqliteDb db;
  Statement select;
  Status s = open_database(buffer_path, true, &db);
  if (s) {
    s = select.prepare(db.get(), R"sql(
      SELECT id, strftime('%Y-%m-%dT%H:%M:%fZ', received_ms / 1000.0, 'unixepoch'), listener,
             reason, raw
      FROM dead_letters ORDER BY id DESC LIMIT ?1)sql");
  }
  if (!s) {
    std::cerr << "meterctl: " << s.message() << "\n";
    return 1;
  }
  select.bind(1, int64_t{limit});
  StatementUse use(select);
  int rows = 0;
  while (select.step(&s)) {
    std::string raw(select.column_text(4));
    if (raw.size() > 200) raw = raw.substr(0, 200) + "…";
    out << fmt::format("#{} {} {}: {}\n    {}\n", select.column_int(0), select.column_text(1),
                       select.column_text(2), select.column_text(3), raw);
    ++rows;
  }
  if (!s) {
    std::cerr << "meterctl: " << s.message() << "\n";
    return 1;
  }
  if (rows == 0) out << "no dead letters\n";
  return 0;
}

}  // namespace meterd
