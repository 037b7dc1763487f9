// Config loading: a full valid config, defaults, and every error reported at once with lines;
// environment references (${VAR}, ${VAR:-default}, $$); the admin, log and dead-letter keys.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/config/config.h"

using namespace meterd;

namespace {

const char* kValid = R"(agent_id: edge-1
listeners:
  udp: 127.0.0.1:7701
buffer:
  path: /tmp/x.db
  commit_interval: 200ms
windows:
  size: 1m
  grace: 10s
kafka:
  brokers: 127.0.0.1:9092
  topic: meter-windows
  properties: {compression.type: lz4}
meters:
  - slug: tokens_total
    eventType: prompt
    aggregation: SUM
    valueProperty: $.tokens
    groupBy:
      model: $.model
      type: $.type
  - slug: calls
    eventType: prompt
    aggregation: COUNT
)";

bool contains(const std::vector<std::string>& errors, const std::string& needle) {
  for (const auto& e : errors) {
    if (e.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("config loads every documented key") {
  Config config;
  std::vector<std::string> errors;
  REQUIRE(load_config_text(kValid, "test.yaml", &config, &errors));
  CHECK(config.agent_id == "edge-1");
  REQUIRE(config.listeners.udp);
  CHECK(config.listeners.udp->port == 7701);
  CHECK(config.buffer.commit_interval_ms == 200);
  CHECK(config.windows.size_s == 60);
  CHECK(config.windows.grace_ms == 10'000);
  CHECK(config.kafka.properties.at("compression.type") == "lz4");
  REQUIRE(config.meters.size() == 2);
  CHECK(config.meters[0].aggregation == Aggregation::kSum);
  REQUIRE(config.meters[0].group_by.size() == 2);
  CHECK(config.meters[0].group_by[0].first == "model");  // sorted by name
  CHECK(config.meters[1].aggregation == Aggregation::kCount);
  CHECK_FALSE(config.meters[1].value_property);
}

TEST_CASE("config reports all errors at once, with lines") {
  const char* bad = R"(listeners:
  udp: 127.0.0.1:notaport
buffer:
  commit_interval: soon
kafak: {}
meters:
  - slug: a
    eventType: prompt
    aggregation: SUM
  - slug: a
    eventType: prompt
    aggregation: COUNT
    valueProperty: $.x
  - slug: b
    eventType: prompt
    aggregation: MEDIAN
    valueProperty: tokens
    groupBy:
      9bad: $.m
)";
  Config config;
  std::vector<std::string> errors;
  REQUIRE_FALSE(load_config_text(bad, "bad.yaml", &config, &errors));
  CHECK(contains(errors, "bad.yaml:2: listeners.udp: port must be"));
  CHECK(contains(errors, "bad.yaml:4: buffer.commit_interval: expected a positive duration"));
  CHECK(contains(errors, "bad.yaml:5: kafak: unknown key"));
  CHECK(contains(errors, "kafka: required"));
  CHECK(contains(errors, "meters[0].valueProperty: required for SUM"));
  CHECK(contains(errors, "bad.yaml:10: meters[1].slug: duplicate slug 'a'"));
  CHECK(contains(errors, "meters[1].valueProperty: must not be set for COUNT"));
  CHECK(contains(errors, "meters[2].aggregation: 'MEDIAN' is not supported"));
  CHECK(contains(errors, "meters[2].valueProperty: a path must start with '$'"));
  CHECK(contains(errors, "meters[2].groupBy.9bad: group names must match"));
  for (const auto& e : errors) UNSCOPED_INFO(e);
  CHECK(errors.size() == 10);
}

TEST_CASE("config refuses YAML syntax errors with a line") {
  Config config;
  std::vector<std::string> errors;
  REQUIRE_FALSE(load_config_text("meters: [\n  - a\n", "s.yaml", &config, &errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind("s.yaml:", 0) == 0);
}

TEST_CASE("durations parse with units") {
  int64_t ms = 0;
  REQUIRE(parse_duration_ms("200ms", &ms));
  CHECK(ms == 200);
  REQUIRE(parse_duration_ms("7d", &ms));
  CHECK(ms == 7 * 86'400'000LL);
  CHECK_FALSE(parse_duration_ms("10", &ms));
  CHECK_FALSE(parse_duration_ms("s", &ms));
  CHECK_FALSE(parse_duration_ms("1.5s", &ms));
}

// ---- Environment references: ${VAR}, ${VAR:-default}, $$ ----

namespace {

// A fixed environment, so the tests do not depend on the process's.
EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto found = vars.find(name);
    if (found == vars.end()) return std::nullopt;
    return found->second;
  };
}

std::string interpolated(const std::string& text, const EnvLookup& env) {
  std::string out, why;
  REQUIRE(interpolate_env(text, env, &out, &why));
  return out;
}

std::string interpolation_error(const std::string& text, const EnvLookup& env) {
  std::string out, why;
  REQUIRE_FALSE(interpolate_env(text, env, &out, &why));
  return why;
}

const char* kWithEnv = R"(agent_id: ${AGENT}
listeners:
  udp: 127.0.0.1:${PORT}
buffer:
  max_size: ${SIZE:-2GiB}
  commit_interval: ${INTERVAL:-50ms}
kafka:
  brokers: ${BROKERS:-localhost:9092}
  topic: "price$$list"
meters:
  - slug: tokens_total
    eventType: prompt
    aggregation: SUM
    valueProperty: $.tokens
)";

}  // namespace

TEST_CASE("env: references are replaced before values are interpreted", "[config]") {
  Config config;
  std::vector<std::string> errors;
  auto env = fake_env({{"AGENT", "edge-7"}, {"PORT", "7711"}, {"INTERVAL", "300ms"}});
  REQUIRE(load_config_text(kWithEnv, "env.yaml", &config, &errors, env));
  CHECK(config.agent_id == "edge-7");
  REQUIRE(config.listeners.udp);
  CHECK(config.listeners.udp->port == 7711);              // a number that came from the env
  CHECK(config.buffer.max_size_bytes == (2LL << 30));     // unset: the default, then parsed
  CHECK(config.buffer.commit_interval_ms == 300);         // set: the default is not used
  CHECK(config.kafka.brokers == "localhost:9092");
  CHECK(config.kafka.topic == "price$list");              // $$ is one literal $
  CHECK(config.meters[0].value_property->text() == "$.tokens");  // a lone $ stays as it is
}

TEST_CASE("env: :- applies to an unset or empty variable; ${VAR} of an empty one is empty",
          "[config]") {
  auto env = fake_env({{"EMPTY", ""}, {"SET", "x"}});
  CHECK(interpolated("a${EMPTY:-d}b", env) == "adb");
  CHECK(interpolated("a${UNSET:-d}b", env) == "adb");
  CHECK(interpolated("a${SET:-d}b", env) == "axb");
  CHECK(interpolated("a${EMPTY}b", env) == "ab");
  CHECK(interpolated("${SET}${SET}-${UNSET:-}", env) == "xx-");
  CHECK(interpolated("${UNSET:-a:-b$c}", env) == "a:-b$c");  // the default is taken as written
  CHECK(interpolated("$$${SET}$$$", env) == "$x$$");
  CHECK(interpolated("$['a b'] costs $5", env) == "$['a b'] costs $5");
}

TEST_CASE("env: malformed references are errors that say what is wrong", "[config]") {
  auto env = fake_env({{"SET", "x"}});
  CHECK_THAT(interpolation_error("${", env), Catch::Contains("unterminated reference"));
  CHECK_THAT(interpolation_error("a ${SET", env), Catch::Contains("unterminated reference"));
  CHECK_THAT(interpolation_error("${}", env), Catch::Contains("empty reference"));
  CHECK_THAT(interpolation_error("${:-x}", env), Catch::Contains("malformed reference '${:-x}'"));
  CHECK_THAT(interpolation_error("${1ABC}", env), Catch::Contains("malformed reference"));
  CHECK_THAT(interpolation_error("${A B}", env), Catch::Contains("malformed reference"));
  CHECK_THAT(interpolation_error("${SET:x}", env), Catch::Contains("malformed reference"));
  CHECK_THAT(interpolation_error("${SET-x}", env), Catch::Contains("malformed reference"));
  CHECK_THAT(interpolation_error("ok ${NOPE} ok", env),
             Catch::Contains("environment variable NOPE is not set"));
}

TEST_CASE("env: an unset variable is reported with every other error, once, at its line",
          "[config]") {
  const char* text = R"(listeners:
  udp: 127.0.0.1:${UDP_PORT}
  http: ${
kafka:
  brokers: ${METERD_BROKERS}
  max_in_flight: lots
meters:
  - slug: a
    eventType: ${EVENT_TYPE}
    aggregation: COUNT
)";
  Config config;
  std::vector<std::string> errors;
  REQUIRE_FALSE(load_config_text(text, "env.yaml", &config, &errors, fake_env({})));
  for (const auto& e : errors) UNSCOPED_INFO(e);
  CHECK(contains(errors, "env.yaml:2: listeners.udp: environment variable UDP_PORT is not set"));
  CHECK(contains(errors, "env.yaml:3: listeners.http: unterminated reference"));
  CHECK(contains(errors, "env.yaml:5: kafka.brokers: environment variable METERD_BROKERS is not"));
  CHECK(contains(errors, "env.yaml:9: meters[0].eventType: environment variable EVENT_TYPE"));
  CHECK(contains(errors, "env.yaml:6: kafka.max_in_flight: expected a whole number"));
  // The value's own checks (a port, "required") do not repeat the same cause.
  CHECK(errors.size() == 5);
}

TEST_CASE("env: keys stay literal, and a value reached twice by an alias is replaced once",
          "[config]") {
  const char* text = R"(listeners: {udp: 127.0.0.1:7701}
kafka:
  brokers: &b "$${HOME}"
  topic: *b
  properties: {"${KEY}": "${VALUE:-v}"}
meters: [{slug: a, eventType: e, aggregation: COUNT}]
${EXTRA}: 1
)";
  Config config;
  std::vector<std::string> errors;
  REQUIRE_FALSE(load_config_text(text, "k.yaml", &config, &errors, fake_env({{"HOME", "/h"}})));
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("k.yaml:7: ${EXTRA}: unknown key"));
  CHECK(config.kafka.brokers == "${HOME}");
  CHECK(config.kafka.topic == "${HOME}");
  CHECK(config.kafka.properties.at("${KEY}") == "v");
}

TEST_CASE("env: load_config_text reads the process environment by default", "[config]") {
  ::setenv("METERD_CONFIG_TEST_BROKERS", "b1:9092,b2:9092", 1);
  ::unsetenv("METERD_CONFIG_TEST_UNSET");
  std::string text = kValid;
  text.replace(text.find("127.0.0.1:9092"), 14, "${METERD_CONFIG_TEST_BROKERS}");
  Config config;
  std::vector<std::string> errors;
  REQUIRE(load_config_text(text, "p.yaml", &config, &errors));
  CHECK(config.kafka.brokers == "b1:9092,b2:9092");
  text.replace(text.find("edge-1"), 6, "${METERD_CONFIG_TEST_UNSET}");
  REQUIRE_FALSE(load_config_text(text, "p.yaml", &config, &errors));
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("p.yaml:1: agent_id: environment variable "
                                        "METERD_CONFIG_TEST_UNSET is not set"));
  ::unsetenv("METERD_CONFIG_TEST_BROKERS");
}

// ---- listeners.admin, log:, kafka.dead_letter_topic ----

TEST_CASE("config: the new keys' defaults", "[config]") {
  Config config;
  std::vector<std::string> errors;
  REQUIRE(load_config_text(kValid, "test.yaml", &config, &errors));
  CHECK_FALSE(config.listeners.admin);
  CHECK(config.log.format == "text");
  CHECK(config.log.level == "info");
  CHECK(config.kafka.dead_letter_topic == "meter-dead-letters");
}

TEST_CASE("config: listeners.admin, log and kafka.dead_letter_topic load", "[config]") {
  std::string text = std::string(kValid) + R"(log:
  format: json
  level: warn
)";
  text.replace(text.find("  udp: 127.0.0.1:7701\n"), 0, "  admin: 127.0.0.1:7703\n");
  text.replace(text.find("  topic: meter-windows\n"), 0, "  dead_letter_topic: dlq\n");
  Config config;
  std::vector<std::string> errors;
  REQUIRE(load_config_text(text, "test.yaml", &config, &errors));
  REQUIRE(config.listeners.admin);
  CHECK(config.listeners.admin->host == "127.0.0.1");
  CHECK(config.listeners.admin->port == 7703);
  CHECK(config.log.format == "json");
  CHECK(config.log.level == "warn");
  CHECK(config.kafka.dead_letter_topic == "dlq");
}

TEST_CASE("config: the admin endpoint is not an ingest listener", "[config]") {
  std::string text = kValid;
  text.replace(text.find("udp: 127.0.0.1:7701"), 19, "admin: 127.0.0.1:7703");
  Config config;
  std::vector<std::string> errors;
  REQUIRE_FALSE(load_config_text(text, "a.yaml", &config, &errors));
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("listeners: at least one of udp, unix_datagram"));
  CHECK_THAT(errors[0], Catch::Contains("admin is not an ingest listener"));
}

TEST_CASE("config: bad admin endpoint, log values and dead-letter topic are errors", "[config]") {
  std::string text = std::string(kValid) + R"(log:
  format: xml
  level: verbose
  colour: true
)";
  text.replace(text.find("  udp: 127.0.0.1:7701\n"), 0, "  admin: localhost\n");
  text.replace(text.find("  topic: meter-windows\n"), 0, "  dead_letter_topic: \"\"\n");
  Config config;
  std::vector<std::string> errors;
  REQUIRE_FALSE(load_config_text(text, "b.yaml", &config, &errors));
  for (const auto& e : errors) UNSCOPED_INFO(e);
  CHECK(contains(errors, "b.yaml:3: listeners.admin: expected HOST:PORT"));
  CHECK(contains(errors, "b.yaml:13: kafka.dead_letter_topic: must not be empty"));
  CHECK(contains(errors, "log.format: 'xml' is not one of text, json"));
  CHECK(contains(errors, "log.level: 'verbose' is not one of trace, debug, info, warn, error"));
  CHECK(contains(errors, "log.colour: unknown key"));
  CHECK(errors.size() == 5);
  std::vector<std::string> not_a_map;
  REQUIRE_FALSE(load_config_text(std::string(kValid) + "log: json\n", "c.yaml", &config,
                                 &not_a_map));
  CHECK(contains(not_a_map, "log: must be a mapping"));
}
