// A buffer file in a fresh temporary folder, removed with the folder at the end of the test; the
// outbox as the uplink would read it; and a file with the schema alone, for the store's table
// classes tested one at a time.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "buffer/sqlite/schema.h"
#include "buffer/sqlite/sqlite_handle.h"
#include "buffer/store/outbox_reader.h"
#include "buffer/store/store.h"

namespace meterd::testing {

struct TempBuffer {
  std::filesystem::path dir;
  TempBuffer() {
    dir = std::filesystem::temp_directory_path() /
          ("meterd-test-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
  }
  ~TempBuffer() { std::filesystem::remove_all(dir); }
  StoreOptions options() const {
    StoreOptions o;
    o.path = (dir / "buffer.db").string();
    o.agent_id = "edge-1";
    return o;
  }
};

inline std::vector<OutboxRow> read_outbox(const StoreOptions& options) {
  std::unique_ptr<OutboxReader> reader;
  REQUIRE(OutboxReader::open(options.path, &reader));
  std::vector<OutboxRow> rows;
  REQUIRE(reader->read_after(0, 100'000, &rows));
  return rows;
}

// A fresh buffer file with the current schema and no rows: what a table class sees inside a
// store, without the store.
struct SchemaBuffer : TempBuffer {
  SqliteDb db;
  SchemaBuffer() {
    REQUIRE(open_database(options().path, false, &db));
    REQUIRE(apply_schema(db.get()));
  }
  sqlite3* get() const { return db.get(); }
  // The integer a query returns (-1 when it returns no row).
  int64_t query(const std::string& sql) const {
    Statement statement;
    REQUIRE(statement.prepare(db.get(), sql));
    int64_t value = -1;
    REQUIRE(query_int(statement, &value));
    return value;
  }
};

}  // namespace meterd::testing
