// topic_produce: writes keyed records read from stdin to a Kafka topic, so ClickHouse tests can
// put records on the topic without running the agent. The producer is idempotent like the agent's,
// so a test sees the same broker-side behaviour; the tool returns only once every record has a
// delivery report, and fails if any report was an error.
//
// Usage: topic_produce --brokers LIST --topic T [--timeout-ms 60000]
// Input: lines `<key>\t<value>`; an empty key produces a record without a key. The value is sent
// byte for byte (the line's trailing newline excluded).
// Exit status 0 when every record was delivered, 1 when any failed or input was malformed (reasons
// on stderr), 2 on bad usage. --timeout-ms bounds how long one record may wait for delivery.

#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct Options {
  std::string brokers;
  std::string topic;
  int timeout_ms = 60000;
};

// Counts delivery outcomes; written only from rd_kafka_poll/flush on the main thread.
struct DeliveryTally {
  long delivered = 0;
  long failed = 0;
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

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* tally = static_cast<DeliveryTally*>(opaque);
  if (message->err) {
    ++tally->failed;
    std::fprintf(stderr, "topic_produce: delivery failed: %s\n", rd_kafka_err2str(message->err));
  } else {
    ++tally->delivered;
  }
}

KafkaHandle make_producer(const Options& options, DeliveryTally& tally) {
  std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
  char errstr[512];
  std::string timeout = std::to_string(options.timeout_ms);
  const std::pair<const char*, const char*> settings[] = {
      {"bootstrap.servers", options.brokers.c_str()},
      {"enable.idempotence", "true"},
      {"message.timeout.ms", timeout.c_str()},
      // Tests bring brokers back after outages; the default 10 s reconnect backoff would make the
      // tool lag the broker by up to that long, so tests would wait for nothing.
      {"reconnect.backoff.max.ms", "1000"},
  };
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf.get(), name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "topic_produce: %s\n", errstr);
      return nullptr;
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf.get(), on_delivery);
  rd_kafka_conf_set_opaque(conf.get(), &tally);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr));
  if (!rk) {
    std::fprintf(stderr, "topic_produce: rd_kafka_new: %s\n", errstr);
    return nullptr;
  }
  conf.release();  // rd_kafka_new took ownership on success
  return KafkaHandle(rk);
}

// Enqueues one record, waiting for room while librdkafka's local queue is full.
bool produce_one(rd_kafka_t* rk, const std::string& topic, std::string_view key,
                 std::string_view value) {
  for (;;) {
    auto err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_KEY(key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 100);
      continue;
    }
    if (err) std::fprintf(stderr, "topic_produce: produce: %s\n", rd_kafka_err2str(err));
    return !err;
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto options = parse_options(argc, argv);
  if (!options) {
    std::fprintf(stderr, "usage: topic_produce --brokers LIST --topic T [--timeout-ms 60000]\n");
    return 2;
  }
  DeliveryTally tally;
  KafkaHandle producer = make_producer(*options, tally);
  if (!producer) return 1;

  long sent = 0;
  bool input_ok = true;
  long line_number = 0;
  for (std::string line; std::getline(std::cin, line);) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto tab = line.find('\t');
    if (tab == std::string::npos) {
      std::fprintf(stderr, "topic_produce: line %ld has no tab\n", line_number);
      input_ok = false;
      break;
    }
    std::string_view text(line);
    if (!produce_one(producer.get(), options->topic, text.substr(0, tab), text.substr(tab + 1))) {
      input_ok = false;
      break;
    }
    ++sent;
    rd_kafka_poll(producer.get(), 0);  // serve delivery reports as they come
  }

  // message.timeout.ms already bounds every record, so flush ends once each has a report. The
  // margin is generous because a record whose leader is down is expired by a periodic scan: its
  // failure report was seen arriving seconds after message.timeout.ms.
  while (tally.delivered + tally.failed < sent) {
    if (rd_kafka_flush(producer.get(), options->timeout_ms + 30000) ==
        RD_KAFKA_RESP_ERR__TIMED_OUT) {
      std::fprintf(stderr, "topic_produce: %ld records without a delivery report\n",
                   sent - tally.delivered - tally.failed);
      return 1;
    }
  }
  if (tally.failed) std::fprintf(stderr, "topic_produce: %ld of %ld failed\n", tally.failed, sent);
  return input_ok && tally.failed == 0 ? 0 : 1;
}
