// The meta table alone: what the store saves it loads back, a buffer without a dedup count says
// so, and the schema's own row is left alone.
#include <catch2/catch.hpp>

#include "buffer/store/meta.h"
#include "tests/unit/temp_buffer.h"

using namespace meterd;
using meterd::testing::SchemaBuffer;

TEST_CASE("meta table: what is saved loads back") {
  SchemaBuffer buffer;
  MetaTable meta;
  REQUIRE(meta.prepare(buffer.get()));
  StoredMeta fresh;
  REQUIRE(meta.load(&fresh));
  CHECK(fresh.buffer_id.empty());
  CHECK_FALSE(fresh.dedup_keys.has_value());  // a buffer from before the count was kept

  StoredMeta saved{"edge-1", "0123abcd", 42, 17, 1'700'000'000'000, 300};
  REQUIRE(meta.save(saved));
  StoredMeta loaded;
  REQUIRE(meta.load(&loaded));
  CHECK(loaded.agent_id == "edge-1");
  CHECK(loaded.buffer_id == "0123abcd");
  CHECK(loaded.commit_seq == 42);
  CHECK(loaded.dedup_keys == 17);
  CHECK(loaded.emitted_through_ms == 1'700'000'000'000);
  CHECK(loaded.window_size_s == 300);
  CHECK(buffer.query("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'") ==
        kSchemaVersion);
}
