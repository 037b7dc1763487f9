// Encodes one outbox row as the Kafka record of uplink/FORMAT.md: a flat JSON object, one per
// message, that ClickHouse reads as JSONEachRow. Pure: bytes out depend only on the row and the
// agent id, so every resend of a row is byte-identical.
#pragma once

#include <string>
#include <string_view>

#include "buffer/store/outbox_reader.h"

namespace meterd {

void encode_record(std::string_view agent_id, const OutboxRow& row, std::string* out);

}  // namespace meterd
