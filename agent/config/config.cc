// Reads and validates meterd's YAML config with yaml-cpp (see config.h for the contract).
//
// Validation follows OpenMeter where meters are concerned: slugs unique, `valueProperty`
// required except for COUNT and refused for COUNT, group names matching
// ^[a-zA-Z_][0-9a-zA-Z_]*$, paths starting with `$`. One key is ours, not OpenMeter's:
// `cardinalityLimit`, optional, so pasted OpenMeter definitions load unchanged.
#include "agent/config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "agent/config/env_interpolation.h"

namespace meterd {
namespace {

class ConfigReader {
 public:
  // `reported`: keys whose value already has an error (an environment reference that failed),
  // so the value's further checks do not report the same cause again.
  ConfigReader(std::string name, std::vector<std::string>* errors, std::set<std::string> reported)
      : name_(std::move(name)), errors_(errors), reported_(std::move(reported)) {}

  void read(const YAML::Node& root, Config* config);

 private:
  void error(const YAML::Node& node, const std::string& key, const std::string& reason) {
    if (reported_.count(key) != 0) return;
    int line = node.IsDefined() ? node.Mark().line + 1 : 0;
    errors_->push_back(line > 0 ? fmt::format("{}:{}: {}: {}", name_, line, key, reason)
                                : fmt::format("{}: {}: {}", name_, key, reason));
  }

  // Reports every key of `map` not in `allowed`; false if `map` is not a mapping.
  bool check_map(const YAML::Node& map, const std::string& key,
                 std::initializer_list<std::string_view> allowed) {
    if (!map.IsMap()) {
      error(map, key.empty() ? "(top level)" : key, "must be a mapping");
      return false;
    }
    for (const auto& entry : map) {
      auto name = entry.first.as<std::string>();
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        error(entry.first, join(key, name), "unknown key");
      }
    }
    return true;
  }

  static std::string join(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
  }

  bool scalar(const YAML::Node& node, const std::string& key, std::string* out) {
    if (!node.IsScalar()) {
      error(node, key, "must be a single value");
      return false;
    }
    *out = node.Scalar();
    return true;
  }

  void duration(const YAML::Node& parent, const std::string& prefix, const char* key,
                int64_t* ms) {
    YAML::Node node = parent[key];
    std::string text;
    if (!node.IsDefined() || !scalar(node, join(prefix, key), &text)) return;
    if (!parse_duration_ms(text, ms) || *ms <= 0) {
      error(node, join(prefix, key), "expected a positive duration such as 200ms, 10s, 1m, 24h");
    }
  }

  // A non-negative whole number (of rows, records, ...).
  void count(const YAML::Node& parent, const std::string& prefix, const char* key, int64_t* out) {
    YAML::Node node = parent[key];
    if (!node.IsDefined()) return;
    try {
      *out = node.as<int64_t>();
      if (*out < 0) error(node, join(prefix, key), "must not be negative");
    } catch (const YAML::Exception&) {
      error(node, join(prefix, key), "expected a whole number");
    }
  }

  // A byte count: a plain number or one with a KiB/MiB/GiB suffix.
  void size(const YAML::Node& parent, const std::string& prefix, const char* key, int64_t* bytes) {
    YAML::Node node = parent[key];
    std::string text;
    if (!node.IsDefined() || !scalar(node, join(prefix, key), &text)) return;
    static const std::regex kSize("^([0-9]{1,12})\\s*(KiB|MiB|GiB)?$");
    std::smatch match;
    if (!std::regex_match(text, match, kSize)) {
      error(node, join(prefix, key), "expected a size such as 65536, 64KiB or 8MiB");
      return;
    }
    int64_t unit = match[2] == "KiB"   ? 1024
                   : match[2] == "MiB" ? 1 << 20
                   : match[2] == "GiB" ? 1 << 30
                                       : 1;
    *bytes = std::stoll(match[1]) * unit;
    if (*bytes <= 0) error(node, join(prefix, key), "must be positive");
  }

  void endpoint(const YAML::Node& node, const std::string& key, std::optional<Endpoint>* out);
  void read_listeners(const YAML::Node& node, Config* config);
  void read_buffer(const YAML::Node& node, Config* config);
  void read_windows(const YAML::Node& node, Config* config);
  void read_kafka(const YAML::Node& node, Config* config);
  void read_log(const YAML::Node& node, Config* config);
  void one_of(const YAML::Node& parent, const std::string& prefix, const char* key,
              std::initializer_list<std::string_view> allowed, std::string* out);
  void read_meters(const YAML::Node& node, Config* config);
  void read_meter(const YAML::Node& node, const std::string& key, MeterConfig* meter);
  void path(const YAML::Node& node, const std::string& key, JsonPath* out);
  void positive(const YAML::Node& node, const std::string& key, int64_t* out);

  std::string name_;
  std::vector<std::string>* errors_;
  std::set<std::string> reported_;
};

void ConfigReader::read(const YAML::Node& root, Config* config) {
  if (!check_map(root, "", {"agent_id", "listeners", "buffer", "windows", "kafka",
                            "log", "meters", "shutdown_timeout"})) {
    return;
  }
  if (root["agent_id"]) scalar(root["agent_id"], "agent_id", &config->agent_id);
  if (root["listeners"]) read_listeners(root["listeners"], config);
  else error(root, "listeners", "required: at least one listener");
  if (root["buffer"]) read_buffer(root["buffer"], config);
  if (root["windows"]) read_windows(root["windows"], config);
  if (root["kafka"]) read_kafka(root["kafka"], config);
  else error(root, "kafka", "required");
  if (root["log"]) read_log(root["log"], config);
  duration(root, "", "shutdown_timeout", &config->shutdown_timeout_ms);
  if (root["meters"]) read_meters(root["meters"], config);
  else error(root, "meters", "required: at least one meter");
}

void ConfigReader::endpoint(const YAML::Node& node, const std::string& key,
                            std::optional<Endpoint>* out) {
  std::string text;
  if (!scalar(node, key, &text)) return;
  size_t colon = text.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0) {
    error(node, key, "expected HOST:PORT, such as 127.0.0.1:7701");
    return;
  }
  try {
    size_t used = 0;
    port = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port <= 0 || port > 65535) {
    error(node, key, "port must be a number from 1 to 65535");
    return;
  }
  *out = Endpoint{text.substr(0, colon), static_cast<uint16_t>(port)};
}

void ConfigReader::read_listeners(const YAML::Node& node, Config* config) {
  if (!check_map(node, "listeners",
                 {"udp", "unix_datagram", "unix_stream", "http", "admin", "receive_buffer",
                  "unix_mode", "unix_group", "http_max_body", "stream_max_line",
                  "idle_timeout"})) {
    return;
  }
  Config::Listeners& listeners = config->listeners;
  if (node["udp"]) endpoint(node["udp"], "listeners.udp", &listeners.udp);
  if (node["http"]) endpoint(node["http"], "listeners.http", &listeners.http);
  // The admin endpoint is not an ingest listener: alone it does not satisfy the check below.
  if (node["admin"]) endpoint(node["admin"], "listeners.admin", &listeners.admin);
  if (node["unix_datagram"]) {
    scalar(node["unix_datagram"], "listeners.unix_datagram", &listeners.unix_datagram);
  }
  if (node["unix_stream"]) {
    scalar(node["unix_stream"], "listeners.unix_stream", &listeners.unix_stream);
  }
  if (!node["udp"] && !node["unix_datagram"] && !node["unix_stream"] && !node["http"]) {
    error(node, "listeners",
          fmt::format("at least one of udp, unix_datagram, unix_stream, http is required{}",
                      node["admin"] ? " (admin is not an ingest listener)" : ""));
  }
  int64_t receive_buffer = listeners.receive_buffer_bytes;
  size(node, "listeners", "receive_buffer", &receive_buffer);
  listeners.receive_buffer_bytes = static_cast<int>(std::min<int64_t>(receive_buffer, 1 << 30));
  size(node, "listeners", "http_max_body", &listeners.http_max_body_bytes);
  size(node, "listeners", "stream_max_line", &listeners.stream_max_line_bytes);
  duration(node, "listeners", "idle_timeout", &listeners.idle_timeout_ms);
  if (YAML::Node mode = node["unix_mode"]) {
    std::string text;
    if (scalar(mode, "listeners.unix_mode", &text)) {
      char* end = nullptr;
      unsigned long value = std::strtoul(text.c_str(), &end, 8);
      if (text.empty() || *end != '\0' || value > 0777) {
        error(mode, "listeners.unix_mode", "expected an octal file mode such as \"0660\"");
      } else {
        listeners.unix_mode = static_cast<unsigned>(value);
      }
    }
  }
  if (node["unix_group"]) scalar(node["unix_group"], "listeners.unix_group", &listeners.unix_group);
}

void ConfigReader::read_buffer(const YAML::Node& node, Config* config) {
  if (!check_map(node, "buffer",
                 {"path", "commit_interval", "dead_letter_limit", "dedup_window", "max_size",
                  "dedup_max_size", "coarsen_at"})) {
    return;
  }
  count(node, "buffer", "coarsen_at", &config->buffer.coarsen_at_rows);
  size(node, "buffer", "max_size", &config->buffer.max_size_bytes);
  size(node, "buffer", "dedup_max_size", &config->buffer.dedup_max_size_bytes);
  duration(node, "buffer", "dedup_window", &config->buffer.dedup_window_ms);
  if (node["path"]) scalar(node["path"], "buffer.path", &config->buffer.path);
  duration(node, "buffer", "commit_interval", &config->buffer.commit_interval_ms);
  count(node, "buffer", "dead_letter_limit", &config->buffer.dead_letter_limit);
}

void ConfigReader::read_windows(const YAML::Node& node, Config* config) {
  if (!check_map(node, "windows", {"size", "grace", "max_lateness", "max_future",
                                   "max_series_per_meter", "partials_every"})) {
    return;
  }
  int64_t size_ms = config->windows.size_s * 1000;
  duration(node, "windows", "size", &size_ms);
  if (node["size"] && size_ms != 60'000 && size_ms != 300'000 && size_ms != 900'000 &&
      size_ms != 3'600'000) {
    error(node["size"], "windows.size", "must be 1m, 5m, 15m or 1h");
  } else {
    config->windows.size_s = size_ms / 1000;
  }
  duration(node, "windows", "grace", &config->windows.grace_ms);
  duration(node, "windows", "max_lateness", &config->windows.max_lateness_ms);
  duration(node, "windows", "max_future", &config->windows.max_future_ms);
  duration(node, "windows", "partials_every", &config->windows.partials_every_ms);
  if (node["max_series_per_meter"]) {
    positive(node["max_series_per_meter"], "windows.max_series_per_meter",
             &config->windows.max_series_per_meter);
  }
}

void ConfigReader::positive(const YAML::Node& node, const std::string& key, int64_t* out) {
  try {
    int64_t value = node.as<int64_t>();
    if (value > 0) {
      *out = value;
      return;
    }
  } catch (const YAML::Exception&) {
  }
  error(node, key, "expected a positive whole number");
}

void ConfigReader::read_kafka(const YAML::Node& node, Config* config) {
  if (!check_map(node, "kafka",
                 {"brokers", "topic", "properties", "max_in_flight", "dead_letter_topic"})) {
    return;
  }
  count(node, "kafka", "max_in_flight", &config->kafka.max_in_flight);
  if (config->kafka.max_in_flight <= 0) error(node, "kafka.max_in_flight", "must be positive");
  if (node["brokers"]) scalar(node["brokers"], "kafka.brokers", &config->kafka.brokers);
  if (config->kafka.brokers.empty()) error(node, "kafka.brokers", "required");
  if (node["topic"]) scalar(node["topic"], "kafka.topic", &config->kafka.topic);
  if (config->kafka.topic.empty()) error(node, "kafka.topic", "must not be empty");
  if (node["dead_letter_topic"]) {
    scalar(node["dead_letter_topic"], "kafka.dead_letter_topic", &config->kafka.dead_letter_topic);
  }
  if (config->kafka.dead_letter_topic.empty()) {
    error(node["dead_letter_topic"], "kafka.dead_letter_topic", "must not be empty");
  }
  if (YAML::Node properties = node["properties"]) {
    if (!properties.IsMap()) {
      error(properties, "kafka.properties", "must be a mapping of librdkafka properties");
      return;
    }
    for (const auto& entry : properties) {
      std::string value;
      auto name = entry.first.as<std::string>();
      if (scalar(entry.second, "kafka.properties." + name, &value)) {
        config->kafka.properties[name] = value;
      }
    }
  }
}

// A value from a fixed set of words, such as log.format.
void ConfigReader::one_of(const YAML::Node& parent, const std::string& prefix, const char* key,
                          std::initializer_list<std::string_view> allowed, std::string* out) {
  YAML::Node node = parent[key];
  std::string text;
  if (!node.IsDefined() || !scalar(node, join(prefix, key), &text)) return;
  if (std::find(allowed.begin(), allowed.end(), text) != allowed.end()) {
    *out = text;
    return;
  }
  std::string words;
  for (std::string_view word : allowed) {
    words += fmt::format("{}{}", words.empty() ? "" : ", ", word);
  }
  error(node, join(prefix, key), fmt::format("'{}' is not one of {}", text, words));
}

void ConfigReader::read_log(const YAML::Node& node, Config* config) {
  if (!check_map(node, "log", {"format", "level"})) return;
  one_of(node, "log", "format", {"text", "json"}, &config->log.format);
  one_of(node, "log", "level", {"trace", "debug", "info", "warn", "error"}, &config->log.level);
}

void ConfigReader::read_meters(const YAML::Node& node, Config* config) {
  if (!node.IsSequence() || node.size() == 0) {
    error(node, "meters", "must be a non-empty list of meter definitions");
    return;
  }
  std::set<std::string> slugs;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string key = fmt::format("meters[{}]", i);
    MeterConfig meter;
    read_meter(node[i], key, &meter);
    if (!meter.slug.empty() && !slugs.insert(meter.slug).second) {
      error(node[i]["slug"], key + ".slug", fmt::format("duplicate slug '{}'", meter.slug));
    }
    config->meters.push_back(std::move(meter));
  }
}

void ConfigReader::path(const YAML::Node& node, const std::string& key, JsonPath* out) {
  std::string text, why;
  if (scalar(node, key, &text) && !JsonPath::compile(text, out, &why)) error(node, key, why);
}

void ConfigReader::read_meter(const YAML::Node& node, const std::string& key, MeterConfig* meter) {
  if (!check_map(node, key, {"slug", "description", "eventType", "aggregation", "valueProperty",
                             "groupBy", "windowSize", "cardinalityLimit"})) {
    return;
  }
  static const std::regex kSlug("^[a-z0-9]+(?:[_-][a-z0-9]+)*$", std::regex::icase);
  static const std::regex kGroupName("^[a-zA-Z_][0-9a-zA-Z_]*$");
  if (node["slug"] && scalar(node["slug"], key + ".slug", &meter->slug)) {
    if (!std::regex_match(meter->slug, kSlug)) {
      error(node["slug"], key + ".slug", "use letters, digits, '_' and '-'");
    }
  } else if (!node["slug"]) {
    error(node, key + ".slug", "required");
  }
  if (node["description"]) scalar(node["description"], key + ".description", &meter->description);
  if (node["eventType"]) scalar(node["eventType"], key + ".eventType", &meter->event_type);
  if (meter->event_type.empty()) error(node, key + ".eventType", "required");

  static const std::map<std::string, Aggregation> kAggregations = {
      {"SUM", Aggregation::kSum}, {"COUNT", Aggregation::kCount}, {"AVG", Aggregation::kAvg},
      {"MIN", Aggregation::kMin}, {"MAX", Aggregation::kMax},     {"LATEST", Aggregation::kLatest},
      {"UNIQUE_COUNT", Aggregation::kUniqueCount}};
  std::string aggregation;
  if (!node["aggregation"]) {
    error(node, key + ".aggregation", "required");
  } else if (scalar(node["aggregation"], key + ".aggregation", &aggregation)) {
    auto found = kAggregations.find(aggregation);
    if (found == kAggregations.end()) {
      error(node["aggregation"], key + ".aggregation",
            fmt::format("'{}' is not supported; use SUM, COUNT, AVG, MIN, MAX, LATEST or "
                        "UNIQUE_COUNT",
                        aggregation));
    } else {
      meter->aggregation = found->second;
    }
  }

  bool is_count = aggregation == "COUNT";
  if (YAML::Node value = node["valueProperty"]) {
    if (is_count) {
      error(value, key + ".valueProperty", "must not be set for COUNT");
    } else {
      meter->value_property.emplace();
      path(value, key + ".valueProperty", &*meter->value_property);
    }
  } else if (!is_count && !aggregation.empty()) {
    error(node, key + ".valueProperty", "required for " + aggregation);
  }

  if (node["cardinalityLimit"]) {
    positive(node["cardinalityLimit"], key + ".cardinalityLimit", &meter->cardinality_limit);
  }

  if (YAML::Node groups = node["groupBy"]) {
    if (!groups.IsMap()) {
      error(groups, key + ".groupBy", "must be a mapping of group name to JSONPath");
      return;
    }
    for (const auto& entry : groups) {
      auto name = entry.first.as<std::string>();
      std::string group_key = key + ".groupBy." + name;
      if (!std::regex_match(name, kGroupName)) {
        error(entry.first, group_key, "group names must match ^[a-zA-Z_][0-9a-zA-Z_]*$");
      }
      JsonPath group_path;
      path(entry.second, group_key, &group_path);
      meter->group_by.emplace_back(name, std::move(group_path));
    }
    std::sort(meter->group_by.begin(), meter->group_by.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  }
}

}  // namespace

bool parse_duration_ms(const std::string& text, int64_t* ms) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 12) return false;
  int64_t number = std::stoll(text.substr(0, digits));
  static const std::map<std::string, int64_t> kUnits = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  auto unit = kUnits.find(text.substr(digits));
  if (unit == kUnits.end()) return false;
  *ms = number * unit->second;
  return true;
}

bool load_config_text(const std::string& text, const std::string& name, Config* config,
                      std::vector<std::string>* errors, const EnvLookup& env) {
  *config = Config{};
  errors->clear();
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    errors->push_back(fmt::format("{}:{}: {}", name, e.mark.line + 1, e.msg));
    return false;
  }
  // References are replaced before any value is read; a value whose reference failed is
  // reported once, here, and its key's other checks are skipped (ConfigReader's `reported`).
  std::vector<EnvProblem> problems;
  interpolate_env_in_tree(root, env, &problems);
  std::set<std::string> reported;
  for (const EnvProblem& p : problems) {
    errors->push_back(p.line > 0 ? fmt::format("{}:{}: {}: {}", name, p.line, p.key, p.reason)
                                 : fmt::format("{}: {}: {}", name, p.key, p.reason));
    reported.insert(p.key);
  }
  try {
    ConfigReader(name, errors, std::move(reported)).read(root, config);
  } catch (const YAML::Exception& e) {
    errors->push_back(fmt::format("{}:{}: {}", name, e.mark.line + 1, e.msg));
  }
  return errors->empty();
}

bool load_config_file(const std::string& path, Config* config, std::vector<std::string>* errors,
                      const EnvLookup& env) {
  std::ifstream file(path);
  if (!file) {
    errors->assign(1, fmt::format("{}: cannot read the file", path));
    return false;
  }
  std::stringstream text;
  text << file.rdbuf();
  return load_config_text(text.str(), path, config, errors, env);
}

}  // namespace meterd
