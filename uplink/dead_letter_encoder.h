// Encodes one dead letter as the dead-letter record of uplink/FORMAT.md: a flat JSON object, one
// per message, that ClickHouse reads as JSONEachRow, and its message key. Pure: the bytes depend
// only on the letter, the agent id and the buffer id, so every resend is byte-identical.
#pragma once

#include <string>
#include <string_view>

#include "buffer/store/dead_letter_reader.h"

namespace meterd {

// The message key and the record's `dead_letter_key`: "<buffer id>-<dead letter id>", unique
// across buffers and never reused within one (ids are AUTOINCREMENT), so a resend after a crash
// names the same letter.
std::string dead_letter_key(std::string_view buffer_id, int64_t id);

void encode_dead_letter(std::string_view agent_id, std::string_view buffer_id,
                        const UnsentDeadLetter& letter, std::string* out);

}  // namespace meterd
