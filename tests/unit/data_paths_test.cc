// DataPaths: every meter's paths captured in one pass over an event's data.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/unit/captured.h"

using namespace meterd;

TEST_CASE("data paths: paths sharing a prefix are all captured in one pass") {
  auto found = captured({"$.usage.input", "$.usage.output", "$.model", "$.usage"},
                        R"({"model":"m1","usage":{"output":7, "input":5},"other":[1,{"x":2}]})");
  CHECK(found == std::vector<std::string>{"5", "7", "\"m1\"", R"({"output":7,"input":5})"});
}

TEST_CASE("data paths: the same path registered twice shares one slot") {
  DataPaths tree;
  JsonPath a, b, c;
  std::string why;
  REQUIRE(JsonPath::compile("$.a.b", &a, &why));
  REQUIRE(JsonPath::compile("$['a'].b", &b, &why));
  REQUIRE(JsonPath::compile("$.a.c", &c, &why));
  CHECK(tree.add(a) == 0);
  CHECK(tree.add(b) == 0);
  CHECK(tree.add(c) == 1);
  CHECK(tree.size() == 2);
}

TEST_CASE("data paths: array indexes beside names, and the whole of an array") {
  auto found = captured({"$.l[1].v", "$.l[0]", "$.l"}, R"({"l":[{"v":1},{"v":2}]})");
  CHECK(found == std::vector<std::string>{"2", R"({"v":1})", R"([{"v":1},{"v":2}])"});
}

TEST_CASE("data paths: each scalar type is captured as what it is") {
  auto found = captured({"$.s", "$.i", "$.u", "$.d", "$.b", "$.n", "$.e"},
                        R"({"s":"a\"b","i":-3,"u":18446744073709551615,"d":2.5,"b":false,"n":null,)"
                        R"("e":"\u00e9"})");
  CHECK(found == std::vector<std::string>{"\"a\"b\"", "-3", "18446744073709551615", "2.5",
                                          "false", "null", "\"\xc3\xa9\""});
}

TEST_CASE("data paths: escaped keys match their unescaped names") {
  CHECK(captured({"$.tokens"}, R"({"\u0074okens":4})")[0] == "4");
}

TEST_CASE("data paths: a path into the wrong type finds nothing") {
  CHECK(captured({"$.a.b"}, R"({"a":"text"})")[0] == "<missing>");
  CHECK(captured({"$.a[0]"}, R"({"a":{"x":1}})")[0] == "<missing>");
}
