// The dead-letter record's JSON (see dead_letter_encoder.h and uplink/FORMAT.md). Every string
// field is made valid UTF-8 first, then escaped as RFC 8259 requires: an older ClickHouse stalls
// its partition on a record it cannot parse.
#include "uplink/dead_letter_encoder.h"

#include <fmt/format.h>

#include <iterator>

#include "buffer/base/json_text.h"

namespace meterd {
namespace {

void field(std::string* out, std::string_view name, std::string_view text, std::string* scratch) {
  fmt::format_to(std::back_inserter(*out), ",\"{}\":", name);
  scratch->clear();
  append_valid_utf8(scratch, text);
  append_json_string(out, *scratch);
}

}  // namespace

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
