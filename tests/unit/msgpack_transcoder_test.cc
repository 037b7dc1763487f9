// msgpack → JSON (agent/decode/msgpack_transcoder.h): what comes out for each kind of value, and
// what is refused. Inputs are built with msgpack-cxx's packer where the layout does not matter
// and written byte by byte where it does (truncation, binary, extension types).
#include <catch2/catch.hpp>

#include <msgpack.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "agent/decode/msgpack_transcoder.h"

using namespace meterd;

namespace {

std::string bytes_of(const msgpack::sbuffer& buffer) { return {buffer.data(), buffer.size()}; }

// The JSON for `payload`; fails the test if it is refused.
std::string json_of(const std::string& payload) {
  std::string json, error;
  INFO(error);
  REQUIRE(msgpack_to_json(payload, &json, &error));
  return json;
}

// The reason `payload` is refused; fails the test if it is transcoded.
std::string refusal_of(const std::string& payload) {
  std::string json, error;
  REQUIRE_FALSE(msgpack_to_json(payload, &json, &error));
  return error;
}

}  // namespace

TEST_CASE("msgpack: scalars become their JSON values") {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(&buffer);
  packer.pack_map(6);
  packer.pack("s").pack("text");
  packer.pack("u").pack(uint64_t{18446744073709551615u});
  packer.pack("i").pack(int64_t{-42});
  packer.pack("f").pack(2.5);
  packer.pack("t").pack(true);
  packer.pack("n").pack_nil();
  CHECK(json_of(bytes_of(buffer)) ==
        R"({"s":"text","u":18446744073709551615,"i":-42,"f":2.5,"t":true,"n":null})");
}

TEST_CASE("msgpack: strings that need escaping are escaped") {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(&buffer);
  packer.pack_map(1);
  packer.pack("quote\"back\\slash");
  packer.pack(std::string("line\nfeed\ttab\x01" "end"));
  CHECK(json_of(bytes_of(buffer)) ==
        R"({"quote\"back\\slash":"line\nfeed\ttab\u0001end"})");
}

TEST_CASE("msgpack: nested maps and arrays keep their shape") {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(&buffer);
  packer.pack_map(2);
  packer.pack("data");
  packer.pack_map(2);
  packer.pack("tokens").pack(5);
  packer.pack("tags");
  packer.pack_array(3);
  packer.pack("a").pack_array(0).pack_map(0);
  packer.pack("id").pack("1");
  CHECK(json_of(bytes_of(buffer)) == R"({"data":{"tokens":5,"tags":["a",[],{}]},"id":"1"})");
}

TEST_CASE("msgpack: an array of maps and concatenated maps both become a JSON array") {
  const std::string one = "\x81\xa2id\xa1" "1";  // {"id":"1"}
  const std::string two = "\x81\xa2id\xa1" "2";
  CHECK(json_of("\x92" + one + two) == R"([{"id":"1"},{"id":"2"}])");
  CHECK(json_of(one + two) == R"([{"id":"1"},{"id":"2"}])");
  CHECK(json_of(one) == R"({"id":"1"})");
}

TEST_CASE("msgpack: binary and extension values are refused") {
  const std::string binary = std::string("\x81\xa1" "b\xc4\x02", 5) + std::string("\x00\x01", 2);
  CHECK(refusal_of(binary) == "binary and extension values are not supported");
  const std::string extension = std::string("\x81\xa1" "e\xd4\x01", 5) + std::string("\x00", 1);
  CHECK(refusal_of(extension) == "binary and extension values are not supported");
}

TEST_CASE("msgpack: truncated input is refused, and nothing of it is transcoded") {
  const std::string whole = "\x81\xa2id\xa1" "1";  // {"id":"1"}
  std::string json = "stale", error;
  // A whole map, then a map of two entries that ends after its first key.
  CHECK_FALSE(msgpack_to_json(whole + "\x82\xa2id", &json, &error));
  CHECK(error.starts_with("invalid msgpack at byte "));
  CHECK(json.empty());
  // A string cut short.
  CHECK(refusal_of("\x81\xa2id\xa5" "ab").starts_with("invalid msgpack at byte "));
}

TEST_CASE("msgpack: a key that is not a string is refused") {
  CHECK(refusal_of("\x81\x01\x02") == "map keys must be strings");
}

TEST_CASE("msgpack: a non-finite float is refused") {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(&buffer);
  packer.pack_map(1);
  packer.pack("v").pack(std::numeric_limits<double>::infinity());
  CHECK(refusal_of(bytes_of(buffer)) == "non-finite float");
}

TEST_CASE("msgpack: nesting deeper than the bound is refused, not recursed into") {
  std::string deep(100, '\x91');  // arrays of one element, 100 deep
  deep.push_back('\x01');
  CHECK(refusal_of(deep) == "nested too deeply");
  std::string shallow(10, '\x91');
  shallow.push_back('\x01');
  CHECK(json_of(shallow) == std::string(10, '[') + "1" + std::string(10, ']'));
}

TEST_CASE("msgpack: only a map or an array looks like msgpack") {
  CHECK(looks_like_msgpack("\x81\xa2id\xa1" "1"));  // fixmap
  CHECK(looks_like_msgpack("\x92"));                // fixarray
  CHECK(looks_like_msgpack("\xde"));                // map 16
  CHECK(looks_like_msgpack("\xdd"));                // array 32
  CHECK_FALSE(looks_like_msgpack(R"({"id":"1"})"));
  CHECK_FALSE(looks_like_msgpack("[1]"));
  CHECK_FALSE(looks_like_msgpack(""));
  CHECK_FALSE(looks_like_msgpack("\xa1" "a"));      // a lone string
}
