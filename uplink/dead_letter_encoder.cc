// The dead-letter record's JSON (see dead_letter_encoder.h and uplink/FORMAT.md). Every string
// field is made valid UTF-8 first, then escaped as RFC 8259 requires: an older ClickHouse stalls
// its partition on a record it cannot parse.
#include "uplink/dead_letter_encoder.h"

#include <fmt/format.h>

#include <iterator>

#include "buffer/base/json_text.h"

namespace meterd {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// The length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one
// (overlong forms, surrogates and code points past U+10FFFF are refused, as RFC 3629 says).
size_t valid_sequence(std::string_view s) {
  auto at = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char lead = at(0);
  if (lead < 0x80) return 1;
  size_t length = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3
                  : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
  if (length == 0 || s.size() < length) return 0;
  // The second byte's range is narrower after these leads.
  unsigned char low = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80;
  unsigned char high = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
  if (at(1) < low || at(1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (!is_continuation(at(i))) return 0;
  }
  return length;
}

void field(std::string* out, std::string_view name, std::string_view text, std::string* scratch) {
  fmt::format_to(std::back_inserter(*out), ",\"{}\":", name);
  scratch->clear();
  append_utf8_or_replacement(scratch, text);
  append_json_string(out, *scratch);
}

}  // namespace

void append_utf8_or_replacement(std::string* out, std::string_view bytes) {
  while (!bytes.empty()) {
    size_t length = valid_sequence(bytes);
    if (length == 0) {
      out->append(kReplacement);
      length = 1;
    } else {
      out->append(bytes.substr(0, length));
    }
    bytes.remove_prefix(length);
  }
}

std::string dead_letter_key(std::string_view buffer_id, int64_t id) {
  return fmt::format("{}-{}", buffer_id, id);
}

void encode_dead_letter(std::string_view agent_id, std::string_view buffer_id,
                        const UnsentDeadLetter& letter, std::string* out) {
  std::string scratch;
  out->clear();
  out->append("{\"dead_letter_key\":");
  append_json_string(out, dead_letter_key(buffer_id, letter.id));
  field(out, "agent_id", agent_id, &scratch);
  field(out, "buffer_id", buffer_id, &scratch);
  fmt::format_to(std::back_inserter(*out), ",\"dead_letter_id\":{},\"received_ms\":{}", letter.id,
                 letter.received_ms);
  field(out, "transport", letter.listener, &scratch);
  field(out, "reason_code", letter.reason_code, &scratch);
  field(out, "reason", letter.reason, &scratch);
  // A flag as 0/1, not true/false: ClickHouse 18's JSONEachRow reads no JSON booleans.
  bool truncated = letter.raw_bytes > static_cast<int64_t>(letter.raw.size());
  fmt::format_to(std::back_inserter(*out), ",\"raw_bytes\":{},\"raw_truncated\":{}",
                 letter.raw_bytes, truncated ? 1 : 0);
  field(out, "raw", letter.raw, &scratch);
  out->push_back('}');
}

}  // namespace meterd
