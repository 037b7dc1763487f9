// The dead-letter record (uplink/FORMAT.md): every field, the key, the raw event's bound and
// flag, and valid JSON whatever bytes the event held (simdjson checks UTF-8 as it parses).
#include <catch2/catch.hpp>

#include <simdjson.h>

#include "buffer/base/json_text.h"
#include "uplink/dead_letter_encoder.h"

using namespace meterd;

namespace {

UnsentDeadLetter letter_of(std::string raw, int64_t raw_bytes) {
  UnsentDeadLetter letter;
  letter.id = 42;
  letter.received_ms = 1672531290123;
  letter.listener = "unix_stream";
  letter.reason = "data.tokens: not a number";
  letter.reason_code = "value";
  letter.raw = std::move(raw);
  letter.raw_bytes = raw_bytes;
  return letter;
}

}  // namespace

TEST_CASE("dead letter record: the fields, and a key of buffer id and letter id") {
  std::string record;
  encode_dead_letter("edge-1", "0123abcd", letter_of(R"({"id":"1"})", 10), &record);
  CHECK(record ==
        R"({"dead_letter_key":"0123abcd-42","agent_id":"edge-1","buffer_id":"0123abcd",)"
        R"("dead_letter_id":42,"received_ms":1672531290123,"transport":"unix_stream",)"
        R"("reason_code":"value","reason":"data.tokens: not a number","raw_bytes":10,)"
        R"("raw_truncated":0,"raw":"{\"id\":\"1\"}"})");
  CHECK(dead_letter_key("0123abcd", 42) == "0123abcd-42");
  std::string again;
  encode_dead_letter("edge-1", "0123abcd", letter_of(R"({"id":"1"})", 10), &again);
  CHECK(again == record);  // a resend is byte-identical
}

TEST_CASE("dead letter record: a cut raw event says so and keeps its full length") {
  std::string record;
  encode_dead_letter("edge-1", "b", letter_of(std::string(8192, 'x'), 70000), &record);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE_FALSE(parser.parse(record).get(doc));
  CHECK(int64_t(doc["raw_bytes"]) == 70000);
  CHECK(int64_t(doc["raw_truncated"]) == 1);
  CHECK(std::string_view(doc["raw"]).size() == 8192);
}

TEST_CASE("dead letter record: bytes that are not UTF-8 become U+FFFD, control bytes escapes") {
  // msgpack, a lone continuation byte, an overlong '/', a surrogate, a character cut in two.
  std::string raw("\x82\xa2id\x01\x80 \xc0\xaf \xed\xa0\x80 ok \xe2\x82", 21);
  std::string record;
  encode_dead_letter("edge-1", "b", letter_of(raw, 21), &record);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE_FALSE(parser.parse(record).get(doc));
  std::string_view text = doc["raw"];
  CHECK(text.find("id\x01") != std::string_view::npos);
  CHECK(text.find(" ok ") != std::string_view::npos);
  CHECK(text.find("\xef\xbf\xbd") != std::string_view::npos);
  CHECK(record.find("\\u0001") != std::string::npos);

  std::string valid;
  append_valid_utf8(&valid, "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(valid == "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80");  // valid text unchanged
  std::string cut;
  append_valid_utf8(&cut, "a\xe2\x82");
  CHECK(cut == "a\xef\xbf\xbd\xef\xbf\xbd");
}
