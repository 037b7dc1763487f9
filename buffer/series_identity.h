// Series identity: the canonical byte string naming one series (meter, subject, group pairs).
//
// The same bytes serve three purposes: the key of the in-memory delta table, the UNIQUE identity
// of a row in the buffer's `series` table, and the middle part of the idempotency key's input.
// Every field is length-prefixed (u32 little-endian), so no choice of subject or group value can
// make two different series encode alike. Group pairs are written sorted by name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meterd {

struct SeriesParts {
  std::string meter;
  std::string subject;
  std::vector<std::pair<std::string, std::string>> groups;  // sorted by name
};

// Appends one length-prefixed field to `out`. Inline: the ingest thread writes a few fields for
// every meter of every event.
inline void append_field(std::string* out, std::string_view field) {
  auto size = static_cast<uint32_t>(field.size());
  char prefix[4] = {char(size & 0xff), char(size >> 8 & 0xff), char(size >> 16 & 0xff),
                    char(size >> 24 & 0xff)};
  out->append(prefix, 4).append(field);
}

inline void append_i64(std::string* out, int64_t value) {
  auto bits = static_cast<uint64_t>(value);
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = char(bits >> (8 * i) & 0xff);
  out->append(bytes, 8);
}

// The identity's 64-bit hash (XXH3-64): the series table's lookup key (schema version 4, stored
// as a signed integer) and the cardinality bound's set element.
uint64_t series_identity_hash(std::string_view identity);

// Encodes a whole identity. `groups` must already be sorted by name.
std::string encode_series(const SeriesParts& parts);

// Decodes an identity; false if the bytes are not a well-formed identity.
bool decode_series(std::string_view encoded, SeriesParts* parts);

}  // namespace meterd
