// Config: meterd's YAML configuration, loaded and validated in full before anything starts.
//
// Every problem is collected (file, line, key, reason) and reported at once, so a user fixes a
// config in one round; start-up then fails with a non-zero exit. Unknown keys are errors too:
// a typo must not silently fall back to a default.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <sys/types.h>
#include <string>
#include <utility>
#include <vector>

#include "agent/config/env_interpolation.h"
#include "agent/config/listener_config.h"
#include "agent/decode/json_path.h"

namespace meterd {

enum class Aggregation { kSum, kCount, kAvg, kMin, kMax, kLatest, kUniqueCount };

struct MeterConfig {
  std::string slug;
  std::string description;
  std::string event_type;
  Aggregation aggregation = Aggregation::kSum;
  std::optional<JsonPath> value_property;                 // absent for COUNT
  std::vector<std::pair<std::string, JsonPath>> group_by;  // sorted by name
  // Most distinct series (subject and group values) one window may hold; 0: the global
  // windows.max_series_per_meter. Events that would open one more become dead letters.
  int64_t cardinality_limit = 0;
};

struct Config {
  std::string agent_id;  // empty: the buffer's own (host name when it was created)

  using Listeners = ListenerConfig;
  ListenerConfig listeners;

  struct Buffer {
    std::string path = "/var/lib/meterd/buffer.db";
    int64_t commit_interval_ms = 200;
    int64_t dead_letter_limit = 10'000;
    int64_t dedup_window_ms = 24 * 3600 * 1000LL;
    int64_t max_size_bytes = 1LL << 30;  // 1 GiB of usage (windows, outbox, dead letters)
    int64_t dedup_max_size_bytes = 256LL << 20;  // the dedup keys' own bound
    int64_t coarsen_at_rows = 1'000'000;  // outbox rows; 0: never coarsen
  } buffer;

  struct Windows {
    int64_t size_s = 60;
    int64_t grace_ms = 10'000;
    int64_t max_lateness_ms = 7 * 24 * 3600 * 1000LL;
    int64_t max_future_ms = 5 * 60 * 1000;
    int64_t max_series_per_meter = 100'000;  // per window; a meter's cardinalityLimit overrides
    int64_t partials_every_ms = 0;           // 0: windows are sent when they close, not before
  } windows;

  struct Kafka {
    std::string brokers;
    std::string topic = "meter-windows";
    std::map<std::string, std::string> properties;
    int64_t max_in_flight = 50'000;  // records handed to librdkafka and not yet confirmed
    std::string dead_letter_topic = "meter-dead-letters";  // every dead letter, for the center
  } kafka;

  struct Log {
    std::string format = "text";  // text or json (one object a line)
    std::string level = "info";   // trace, debug, info, warn, error
  } log;

  int64_t shutdown_timeout_ms = 10'000;
  std::vector<MeterConfig> meters;
};

// Loads `path`. On failure `errors` holds one line per problem: "FILE:LINE: KEY: REASON".
// `${VAR}`, `${VAR:-default}` and `$$` in values are replaced from `env` first
// (env_interpolation.h has the rules); an unset variable is one of the errors.
bool load_config_file(const std::string& path, Config* config, std::vector<std::string>* errors,
                      const EnvLookup& env = process_env());
// Same for YAML text; `name` stands for the file in messages.
bool load_config_text(const std::string& text, const std::string& name, Config* config,
                      std::vector<std::string>* errors, const EnvLookup& env = process_env());

// Parses "200ms", "10s", "1m", "24h", "7d"; false if malformed.
bool parse_duration_ms(const std::string& text, int64_t* ms);

}  // namespace meterd
