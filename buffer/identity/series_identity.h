// Series identity: the canonical byte string naming one series (meter, subject, group pairs).
//
// The same bytes serve three purposes: the key of the in-memory delta table, the UNIQUE identity
// of a row in the buffer's `series` table, and the middle part of the idempotency key's input.
// Every field is length-prefixed (u32 little-endian), so no choice of subject or group value can
// make two different series encode alike. Group pairs are written sorted by name.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meterd {

// The longest identity accepted (events with a longer one are dead letters): a window's record
// carries the subject and group values JSON-escaped (up to 6 bytes a byte) beside at most
// 256 KiB of distinct values (distinct_chunks.h), and must stay below Kafka's 1 MB message.
constexpr size_t kMaxSeriesIdentityBytes = 16 * 1024;

struct SeriesParts {
  std::string meter;
  std::string subject;
  std::vector<std::pair<std::string, std::string>> groups;  // sorted by name
};

// A field's length prefix: its size as u32 little-endian.
inline std::array<char, 4> field_length_prefix(std::string_view field) {
  auto size = static_cast<uint32_t>(field.size());
  return {char(size & 0xff), char(size >> 8 & 0xff), char(size >> 16 & 0xff),
          char(size >> 24 & 0xff)};
}

// Appends one length-prefixed field to `out`. Inline: the ingest thread writes a few fields for
// every meter of every event.
inline void append_field(std::string* out, std::string_view field) {
  std::array<char, 4> prefix = field_length_prefix(field);
  out->append(prefix.data(), prefix.size()).append(field);
}

inline void append_i64(std::string* out, int64_t value) {
  auto bits = static_cast<uint64_t>(value);
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = char(bits >> (8 * i) & 0xff);
  out->append(bytes, 8);
}

// Writes identities into one reused buffer, for the ingest thread, which writes one for every
// meter of every event: std::string's appends each call memcpy, and at a dozen small fields per
// event those calls were ~10% of the thread. Short copies here are inline 8-byte moves.
class SeriesIdentityWriter {
 public:
  // Starts a new identity with `prefix` (already encoded: the meter's field).
  void start(std::string_view prefix) {
    size_ = 0;
    write(prefix.data(), prefix.size());
  }
  // Appends one length-prefixed field, as append_field does. Always inlined (as is write()):
  // with LTO, GCC otherwise made both calls of their own on the series-key path, 30 more
  // instructions an event.
  [[gnu::always_inline]] void field(std::string_view text) {
    std::array<char, 4> prefix = field_length_prefix(text);
    write(prefix.data(), prefix.size());
    write(text.data(), text.size());
  }
  std::string_view view() const { return std::string_view(buffer_.data(), size_); }

 private:
  [[gnu::always_inline]] void write(const char* from, size_t count) {
    if (size_ + count > buffer_.size()) buffer_.resize(std::max<size_t>(256, 2 * (size_ + count)));
    char* to = buffer_.data() + size_;
    size_ += count;
    if (count >= 8) {
      // Whole words, then the last eight bytes again (overlapping): no byte loop, no call.
      for (size_t i = 0; i + 8 <= count; i += 8) std::memcpy(to + i, from + i, 8);
      std::memcpy(to + count - 8, from + count - 8, 8);
    } else if (count >= 4) {
      std::memcpy(to, from, 4);
      std::memcpy(to + count - 4, from + count - 4, 4);
    } else {
      for (size_t i = 0; i < count; ++i) to[i] = from[i];
    }
  }

  std::string buffer_;
  size_t size_ = 0;
};

// The identity's 64-bit hash (XXH3-64): the series table's lookup key (schema version 4, stored
// as a signed integer) and the cardinality bound's set element.
uint64_t series_identity_hash(std::string_view identity);

// Encodes a whole identity. `groups` must already be sorted by name.
std::string encode_series(const SeriesParts& parts);

// Decodes an identity; false if the bytes are not a well-formed identity.
bool decode_series(std::string_view encoded, SeriesParts* parts);

}  // namespace meterd
