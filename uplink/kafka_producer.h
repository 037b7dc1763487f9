// KafkaProducer: the RecordProducer that sends records to Kafka with librdkafka.
//
// It owns the rd_kafka_t and sets the properties the delivery guarantee rests on
// (enable.idempotence=true, acks=all, which the user's properties cannot override; see
// uplink/FORMAT.md). librdkafka's delivery callbacks run inside poll() and become
// DeliveryReports; its log lines go to the agent's log. Window records go to `topic`, dead letters
// to `dead_letter_topic`, from the one rd_kafka_t. Whether a broker is up comes from librdkafka's
// statistics (every second, each broker's connection state) and its error callback (every broker
// down), both served inside poll().
//
// Threading: one thread makes every call (RecordProducer's contract). Destroying it drops the
// records it still holds, unreported: their rows are still in the buffer and are sent again.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>

#include "buffer/base/log_limiter.h"
#include "uplink/record_producer.h"

namespace meterd {

struct KafkaProducerOptions {
  std::string brokers;
  std::string topic;
  std::string dead_letter_topic;
  std::map<std::string, std::string> properties;  // passed to librdkafka as they are
};

class KafkaProducer final : public RecordProducer {
 public:
  static Status create(const KafkaProducerOptions& options, std::unique_ptr<RecordProducer>* out);
  ~KafkaProducer() override = default;
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  ProduceOutcome produce(RecordKind kind, std::string_view key, std::string_view payload,
                         int64_t seq, std::string* error) override;
  void poll(std::chrono::milliseconds timeout, std::vector<DeliveryReport>* reports) override;
  bool failed(std::string* reason) override;
  BrokerState take_broker_state() override;

 private:
  struct HandleDeleter {
    void operator()(rd_kafka_t* rk) const;
  };

  explicit KafkaProducer(const KafkaProducerOptions& options)
      : topic_(options.topic), dead_letter_topic_(options.dead_letter_topic) {}
  Status make_handle(const KafkaProducerOptions& options);
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  static int on_statistics(rd_kafka_t* rk, char* json, size_t json_len, void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  std::string topic_;
  std::string dead_letter_topic_;
  // Set by the callbacks inside poll(), read by take_broker_state(): the uplink thread only.
  BrokerState broker_;
  // Broker errors repeat every reconnect in an outage: a few lines, then one per 10 s.
  LogLimiter error_log_{10'000, 3};
  // Where on_delivery puts reports: set only while poll() runs, so reports of records purged
  // when the handle is destroyed go nowhere.
  std::vector<DeliveryReport>* reports_ = nullptr;
  // Last, so it is destroyed first, while the members its callbacks use still exist.
  std::unique_ptr<rd_kafka_t, HandleDeleter> handle_;
};

}  // namespace meterd
