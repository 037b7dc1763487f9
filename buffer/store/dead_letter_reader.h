// DeadLetterReader: the uplink thread's own read connection to the buffer's dead letters, for
// the dead-letter records it sends to Kafka.
//
// It reads the letters not yet sent, in id order, with their raw bytes cut to a bound (a record
// stays small however large the event was; the full length comes along). It never writes: a
// letter is marked sent by the store once the uplink reports its record confirmed
// (Store::mark_dead_letters_sent). Uplink thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "buffer/base/status.h"
#include "buffer/sqlite/sqlite_handle.h"

namespace meterd {

// One dead letter as it will be sent (FORMAT.md, `dead_letters`).
struct UnsentDeadLetter {
  int64_t id = 0;
  int64_t received_ms = 0;
  std::string listener;
  std::string reason;
  std::string reason_code;
  std::string raw;        // the first max_raw_bytes bytes of the event
  int64_t raw_bytes = 0;  // the event's full length
};

class DeadLetterReader {
 public:
  // `max_raw_bytes`: how much of each letter's raw event is read.
  static Status open(const std::string& path, int64_t max_raw_bytes,
                     std::unique_ptr<DeadLetterReader>* out);

  // Replaces `letters` with up to `limit` unsent letters with id > `after_id`, in id order.
  Status read_after(int64_t after_id, int limit, std::vector<UnsentDeadLetter>* letters);
  // Reads one letter; `found` is false once it was evicted or marked sent.
  Status read_one(int64_t id, UnsentDeadLetter* letter, bool* found);

 private:
  DeadLetterReader() = default;
  void read_row(Statement& stmt, UnsentDeadLetter* letter);

  SqliteDb db_;
  Statement read_after_, read_one_;
};

}  // namespace meterd
