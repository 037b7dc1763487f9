// Reading and writing the store's `meta` rows (see meta.h), one key at a time, as text.
#include "buffer/store/meta.h"

#include <string_view>

namespace meterd {

Status MetaTable::prepare(sqlite3* db) {
  Status s = read_.prepare(db, "SELECT key, value FROM meta");
  if (s) s = save_.prepare(db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
  return s;
}

Status MetaTable::load(StoredMeta* meta) {
  Status status;
  StatementUse use(read_);
  while (read_.step(&status)) {
    std::string_view key = read_.column_text(0);
    std::string value(read_.column_text(1));
    if (key == "agent_id") meta->agent_id = value;
    if (key == "buffer_id") meta->buffer_id = value;
    if (key == "commit_seq") meta->commit_seq = std::stoll(value);
    if (key == "dedup_keys") meta->dedup_keys = std::stoll(value);
    if (key == "emitted_through_ms") meta->emitted_through_ms = std::stoll(value);
    if (key == "window_size_s") meta->window_size_s = std::stoll(value);
  }
  return status;
}

Status MetaTable::save(const StoredMeta& meta) {
  auto put = [this](std::string_view key, std::string value) {
    StatementUse use(save_);
    save_.bind_text(1, key);
    save_.bind_text(2, value);
    return save_.run();
  };
  Status s = put("agent_id", meta.agent_id);
  if (s) s = put("buffer_id", meta.buffer_id);
  if (s) s = put("commit_seq", std::to_string(meta.commit_seq));
  if (s) s = put("dedup_keys", std::to_string(meta.dedup_keys.value_or(0)));
  if (s) s = put("emitted_through_ms", std::to_string(meta.emitted_through_ms));
  if (s) s = put("window_size_s", std::to_string(meta.window_size_s));
  return s;
}

}  // namespace meterd
