// JSONPath as OpenMeter meters write it: the accepted forms, what they find, and the refusals.
#include <catch2/catch.hpp>

#include <string>

#include "agent/decode/json_path.h"

using namespace meterd;

namespace {

// The minified JSON found at `path` in `document`, or "<missing>".
std::string find(const std::string& path, const std::string& document) {
  JsonPath compiled;
  std::string why;
  REQUIRE(JsonPath::compile(path, &compiled, &why));
  simdjson::dom::parser parser;
  simdjson::dom::element root = parser.parse(document);
  simdjson::dom::element found;
  if (!compiled.find(root, &found)) return "<missing>";
  return simdjson::minify(found);
}

std::string compile_error(const std::string& path) {
  JsonPath compiled;
  std::string why;
  REQUIRE_FALSE(JsonPath::compile(path, &compiled, &why));
  return why;
}

}  // namespace

TEST_CASE("json path: dotted names walk nested objects") {
  CHECK(find("$.usage.input", R"({"usage":{"input":5}})") == "5");
  CHECK(find("$.a_b-c", R"({"a_b-c":"x"})") == "\"x\"");
  CHECK(find("$", R"({"a":1})") == R"({"a":1})");
}

TEST_CASE("json path: quoted bracket names may hold dots and spaces") {
  CHECK(find("$['a.b']", R"({"a.b":1,"a":{"b":2}})") == "1");
  CHECK(find(R"($["x y"].z)", R"({"x y":{"z":3}})") == "3");
}

TEST_CASE("json path: array indexes, also after names and twice") {
  CHECK(find("$.items[1]", R"({"items":[10,20]})") == "20");
  CHECK(find("$.m[0][1].v", R"({"m":[[{"v":1},{"v":2}]]})") == "2");
}

TEST_CASE("json path: a missing step, an index out of range or a wrong type finds nothing") {
  CHECK(find("$.a.b", R"({"a":{}})") == "<missing>");
  CHECK(find("$.items[2]", R"({"items":[1]})") == "<missing>");
  CHECK(find("$.a[0]", R"({"a":{"0":1}})") == "<missing>");
  CHECK(find("$.a.b", R"({"a":[1]})") == "<missing>");
}

TEST_CASE("json path: paths must start with $ and be well formed") {
  CHECK(compile_error("tokens") == "a path must start with '$'");
  CHECK(compile_error("") == "a path must start with '$'");
  CHECK(compile_error("$.") == "expected a property name after '.' at offset 2");
  CHECK(compile_error("$['a") == "unterminated quoted name at offset 1");
  CHECK(compile_error("$[x]") == "expected an array index or a quoted name at offset 1");
  CHECK(compile_error("$a") == "unexpected 'a' at offset 1");
}
