// topic_dump: prints every message of one Kafka topic, for tests that check what the agent sent.
// It assigns all partitions from the beginning (no group membership, no offset commits, so it can
// be run any number of times and never disturbs another reader) and stops when each partition has
// reported end-of-partition once; what arrives later is not its business.
//
// Usage: topic_dump --brokers LIST --topic T [--timeout-ms 30000]
// Output: one line per message, `<partition>\t<offset>\t<key>\t<value>`, key and value printed
// verbatim (keys are hex idempotency keys, values single-line JSON records; a value holding a
// newline would break the line format, which the harness then reports as a broken record).
// Exit status 0 when every partition reached its end, 1 on timeout or error (reason on stderr),
// 2 on bad usage.

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* metadata) const {
    rd_kafka_metadata_destroy(metadata);
  }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

struct Options {
  std::string brokers;
  std::string topic;
  int timeout_ms = 30000;
};

std::optional<Options> parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view arg = argv[i];
    if (arg == "--brokers") {
      options.brokers = argv[i + 1];
    } else if (arg == "--topic") {
      options.topic = argv[i + 1];
    } else if (arg == "--timeout-ms") {
      options.timeout_ms = std::atoi(argv[i + 1]);
    } else {
      return std::nullopt;
    }
  }
  if (argc % 2 == 0 || options.brokers.empty() || options.topic.empty() || options.timeout_ms <= 0)
    return std::nullopt;
  return options;
}

KafkaHandle make_consumer(const Options& options) {
  std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
  char errstr[512];
  // librdkafka 2.0.2 refuses assign() without a group.id, so each run names a group of its own;
  // the group is never joined (no subscribe) and nothing is committed to it.
  std::string group = "topic_dump-" + std::to_string(getpid());
  const std::pair<const char*, const char*> settings[] = {
      {"bootstrap.servers", options.brokers.c_str()},
      {"group.id", group.c_str()},
      {"enable.partition.eof", "true"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      // Tests bring brokers back after outages; the default 10 s reconnect backoff would make the
      // tool lag the broker by up to that long, so tests would wait for nothing.
      {"reconnect.backoff.max.ms", "1000"},
      // An empty partition reports its end only after a fetch comes back empty; the defaults
      // (500 ms wait, 500 ms backoff after the first fetch errors) made every dump last 1.5 s.
      {"fetch.wait.max.ms", "100"},
      {"fetch.error.backoff.ms", "100"},
  };
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf.get(), name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "topic_dump: %s\n", errstr);
      return nullptr;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr));
  if (!rk) {
    std::fprintf(stderr, "topic_dump: rd_kafka_new: %s\n", errstr);
    return nullptr;
  }
  conf.release();  // rd_kafka_new took ownership on success
  rd_kafka_poll_set_consumer(rk);
  return KafkaHandle(rk);
}

// Asks the cluster how many partitions the topic has; 0 means it does not exist (or the cluster
// could not be reached in time), which the caller reports. It lists all topics instead of asking
// for this one because a request naming a topic makes the mock cluster create it.
int partition_count(rd_kafka_t* rk, const std::string& topic_name, int timeout_ms) {
  const rd_kafka_metadata_t* raw = nullptr;
  auto err = rd_kafka_metadata(rk, 1, nullptr, &raw, timeout_ms);
  if (err) {
    std::fprintf(stderr, "topic_dump: metadata: %s\n", rd_kafka_err2str(err));
    return 0;
  }
  std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter> metadata(raw);
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const auto& topic = metadata->topics[i];
    if (topic_name != topic.topic) continue;
    if (topic.err) {
      std::fprintf(stderr, "topic_dump: topic %s: %s\n", topic.topic, rd_kafka_err2str(topic.err));
      return 0;
    }
    return topic.partition_cnt;
  }
  std::fprintf(stderr, "topic_dump: no topic %s\n", topic_name.c_str());
  return 0;
}

bool assign_all(rd_kafka_t* rk, const std::string& topic, int partitions) {
  std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> list(
      rd_kafka_topic_partition_list_new(partitions));
  for (int32_t p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  auto err = rd_kafka_assign(rk, list.get());
  if (err) std::fprintf(stderr, "topic_dump: assign: %s\n", rd_kafka_err2str(err));
  return !err;
}

std::string_view bytes(const void* data, size_t len) {
  return data ? std::string_view(static_cast<const char*>(data), len) : std::string_view();
}

using Deadline = std::chrono::steady_clock::time_point;

// Consumes until every partition has hit its end once. Returns the exit status.
int dump(rd_kafka_t* rk, int partitions, Deadline deadline) {
  std::vector<bool> at_end(partitions, false);
  int remaining = partitions;
  while (remaining > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      std::fprintf(stderr, "topic_dump: timed out with %d of %d partitions not at their end\n",
                   remaining, partitions);
      return 1;
    }
    Message message(rd_kafka_consumer_poll(rk, static_cast<int>(std::min<long long>(left, 200))));
    if (!message) continue;
    int32_t partition = message->partition;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (partition >= 0 && partition < partitions && !at_end[partition]) {
        at_end[partition] = true;
        --remaining;
      }
      continue;
    }
    if (message->err) {
      // Transport errors are reported but retried by librdkafka itself; the deadline bounds them.
      std::fprintf(stderr, "topic_dump: %s\n", rd_kafka_message_errstr(message.get()));
      continue;
    }
    auto key = bytes(message->key, message->key_len);
    auto value = bytes(message->payload, message->len);
    std::printf("%d\t%lld\t%.*s\t%.*s\n", partition, static_cast<long long>(message->offset),
                static_cast<int>(key.size()), key.data(), static_cast<int>(value.size()),
                value.data());
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  auto options = parse_options(argc, argv);
  if (!options) {
    std::fprintf(stderr, "usage: topic_dump --brokers LIST --topic T [--timeout-ms 30000]\n");
    return 2;
  }
  // One deadline covers connecting, the metadata request and the reading.
  Deadline deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options->timeout_ms);
  KafkaHandle consumer = make_consumer(*options);
  if (!consumer) return 1;
  int partitions = partition_count(consumer.get(), options->topic, options->timeout_ms);
  if (partitions <= 0 || !assign_all(consumer.get(), options->topic, partitions)) return 1;
  int status = dump(consumer.get(), partitions, deadline);
  rd_kafka_consumer_close(consumer.get());
  return status;
}
