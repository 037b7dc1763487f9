// BufferGauges: what the buffer holds right now, read through a connection of its own: the
// admin listener reads it at each scrape, and `meterctl status` reads it with meterd stopped.
//
// A read-only connection never takes the store's write lock (WAL lets it read the last
// committed state while the store thread writes), so a scrape costs the store thread nothing.
// Its counts are SQL counts over small tables or indexes, taken only when someone asks.
//
// One owner thread: the statements live on its connection.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "buffer/base/status.h"
#include "buffer/sqlite/live_pages.h"
#include "buffer/sqlite/sqlite_handle.h"

namespace meterd {

struct BufferGaugeValues {
  int64_t open_windows = 0;    // rows of open windows (one per series, window and revision)
  int64_t series = 0;          // series the buffer knows: in an open window or the outbox
  int64_t outbox_records = 0;  // closed windows waiting for the broker's confirmation
  // The end of the oldest waiting window (unix ms; 0: the outbox is empty). Its age is how long
  // usage has waited to leave this machine, plus the window's grace.
  int64_t outbox_oldest_window_end_ms = 0;
  int64_t dead_letters = 0;  // kept in the buffer (at most buffer.dead_letter_limit)
  std::map<std::string, int64_t> dead_letters_by_reason;  // the kept ones by reason code
  int64_t used_bytes = 0;    // the pages in use, dedup keys included
};

class BufferGauges {
 public:
  // Opens `path` read-only; fails if it does not exist or is not a meterd buffer.
  static Status open(const std::string& path, std::unique_ptr<BufferGauges>* out);

  Status read(BufferGaugeValues* values);

 private:
  BufferGauges() = default;
  Status read_by_reason(std::map<std::string, int64_t>* counts);

  SqliteDb db_;
  LivePages live_pages_;
  Statement open_windows_, series_, outbox_records_, outbox_oldest_, dead_letters_;
  Statement dead_letters_by_reason_;
};

}  // namespace meterd
