// A buffer file in a fresh temporary folder, removed with the folder at the end of the test, and
// the outbox as the uplink would read it.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

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

}  // namespace meterd::testing
